"""Bot settings from the environment, and `citebot run`'s start-up errors."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_and_every_setting():
    # Unset, the Message Content intent is asked for and done without when refused (None).
    assert Settings.from_env({"DISCORD_TOKEN": "abc"}) == Settings(
        token="abc", message_content=None
    )
    never = Settings.from_env({"DISCORD_TOKEN": "abc", "CITEBOT_MESSAGE_CONTENT": "0"})
    assert never.message_content is False
    full = Settings.from_env(
        {
            "DISCORD_TOKEN": " abc ",
            "CITEBOT_DB": "/data/citebot.db",
            "DISCORD_GUILD_ID": "123456789012345678",
            "MOD_ROLE_IDS": "11, 22,,33",
            "CITEBOT_ASK_COOLDOWN": "3/10",
            "CITEBOT_ENGINE_PROCESSES": "2",
            "CITEBOT_MESSAGE_CONTENT": "1",
        }
    )
    assert full == Settings(
        token="abc",
        db_path="/data/citebot.db",
        guild_id=123456789012345678,
        mod_role_ids=frozenset({11, 22, 33}),
        ask_rate=3,
        ask_per=10.0,
        engine_processes=2,
        message_content=True,
    )
    threads_only = Settings.from_env({"DISCORD_TOKEN": "abc", "CITEBOT_ENGINE_PROCESSES": "0"})
    assert threads_only.engine_processes == 0


def test_empty_settings_count_as_unset():
    env = {"DISCORD_TOKEN": "abc", "DISCORD_GUILD_ID": "  ", "MOD_ROLE_IDS": "", "CITEBOT_DB": ""}
    assert Settings.from_env(env) == Settings(token="abc", message_content=None)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DISCORD_TOKEN is not set"),
        ({"DISCORD_TOKEN": "   "}, "DISCORD_TOKEN is not set"),
        ({"DISCORD_TOKEN": "a", "DISCORD_GUILD_ID": "my server"}, "DISCORD_GUILD_ID must be"),
        ({"DISCORD_TOKEN": "a", "MOD_ROLE_IDS": "12,mods"}, "MOD_ROLE_IDS must be"),
        ({"DISCORD_TOKEN": "a", "CITEBOT_ASK_COOLDOWN": "fast"}, "must look like 5/30"),
        ({"DISCORD_TOKEN": "a", "CITEBOT_ASK_COOLDOWN": "0/30"}, "at least 1 ask"),
        ({"DISCORD_TOKEN": "a", "CITEBOT_ENGINE_PROCESSES": "many"}, "from 0 to 16"),
        ({"DISCORD_TOKEN": "a", "CITEBOT_ENGINE_PROCESSES": "99"}, "from 0 to 16"),
        ({"DISCORD_TOKEN": "a", "CITEBOT_MESSAGE_CONTENT": "maybe"}, "must be 1 or 0"),
    ],
)
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def _run(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "CITEBOT_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_without_a_token_is_one_clear_line(tmp_path):
    done = _run({}, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "citebot: error: DISCORD_TOKEN is not set: put the bot token in .env or the environment "
        "(see .env.example)"
    ]


def test_run_reads_dotenv_from_the_working_directory(tmp_path):
    (tmp_path / ".env").write_text("DISCORD_TOKEN=abc\nDISCORD_GUILD_ID=not-a-number\n")
    done = _run({}, tmp_path)
    assert done.returncode == 1
    assert "DISCORD_GUILD_ID must be a Discord id" in done.stderr
    assert "abc" not in done.stderr and "Traceback" not in done.stderr


def test_the_token_is_in_no_repr_str_or_format():
    settings = Settings.from_env(
        {"DISCORD_TOKEN": "MTIzNDU2.secret-token-value", "CITEBOT_DB": "x.db"}
    )
    for shown in (repr(settings), str(settings), f"{settings}", f"{settings!r}", repr([settings])):
        assert "secret-token-value" not in shown
        assert "x.db" in shown  # the rest is still there to debug with
    assert settings.token == "MTIzNDU2.secret-token-value"


def test_run_ignores_a_dotenv_in_a_parent_folder(tmp_path):
    (tmp_path / ".env").write_text("DISCORD_TOKEN=abc\nDISCORD_GUILD_ID=not-a-number\n")
    child = tmp_path / "child"
    child.mkdir()
    done = _run({}, child)
    assert done.returncode == 1
    assert "citebot: error: DISCORD_TOKEN is not set" in done.stderr


def test_the_environment_wins_over_dotenv(tmp_path):
    (tmp_path / ".env").write_text("DISCORD_TOKEN=abc\nDISCORD_GUILD_ID=not-a-number\n")
    done = _run({"DISCORD_GUILD_ID": "also wrong"}, tmp_path)
    assert "DISCORD_GUILD_ID must be a Discord id (digits only), not 'also wrong'" in done.stderr


# -- what the logs hold at DEBUG ----------------------------------------------------------------

MARKER = "zephyrquokka"  # a word in no article, so it can only reach stderr from the question


def _logged(stderr: str, level: str, logger: str) -> bool:
    """Whether `logger` wrote a line at `level` (in discord.py's format, coloured or not)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stderr)
    return re.search(rf"^\S+ \S+ \[?{level}\s*\]? {re.escape(logger)}\b", plain, re.M) is not None


async def test_a_rejected_token_is_not_logged_even_at_debug(tmp_path, monkeypatch):
    from discord_emulator import running_emulator
    from discord_emulator.launch import REPO_ROOT, launched

    token = "MTAw.rejected-token-value.xyz"
    async with running_emulator(monkeypatch) as emu:
        env = {
            "DISCORD_TOKEN": token,
            "CITEBOT_DB": str(tmp_path / "run.db"),
            "CITEBOT_LOG_LEVEL": "DEBUG",
            "CITEBOT_LOG_CONTENT": "1",  # even with everything on
            "PYTHONPATH": str(REPO_ROOT),
        }
        async with launched(emu, "run", env=env, cwd=tmp_path) as process:
            assert await process.wait() == 1
        assert "Discord rejected DISCORD_TOKEN" in process.stderr
        assert _logged(process.stderr, "DEBUG", "discord.http")  # the request, not its token
        assert "rejected-token-value" not in process.stderr
        assert [v.rule for v in emu.take_violations()] == ["unauthorized"]


@pytest.mark.parametrize("content", ["", "1"])
async def test_questions_reach_debug_logs_only_with_the_opt_in(tmp_path, monkeypatch, content):
    from discord_emulator import running_emulator
    from discord_emulator.launch import REPO_ROOT, launched

    async with running_emulator(monkeypatch) as emu:
        env = {
            "DISCORD_TOKEN": emu.token,
            "DISCORD_GUILD_ID": str(emu.guild.id),
            "CITEBOT_DB": str(tmp_path / "run.db"),
            "CITEBOT_LOG_LEVEL": "DEBUG",
            "CITEBOT_LOG_CONTENT": content,
            "PYTHONPATH": str(REPO_ROOT),
        }
        async with launched(emu, "run", env=env, cwd=tmp_path) as process:
            await process.until(emu.wait_for_sync(emu.guild))
            question = f"How much money did DeepSeek spend, {MARKER}?"
            interaction = await emu.run_command(emu.member, "ask", {"question": question})
            message = await process.until(interaction.wait_message())
            assert message.embeds[0]["title"] == question  # the member sees it; the logs don't
            assert await process.terminate() == 0
    assert _logged(process.stderr, "DEBUG", "discord.client")  # DEBUG really was on
    assert (MARKER in process.stderr) == bool(content)
    assert emu.token not in process.stderr


@pytest.mark.parametrize("content", ["", "1"])
def test_the_cli_keeps_questions_out_of_debug_logs_without_the_opt_in(tmp_path, content):
    env = {"CITEBOT_LOG_LEVEL": "debug", "CITEBOT_LOG_CONTENT": content}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "--db",
            str(tmp_path / "cli.db"),
            "ask",
            f"DeepSeek {MARKER}",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "DEBUG asyncio" in done.stderr
    assert (MARKER in done.stderr) == bool(content)


def test_an_unknown_log_level_is_named_and_the_default_used(tmp_path):
    done = _run({"CITEBOT_LOG_LEVEL": "loud"}, tmp_path)
    assert "CITEBOT_LOG_LEVEL='loud' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in (
        done.stderr
    )
    assert "DISCORD_TOKEN is not set" in done.stderr
