"""Settings: defaults, then the TOML file, then KATYA_TUI_* env, then command-line options. Loaded once, passed down."""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

DEFAULT_CAPS = {"captures": 100_000, "events": 100_000, "deliveries": 100_000}


class ConfigError(ValueError):
    """A setting is wrong; the message names the key and what is wrong with it."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = field(default_factory=lambda: Path(user_data_dir("katya-tui", appauthor=False)))
    token: str | None = None
    config_path: Path | None = None
    upstream: str | None = None
    upstream_token: str | None = None
    upstream_channels: tuple[str, ...] = ()
    upstream_events: tuple[str, ...] = ()
    caps: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))
    body_limit: int = 10 * 1024 * 1024
    ws_ping_interval: float = 30.0
    ws_max_subscriptions: int = 50
    upstream_retry_initial: float = 1.0  # seconds before the first reconnect; doubles each failure
    upstream_retry_max: float = 30.0  # cap of the reconnect delay
    fsync: bool = True
    delivery_timeout: float = (
        30.0  # seconds a delivery attempt may take, unless its subscription says otherwise
    )
    delivery_concurrency: int = 64  # deliveries in flight at once
    endpoints: tuple[dict[str, Any], ...] = ()
    keymap: dict[str, str] = field(default_factory=dict)
    demo_rate: float | None = None  # events a second from the demo generator; None: no demo

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


_INT_KEYS = {
    "port": (0, 65535),
    "body_limit": (1, 2**31),
    "ws_max_subscriptions": (1, 10_000),
    "delivery_concurrency": (1, 1000),
}


def _check_int(key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise ConfigError(key, f"expected a whole number, got {value!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(key, f"must be between {lo} and {hi}, got {value}")
    return value


_FLOAT_KEYS = {  # seconds, or events a second for demo_rate: (exclusive low, inclusive high)
    "ws_ping_interval": (0, 86_400),
    "upstream_retry_initial": (0, 86_400),
    "upstream_retry_max": (0, 86_400),
    "delivery_timeout": (0, 600),
    "demo_rate": (0, 1000),
}


def _check_float(key: str, value: Any, lo: float, hi: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, f"expected a number, got {value!r}") from None
    if not lo < number <= hi:
        raise ConfigError(key, f"must be more than {lo:g} and at most {hi:g}, got {number:g}")
    return number


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    # TOMLDecodeError, UnicodeDecodeError, and int()'s refusal of a 5,000-digit number: all ValueErrors
    except ValueError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
    out: dict[str, Any] = {}
    known = {
        "host",
        "port",
        "data_dir",
        "token",
        "upstream",
        "upstream_token",
        "upstream_channels",
        "upstream_events",
        "body_limit",
        "ws_ping_interval",
        "ws_max_subscriptions",
        "fsync",
        "retention",
        "endpoints",
        "keymap",
        "delivery_timeout",
        "delivery_concurrency",
        "upstream_retry_initial",
        "upstream_retry_max",
    }
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(key, f"unknown setting in {path.name} (known: {', '.join(sorted(known))})")
        out[key] = value
    if "retention" in out:
        ret = out.pop("retention")
        if not isinstance(ret, dict):
            raise ConfigError("retention", "expected a table like [retention] captures = 100000")
        caps = dict(DEFAULT_CAPS)
        for kind, n in ret.items():
            if kind not in DEFAULT_CAPS:
                raise ConfigError(f"retention.{kind}", f"unknown kind (known: {', '.join(DEFAULT_CAPS)})")
            caps[kind] = _check_int(f"retention.{kind}", n, 10, 10_000_000)
        out["caps"] = caps
    if "endpoints" in out:
        eps = out["endpoints"]
        if not isinstance(eps, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str) for e in eps
        ):
            raise ConfigError("endpoints", "expected [[endpoints]] tables, each with a name")
        from .core.errors import ValidationFailed
        from .core.receiver.endpoints import validate_config

        for i, ep in enumerate(eps):
            try:
                validate_config(ep)
            except ValidationFailed as exc:
                key, problems = next(iter(exc.fields.items()))
                raise ConfigError(f"endpoints[{i}].{key}", "; ".join(problems)) from None
        out["endpoints"] = tuple(eps)
    for key in ("upstream_channels", "upstream_events"):
        if key in out:
            if not isinstance(out[key], list) or not all(isinstance(x, str) for x in out[key]):
                raise ConfigError(key, "expected a list of strings")
            out[key] = tuple(out[key])
    if "keymap" in out and not isinstance(out["keymap"], dict):
        raise ConfigError("keymap", 'expected a table like [keymap] replay = "ctrl+r"')
    return out


def load_settings(options: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    """Merge defaults, the TOML file, the environment and the given options (None means not given)."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    config_path = options.get("config") or env.get("KATYA_TUI_CONFIG")
    if config_path:
        values.update(_from_toml(Path(config_path).expanduser()))
        values["config_path"] = Path(config_path).expanduser()
    for key, var in (
        ("data_dir", "KATYA_TUI_DATA_DIR"),
        ("token", "KATYA_TUI_TOKEN"),
        ("upstream_token", "KATYA_TUI_UPSTREAM_TOKEN"),  # keeps the token out of `ps`
    ):
        if env.get(var):
            values[key] = env[var]
    for key, value in options.items():
        if key != "config" and value is not None:
            values[key] = value
    for key, (lo, hi) in _INT_KEYS.items():
        if values.get(key) is not None:
            values[key] = _check_int(key, values[key], lo, hi)
    for key, (lo, hi) in _FLOAT_KEYS.items():
        if values.get(key) is not None:
            values[key] = _check_float(key, values[key], lo, hi)
    if "fsync" in values and not isinstance(values["fsync"], bool):
        raise ConfigError("fsync", f"expected true or false, got {values['fsync']!r}")
    if "keymap" in values and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values["keymap"].items()
    ):
        raise ConfigError("keymap", 'expected binding ids mapped to keys, like "stream.pause" = "z"')
    if "host" in values and (not isinstance(values["host"], str) or not values["host"].strip()):
        raise ConfigError("host", "must be a host name or address")
    if "data_dir" in values:
        values["data_dir"] = Path(str(values["data_dir"])).expanduser()
    if "upstream" in values and not str(values["upstream"]).startswith(("ws://", "wss://")):
        raise ConfigError("upstream", f"must be a ws:// or wss:// URL, got {values['upstream']!r}")
    if "token" in values and (not isinstance(values["token"], str) or len(values["token"].strip()) < 8):
        raise ConfigError("token", "must be at least 8 characters")
    return Settings(**values)


def ensure_token(settings: Settings) -> Settings:
    """Return settings with a token: the given one, else the one kept in the data dir, else a new one saved there."""
    if settings.token:
        return settings
    path = settings.data_dir / "token"
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return replace(settings, token=token)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # (private: see core/datadir.py)
    token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return replace(settings, token=token)
