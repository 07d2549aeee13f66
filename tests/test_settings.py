"""Bot settings from the environment, and `citebot run`'s start-up errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_and_every_setting():
    assert Settings.from_env({"DISCORD_TOKEN": "abc"}) == Settings(token="abc")
    full = Settings.from_env(
        {
            "DISCORD_TOKEN": " abc ",
            "CITEBOT_DB": "/data/citebot.db",
            "DISCORD_GUILD_ID": "123456789012345678",
            "MOD_ROLE_IDS": "11, 22,,33",
            "CITEBOT_ASK_COOLDOWN": "3/10",
        }
    )
    assert full == Settings(
        token="abc",
        db_path="/data/citebot.db",
        guild_id=123456789012345678,
        mod_role_ids=frozenset({11, 22, 33}),
        ask_rate=3,
        ask_per=10.0,
    )


def test_empty_settings_count_as_unset():
    env = {"DISCORD_TOKEN": "abc", "DISCORD_GUILD_ID": "  ", "MOD_ROLE_IDS": "", "CITEBOT_DB": ""}
    assert Settings.from_env(env) == Settings(token="abc")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DISCORD_TOKEN is not set"),
        ({"DISCORD_TOKEN": "   "}, "DISCORD_TOKEN is not set"),
        ({"DISCORD_TOKEN": "a", "DISCORD_GUILD_ID": "my server"}, "DISCORD_GUILD_ID must be"),
        ({"DISCORD_TOKEN": "a", "MOD_ROLE_IDS": "12,mods"}, "MOD_ROLE_IDS must be"),
        ({"DISCORD_TOKEN": "a", "CITEBOT_ASK_COOLDOWN": "fast"}, "must look like 5/30"),
        ({"DISCORD_TOKEN": "a", "CITEBOT_ASK_COOLDOWN": "0/30"}, "at least 1 ask"),
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
