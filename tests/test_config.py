"""Settings: precedence, validation messages that name the key, the token kept in the data dir."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner

from katya_tui.cli import main
from katya_tui.config import ConfigError, ensure_token, load_settings


def test_precedence_options_over_env_over_file(tmp_path):
    cfg = tmp_path / "k.toml"
    cfg.write_text('port = 9000\nhost = "0.0.0.0"\n[retention]\ncaptures = 500\n')
    s = load_settings({"config": str(cfg)}, env={"KATYA_TUI_DATA_DIR": str(tmp_path / "d")})
    assert (s.port, s.host, s.caps["captures"], s.data_dir) == (9000, "0.0.0.0", 500, tmp_path / "d")
    s = load_settings({"config": str(cfg), "port": "0"}, env={"KATYA_TUI_CONFIG": "/nonexistent"})
    assert s.port == 0


@pytest.mark.parametrize(
    ("options", "toml", "key", "words"),
    [
        ({"port": "abc"}, None, "port", "whole number"),
        ({"port": "70000"}, None, "port", "between 0 and 65535"),
        ({}, "prot = 1\n", "prot", "unknown setting"),
        ({}, "port = [1\n", "config", "not valid TOML"),
        ({}, "[retention]\nmessages = 5\n", "retention.messages", "unknown kind"),
        ({}, '[retention]\ncaptures = "lots"\n', "retention.captures", "whole number"),
        ({"upstream": "http://x"}, None, "upstream", "ws://"),
        ({"token": "short"}, None, "token", "at least 8"),
        ({}, 'fsync = "no"\n', "fsync", "true or false"),
        ({}, '[keymap]\n"stream.pause" = 1\n', "keymap", "binding ids"),
        ({}, "workers = 1\n", "workers", "unknown setting"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, options, toml, key, words):
    if toml is not None:
        cfg = tmp_path / "bad.toml"
        cfg.write_text(toml)
        options = {**options, "config": str(cfg)}
    with pytest.raises(ConfigError) as err:
        load_settings(options, env={})
    assert err.value.key == key
    assert words in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_settings({"config": str(tmp_path / "nope.toml")}, env={})


def test_cli_bad_option_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--port", "abc", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "port" in result.output and "whole number" in result.output


def test_token_generated_once_with_mode_0600(tmp_path):
    s = load_settings({"data_dir": str(tmp_path)}, env={})
    first = ensure_token(s)
    second = ensure_token(s)
    assert first.token and first.token == second.token
    mode = stat.S_IMODE((tmp_path / "token").stat().st_mode)
    assert mode == 0o600
    explicit = ensure_token(load_settings({"data_dir": str(tmp_path), "token": "given-token-1"}, env={}))
    assert explicit.token == "given-token-1"


def test_upstream_token_from_the_environment(tmp_path):
    s = load_settings({"upstream": "ws://x/v1/ws"}, env={"KATYA_TUI_UPSTREAM_TOKEN": "up-token-1"})
    assert s.upstream_token == "up-token-1"
    s = load_settings({"upstream_token": "given"}, env={"KATYA_TUI_UPSTREAM_TOKEN": "up-token-1"})
    assert s.upstream_token == "given"
