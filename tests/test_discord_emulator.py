"""The Discord emulator, proven against the real discord.py client.

A throwaway bot defined here (not citebot) exercises each protocol path the product relies on:
login and command sync, replies, defer + follow-up, buttons, autocomplete, permissions (and an
admin's override of them), attachment options, the rules Discord enforces (payload limits, the
3-second deadline, a single initial response), and a bot run as its own process by the launcher.
"""

from __future__ import annotations

import asyncio
import io
import signal
from collections.abc import AsyncIterator, Sequence

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from discord_emulator import DiscordEmulator, running_emulator
from discord_emulator import launch as launcher
from discord_emulator.launch import launched
from discord_emulator.limits import check_choices, check_commands, check_message

TOPICS = ["python", "pytest", "pydantic", "rust", "sqlite", "discord"]
SETTING_KEYS = ["language", "limit", "channel"]
SUBPROCESS_ENTRY = "tests.test_discord_emulator:_subprocess_bot_main"


class ConfirmView(discord.ui.View):
    """One button; the bot records who clicked so the test can see the callback ran."""

    def __init__(self, bot: ThrowawayBot) -> None:
        super().__init__(timeout=60)
        self.bot = bot

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.primary, custom_id="confirm")
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.bot.clicks.append(interaction.user.id)
        await interaction.response.send_message(
            f"confirmed by {interaction.user.name}", ephemeral=True
        )


@app_commands.command()
async def ping(interaction: discord.Interaction) -> None:
    """Answer pong."""
    await interaction.response.send_message("pong")


@app_commands.command()
async def report(interaction: discord.Interaction) -> None:
    """Defer, then follow up with an embed and a button."""
    await interaction.response.defer(thinking=True)
    embed = discord.Embed(title="Report", description="All systems nominal.")
    embed.add_field(name="Uptime", value="42 days")
    bot = interaction.client
    assert isinstance(bot, ThrowawayBot)
    await interaction.followup.send(embed=embed, view=ConfirmView(bot))


@app_commands.command()
@app_commands.describe(name="A topic to look up")
async def topic(interaction: discord.Interaction, name: str) -> None:
    """Look up a topic (with autocomplete)."""
    await interaction.response.send_message(f"topic: {name}")


@topic.autocomplete("name")
async def _topic_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=t.title(), value=t) for t in TOPICS if t.startswith(current)]


@app_commands.command()
async def shout(interaction: discord.Interaction) -> None:
    """Try a reply over Discord's 2,000-character limit, then fall back to a short one."""
    bot = interaction.client
    assert isinstance(bot, ThrowawayBot)
    try:
        await interaction.response.send_message("A" * 2001)
    except discord.HTTPException as exc:
        bot.failures.put_nowait(exc)
        await interaction.response.send_message("too long", ephemeral=True)


@app_commands.command()
async def slow(interaction: discord.Interaction) -> None:
    """Answer only once the test releases it (to miss the deadline on purpose)."""
    bot = interaction.client
    assert isinstance(bot, ThrowawayBot)
    await bot.release.wait()
    try:
        await interaction.response.send_message("finally")
    except discord.HTTPException as exc:
        bot.failures.put_nowait(exc)


@app_commands.command()
@app_commands.default_permissions(manage_guild=True)
async def settings(interaction: discord.Interaction, key: str | None = None) -> None:
    """Moderators only: report the invoker's Manage Server permission."""
    await interaction.response.send_message(
        f"manage_guild={interaction.permissions.manage_guild}", ephemeral=True
    )


