"""Settings: defaults, then the TOML file, then KATYA_TUI_* env, then command-line options. Loaded once, passed down."""

from __future__ import annotations

import os
import re
import secrets
import stat
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_data_dir

if TYPE_CHECKING:
    import ssl

DEFAULT_CAPS = {"captures": 100_000, "events": 100_000, "deliveries": 100_000}


class ConfigError(ValueError):
    """A setting is wrong; the message names the key and what is wrong with it."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}")


class TokenFileUnsafe(RuntimeError):
    """The kept token file can be read by group or others: whoever read it holds the API."""

    def __init__(self, path: Path, mode: int) -> None:
        self.path = path
        super().__init__(
            f"refusing the token file {path}: group or others can read it (mode {mode:04o}); "
            f"run `chmod 600 {path}` (or delete it to have a new token made)"
        )


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
    store_bytes: int = 2 * 1024**3  # retention by bytes: what the store's segments may hold
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
    max_connections: int = 1000  # open HTTP/WebSocket connections at once; past it: 503 (core/connections.py)
    endpoints: tuple[dict[str, Any], ...] = ()
    keymap: dict[str, str] = field(default_factory=dict)
    demo_rate: float | None = None  # events a second from the demo generator; None: no demo
    tls_cert: Path | None = None  # with tls_key: https and wss on the one port
    tls_key: Path | None = None
    tls_ca: Path | None = None  # trusted by the commands that talk to a running instance, and by --follow
    follow: tuple[str, ...] = ()  # relay channels to follow: `[ENDPOINT=]URL` (see `follow_spec`)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


_INT_KEYS = {
    "port": (0, 65535),
    "body_limit": (1, 2**31),
    "ws_max_subscriptions": (1, 10_000),
    "delivery_concurrency": (1, 1000),
    "max_connections": (1, 1_000_000),
}


_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


def _check_size(key: str, value: Any) -> int:
    """A size in bytes: a whole number, or a string like "2 GB" (units of 1,024), from 16 MB up."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
        unit = m.group(2).lower().replace("ib", "b") if m else ""
        if m is None or unit not in _UNITS:
            raise ConfigError(key, f'expected a size like 2147483648 or "2 GB", got {value!r}')
        value = int(float(m.group(1)) * _UNITS[unit])
    return _check_int(key, value, 16 * 1024**2, 1024**5)


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


FILE_KEYS = frozenset(
    {
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
        "max_connections",
        "upstream_retry_initial",
        "upstream_retry_max",
        "tls_cert",
        "tls_key",
        "tls_ca",
        "follow",
    }
)
"""The settings a config file may hold; any other key is refused, named."""


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    # TOMLDecodeError, UnicodeDecodeError, and int()'s refusal of a 5,000-digit number: all ValueErrors
    except ValueError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in FILE_KEYS:
            raise ConfigError(key, f"unknown setting in {path.name} (known: {', '.join(sorted(FILE_KEYS))})")
        out[key] = value
    if "retention" in out:
        ret = out.pop("retention")
        if not isinstance(ret, dict):
            raise ConfigError("retention", "expected a table like [retention] captures = 100000")
        caps = dict(DEFAULT_CAPS)
        for kind, n in ret.items():
            if kind == "bytes":
                out["store_bytes"] = _check_size("retention.bytes", n)
                continue
            if kind not in DEFAULT_CAPS:
                raise ConfigError(
                    f"retention.{kind}", f"unknown kind (known: {', '.join(DEFAULT_CAPS)}, bytes)"
                )
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
    _check_tls(values)
    if "follow" in values:
        follow = values["follow"]
        if not isinstance(follow, list | tuple) or not all(isinstance(x, str) for x in follow):
            raise ConfigError("follow", 'expected a list of [ENDPOINT=]URL, like ["https://smee.io/abc"]')
        values["follow"] = tuple(follow)
        for spec in follow:
            follow_spec(spec)
    return Settings(**values)


FOLLOW_ENDPOINT = "relay"  # the local endpoint of a followed channel that names none