@settings.autocomplete("key")
async def _setting_keys(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    # The bot's own check: a server admin's override may show /settings to anyone.
    if not interaction.permissions.manage_guild:
        return []
    return [app_commands.Choice(name=k, value=k) for k in SETTING_KEYS if k.startswith(current)]


@app_commands.command()
async def inspect(interaction: discord.Interaction, file: discord.Attachment) -> None:
    """Download the attached file and describe it (refusing one over the upload limit)."""
    if file.size > interaction.filesize_limit:
        await interaction.response.send_message(
            f"too big: {file.size} > {interaction.filesize_limit}", ephemeral=True
        )
        return
    data = await file.read()
    await interaction.response.send_message(
        f"{file.filename}: {len(data)} bytes, {file.content_type}, starts {data[:7]!r}"
    )


@app_commands.command()
async def export(interaction: discord.Interaction) -> None:
    """Reply with a file, then edit the reply to keep it and add a second one."""
    notes = discord.File(io.BytesIO(b"first file"), filename="notes.txt")
    await interaction.response.send_message("here you go", file=notes)
    original = await interaction.original_response()
    extra = discord.File(io.BytesIO(b"second file"), filename="extra.txt")
    await interaction.edit_original_response(
        content="edited", attachments=[*original.attachments, extra]
    )


class ThrowawayBot(commands.Bot):
    """A minimal bot: its commands are synced to one guild in setup_hook, like a dev bot."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(command_prefix=commands.when_mentioned, intents=discord.Intents.default())
        self.guild_id = guild_id
        self.clicks: list[int] = []
        self.failures: asyncio.Queue[discord.HTTPException] = asyncio.Queue()
        self.release = asyncio.Event()

    async def setup_hook(self) -> None:
        guild = discord.Object(self.guild_id)
        for command in (ping, report, topic, shout, slow, settings, export, inspect):
            self.tree.add_command(command, guild=guild)
        await self.tree.sync(guild=guild)


def _subprocess_bot_main(argv: Sequence[str]) -> int:
    """Entry point for the launcher tests: log in with the token in argv; SIGTERM stops it."""
    [token] = argv

    async def serve() -> None:
        async with discord.Client(intents=discord.Intents.default()) as client:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(client.close()))
            await client.start(token)

    asyncio.run(serve())
    return 0


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordEmulator]:
    async with running_emulator(monkeypatch) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: DiscordEmulator) -> AsyncIterator[ThrowawayBot]:
    throwaway = ThrowawayBot(emu.guild.id)
    runner = asyncio.create_task(throwaway.start(emu.token))
    synced = asyncio.create_task(emu.wait_for_sync(emu.guild))
    # Whichever ends first: a bot that crashes at login fails here instead of timing out.
    done, _ = await asyncio.wait({runner, synced}, return_when=asyncio.FIRST_COMPLETED)
    if runner in done:
        synced.cancel()
        runner.result()
        pytest.fail("bot stopped before syncing its commands")
    synced.result()
    yield throwaway
    await throwaway.close()
    await runner


async def test_login_sync_and_slash_command_reply(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    assert ("GET", "/api/v10/users/@me") in emu.requests
    assert ("GET", "/api/v10/oauth2/applications/@me") in emu.requests
    names = {c["name"] for c in emu.guild_commands[emu.guild.id]}
    assert names == {"ping", "report", "topic", "shout", "slow", "settings", "export", "inspect"}

    interaction = await emu.run_command(emu.member, "ping")
    message = await interaction.wait_message()

    assert message.content == "pong"
    assert not message.ephemeral
    assert interaction.callback_type == 4
    assert all(s.compressed for s in emu.gateway_sessions)  # zlib-stream, as the client asked
    assert bot.user is not None and bot.user.id == emu.bot_user.id
    guild = bot.get_guild(emu.guild.id)
    assert guild is not None and guild.member_count == len(emu.guild.members)
    assert guild.get_channel(emu.guild.channel("general").id) is not None


async def test_defer_then_followup_with_embed_and_button(
    emu: DiscordEmulator, bot: ThrowawayBot
) -> None:
    interaction = await emu.run_command(emu.moderator, "report")

    assert await interaction.wait_callback() == 5
    [message] = await interaction.wait_followups(1)
    assert message is interaction.original  # the first follow-up fills the deferred message
    assert message.embeds[0]["title"] == "Report"
    assert message.embeds[0]["fields"][0] == {"name": "Uptime", "value": "42 days", "inline": True}
    assert message.custom_ids() == ["confirm"]

    click = await emu.click(message, "confirm", emu.member)
    reply = await click.wait_message()

    assert reply.content == "confirmed by member"
    assert reply.ephemeral
    assert bot.clicks == [emu.member.id]


async def test_autocomplete_returns_choices(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    choices = await emu.autocomplete(emu.member, "topic", {"name": "py"})

    assert choices == [
        {"name": "Python", "value": "python"},
        {"name": "Pytest", "value": "pytest"},
        {"name": "Pydantic", "value": "pydantic"},
    ]
    interaction = await emu.run_command(emu.member, "topic", {"name": "pytest"})
    assert (await interaction.wait_message()).content == "topic: pytest"


async def test_member_permissions_reach_the_bot(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    with pytest.raises(AssertionError, match="cannot see /settings"):
        await emu.run_command(emu.member, "settings")

    interaction = await emu.run_command(emu.moderator, "settings")

    assert (await interaction.wait_message()).content == "manage_guild=True"


async def test_admin_override_lets_a_member_reach_the_bots_own_check(
    emu: DiscordEmulator, bot: ThrowawayBot
) -> None:
    with pytest.raises(AssertionError, match="cannot see /settings"):
        await emu.autocomplete(emu.member, "settings", {"key": "l"})

    offered = await emu.autocomplete(emu.member, "settings", {"key": "l"}, bypass_permissions=True)
    moderator = await emu.autocomplete(emu.moderator, "settings", {"key": "l"})
    interaction = await emu.run_command(emu.member, "settings", bypass_permissions=True)

    assert offered == []  # the bot's own check refused: the override changes no permission
    assert [c["value"] for c in moderator] == ["language", "limit"]
    assert (await interaction.wait_message()).content == "manage_guild=False"


async def test_attachment_option_is_resolved_and_downloadable(
    emu: DiscordEmulator, bot: ThrowawayBot
) -> None:
    notes = emu.upload("notes.md", b"# Notes\nsecond line\n", content_type=None)

    interaction = await emu.run_command(emu.member, "inspect", {"file": notes})
    message = await interaction.wait_message()

    assert message.content == "notes.md: 20 bytes, None, starts b'# Notes'"
    assert interaction.data["options"] == [{"name": "file", "type": 11, "value": str(notes.id)}]
    assert interaction.data["resolved"]["attachments"] == {
        str(notes.id): {
            "id": str(notes.id),
            "filename": "notes.md",
            "size": 20,
            "url": notes.url,
            "proxy_url": notes.url,
            "ephemeral": True,
        }
    }
    assert notes.url.startswith(f"{emu.base_url}/attachments/{notes.id}/")
    assert ("GET", f"/attachments/{notes.id}/notes.md") in emu.requests  # read() fetched it
    assert emu.upload("a.txt", b"x").content_type == "text/plain; charset=utf-8"
    assert emu.upload("a.pdf", b"x", content_type="application/pdf").content_type == (
        "application/pdf"
    )


async def test_attachment_over_the_size_limit(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    emu.attachment_size_limit = 8
    with pytest.raises(AssertionError, match="attachment_size_limit"):
        emu.upload("big.bin", b"x" * 9)  # Discord's client would not send it

    big = emu.upload("big.bin", b"x" * 9, allow_oversize=True)
    interaction = await emu.run_command(emu.member, "inspect", {"file": big})

    assert (await interaction.wait_message()).content == "too big: 9 > 8"


async def test_overlong_content_is_refused_and_recorded(
    emu: DiscordEmulator, bot: ThrowawayBot
) -> None:
    interaction = await emu.run_command(emu.member, "shout")

    failure = await asyncio.wait_for(bot.failures.get(), timeout=5)
    fallback = await interaction.wait_message()

    assert failure.status == 400
    assert failure.code == 50035
    assert "content" in str(failure)
    assert fallback.content == "too long"
    [violation] = emu.take_violations()
    assert violation.rule == "invalid_form_body"
    assert [e.path for e in violation.errors] == [("data", "content")]


async def test_late_first_response_gets_unknown_interaction(
    emu: DiscordEmulator, bot: ThrowawayBot
) -> None:
    emu.ack_deadline = 0.05
    interaction = await emu.run_command(emu.member, "slow")

    await interaction.deadline_passed.wait()
    # Silence past the deadline is what the user sees as "The application did not respond".
    assert [v.rule for v in emu.take_violations()] == ["no_response"]
    bot.release.set()
    failure = await asyncio.wait_for(bot.failures.get(), timeout=5)

    assert isinstance(failure, discord.NotFound)
    assert failure.code == 10062
    assert not interaction.acknowledged
    assert [v.rule for v in emu.take_violations()] == ["late_first_response"]


async def test_second_initial_response_is_refused(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    interaction = await emu.run_command(emu.member, "ping")
    await interaction.wait_message()
    url = f"{emu.api_url}/interactions/{interaction.id}/{interaction.token}/callback"

    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"type": 4, "data": {"content": "again"}}) as response,
    ):
        body = await response.json(content_type=None)
        content_type = response.headers["Content-Type"]

    assert response.status == 400
    assert body["code"] == 40060
    assert content_type == "application/json"
    assert [v.rule for v in emu.take_violations()] == ["already_acknowledged"]


async def test_files_are_uploaded_kept_and_added_on_edit(
    emu: DiscordEmulator, bot: ThrowawayBot
) -> None:
    interaction = await emu.run_command(emu.member, "export")

    await interaction.wait_for(lambda i: i.original is not None and i.original.content == "edited")
    attachments = interaction.original.attachments if interaction.original else []

    assert [(a.filename, a.data) for a in attachments] == [
        ("notes.txt", b"first file"),
        ("extra.txt", b"second file"),
    ]
    async with aiohttp.ClientSession() as session, session.get(attachments[1].url) as response:
        assert await response.read() == b"second file"


async def test_unsupported_routes_are_recorded_as_violations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with DiscordEmulator() as emulator:
        headers = {"Authorization": f"Bot {emulator.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{emulator.api_url}/channels/1/messages", headers=headers) as response,
        ):
            assert response.status == 404
        with pytest.raises(AssertionError, match="unsupported_route"):
            emulator.assert_no_violations()


def test_command_definitions_are_checked_like_discord() -> None:
    optional = {"name": "later", "description": "d", "type": 3}
    required = {"name": "first", "description": "d", "type": 3, "required": True}
    many_choices = [{"name": f"c{i}", "value": str(i)} for i in range(26)]
    commands_payload = [
        {"name": "Bad Name", "description": "ok", "type": 1},
        {"name": "order", "description": "ok", "options": [optional, required]},
        {"name": "nodesc", "description": ""},
        {
            "name": "choices",
            "description": "ok",
            "options": [{"name": "c", "description": "d", "type": 3, "choices": many_choices}],
        },
        {"name": "ünïcode-ok_1", "description": "fine"},
    ]

    paths = {e.path for e in check_commands(commands_payload)}

    assert paths == {
        (0, "name"),
        (1, "options", 1, "required"),
        (2, "description"),
        (3, "options", 0, "choices"),
    }


def test_message_limits_are_checked_like_discord() -> None:
    row = {
        "type": 1,
        "components": [
            {"type": 2, "style": 1, "label": "x" * 81, "custom_id": f"b{i}"} for i in range(6)
        ],
    }
    payload = {
        "content": "ok",
        "embeds": [{"title": "t" * 257, "fields": [{"name": "n", "value": "v" * 1025}]}],
        "components": [row] * 6,
    }

    codes = {(e.path[:3], e.code) for e in check_message(payload)}

    assert (("embeds", 0, "title"), "BASE_TYPE_MAX_LENGTH") in codes
    assert (("embeds", 0, "fields"), "BASE_TYPE_BAD_LENGTH") in codes
    assert (("components",), "BASE_TYPE_MAX_LENGTH") in codes
    assert (("components", 0, "components"), "BASE_TYPE_BAD_LENGTH") in codes
    assert (("components", 0, "components"), "BASE_TYPE_MAX_LENGTH") in codes  # label > 80
    six_thousand = [{"description": "d" * 4000}, {"description": "d" * 2001}]
    assert [e.code for e in check_message({"embeds": six_thousand})] == ["MAX_EMBED_SIZE_EXCEEDED"]
    assert [e.code for e in check_message({})] == ["MESSAGE_EMPTY"]
    too_many = [{"name": "x", "value": str(i)} for i in range(26)]
    assert [e.path for e in check_choices(too_many)] == [("data", "choices")]
    assert [e.path for e in check_choices([{"name": "n" * 101, "value": "v"}])] == [
        ("data", "choices", 0, "name")
    ]


async def test_launcher_runs_an_entry_point_in_its_own_process(emu: DiscordEmulator) -> None:
    async with launched(emu, emu.token, entry=SUBPROCESS_ENTRY) as process:
        session = await process.until(emu.wait_for_identify())
        status = await process.terminate()

    assert status == 0, process.stderr
    await emu.wait_until(lambda: session.ws.closed, what="the gateway connection to close")
    assert session.compressed
    assert ("GET", "/api/v10/users/@me") in emu.requests


async def test_launcher_exits_non_zero_when_login_fails(emu: DiscordEmulator) -> None:
    async with launched(emu, "not-the-token", entry=SUBPROCESS_ENTRY) as process:
        status = await process.wait()

    assert status != 0
    assert "discord.errors.LoginFailure" in process.stderr
    assert not emu.gateway_sessions
    assert [v.rule for v in emu.take_violations()] == ["unauthorized"]


def test_launcher_refuses_bad_usage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(launcher.ENV_VAR, raising=False)
    assert launcher.main(["--entry", SUBPROCESS_ENTRY, "token"]) == 2
    monkeypatch.setenv(launcher.ENV_VAR, "http://127.0.0.1:1")
    assert launcher.main(["--entry"]) == 2
    assert launcher.main(["--entry=no-colon", "token"]) == 2
    assert "usage:" in capsys.readouterr().err