def follow_spec(spec: str) -> tuple[str, str]:
    """`[ENDPOINT=]URL` -> (local endpoint, channel URL): the captures of a followed channel land on ENDPOINT
    (default `relay`), whose config (secrets, scheme, forward) applies. Raises ConfigError."""
    import re
    from urllib.parse import urlsplit

    name, sep, url = spec.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        name, url = FOLLOW_ENDPOINT, spec
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "follow", f"expected [ENDPOINT=]URL with an http:// or https:// channel URL, got {spec!r}"
        )
    return name, url.strip()


def _check_tls(values: dict[str, Any]) -> None:
    """Paths made absolute; cert and key both or neither, and loadable now, so a bad one is a usage error at
    start rather than a failure once listening."""
    for name in ("tls_cert", "tls_key", "tls_ca"):
        if values.get(name) is not None:
            if not isinstance(values[name], str | Path) or not str(values[name]).strip():
                raise ConfigError(name, "expected a file path")
            values[name] = Path(str(values[name])).expanduser().absolute()
    cert, key = values.get("tls_cert"), values.get("tls_key")
    if cert is not None and key is not None:
        server_ssl_context(cert, key)
    elif cert is not None or key is not None:
        raise ConfigError(
            "tls_key" if key is None else "tls_cert", "TLS needs both --tls-cert and --tls-key (or neither)"
        )
    if values.get("tls_ca") is not None:
        client_ssl_context(values["tls_ca"])


def _tls_error(key: str, path: Path, exc: Exception, hint: str = "") -> ConfigError:
    if isinstance(exc, FileNotFoundError):
        return ConfigError(key, f"file not found: {path}")
    why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return ConfigError(key, f"cannot load {path}: {hint + ' (' + why + ')' if hint else why}")


def server_ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server side of TLS: the certificate chain and its key. Raises ConfigError naming the file at fault."""
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    for name, path in (
        ("tls_cert", cert),
        ("tls_key", key),
    ):  # which file is at fault, before OpenSSL mixes them
        try:
            path.read_bytes()
        except OSError as exc:
            raise _tls_error(name, path, exc) from None
    try:  # no password: an encrypted key is refused rather than prompted for on the terminal
        ctx.load_cert_chain(cert, key, password=lambda: b"")
    except ssl.SSLError as exc:
        try:  # the certificate alone loads as a CA file: then the key is the one at fault
            ssl.create_default_context().load_verify_locations(cert)
        except ssl.SSLError:
            raise _tls_error("tls_cert", cert, exc, "not a PEM certificate") from None
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise _tls_error("tls_key", key, exc, f"not the key of {cert}") from None
        raise _tls_error("tls_key", key, exc, "not a PEM private key, or an encrypted one") from None
    return ctx


def client_ssl_context(ca: Path | None = None) -> ssl.SSLContext:
    """What a command talking to a running instance trusts: the system's roots (OpenSSL's defaults, so
    `SSL_CERT_FILE` and `SSL_CERT_DIR` apply) plus `ca`: a CA's certificate, or the server's own (self-signed or
    not: a certificate in `ca` is trusted as it is, without the chain above it)."""
    import ssl

    ctx = ssl.create_default_context()
    if ca is not None:
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        try:
            ctx.load_verify_locations(ca)
        except (OSError, ssl.SSLError) as exc:
            raise _tls_error("tls_ca", ca, exc) from None
    return ctx


def ensure_token(settings: Settings) -> Settings:
    """Return settings with a token: the given one, else the one kept in the data dir, else a new one saved there."""
    if settings.token:
        return settings
    path = settings.data_dir / "token"
    token = read_token_file(path)
    if token:
        return replace(settings, token=token)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # (private: see core/datadir.py)
    token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return replace(settings, token=token)


def read_token_file(path: Path) -> str:
    """The token kept in `path` ("" when there is none). Raises TokenFileUnsafe when group or others can read it:
    tightening it quietly would hide that the token may have been read already."""
    try:
        with open(path, encoding="utf-8") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if mode & 0o077:
                raise TokenFileUnsafe(path, mode)
            return f.read().strip()
    except FileNotFoundError:
        return ""
