"""Endpoint configs: validation, persistence in the `endpoints` table, and `[[endpoints]]` tables from the TOML file.

A config (SPEC 3.3, plus chaos, routes and a rate limit):
`{name, secrets: [..], scheme: auto|<scheme>, tolerance_s, response: {status, body, headers, delay_ms, sequence,
mode, hold_s, retry_after}, forward_to, routes: [{match, to}], validate: null|"wazzup", rate_limit: null|{requests,
window_s}, publish: "all"|"verified", relay: null|CHANNEL}`. Any endpoint name works without a config: `default_config(name)` is what such an endpoint gets.
"""

from __future__ import annotations

import copy
import re
import secrets as _secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..errors import ValidationFailed
from ..signing import SCHEMES
from ..store import Store

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MODES = ("answer", "timeout", "drop")
VALIDATORS = ("wazzup",)
KEYS = (
    "name",
    "secrets",
    "scheme",
    "tolerance_s",
    "response",
    "forward_to",
    "routes",
    "validate",
    "rate_limit",
    "publish",
    "relay",
)
CHANNEL_RE = re.compile(r"^[A-Za-z0-9_-]{22,128}$")  # (22 base64url characters: 132 bits)
PUBLISH = (
    "all",
    "verified",
)  # which captures become events: every one, or only those whose signature is valid
RESPONSE_KEYS = ("status", "body", "headers", "delay_ms", "sequence", "mode", "hold_s", "retry_after")


def default_response() -> dict[str, Any]:
    return {
        "status": 200,
        "body": None,
        "headers": {},
        "delay_ms": 0,
        "sequence": [],
        "mode": "answer",
        "hold_s": 40,
        "retry_after": 1,
    }


def default_config(name: str) -> dict[str, Any]:
    """What an endpoint nobody configured gets: scheme auto, no secret (verdict `unsigned`), answer 200."""
    return {
        "name": name,
        "secrets": [],
        "scheme": "auto",
        "tolerance_s": 300,
        "response": default_response(),
        "forward_to": None,
        "routes": [],
        "validate": None,
        "rate_limit": None,
        "publish": "all",
        "relay": None,
    }


def new_channel() -> str:
    """A relay channel id: 192 random bits, base64url (what a smee.io channel looks like, longer)."""
    return _secrets.token_urlsafe(24)


def _url_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be an http:// or https:// URL"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http:// or https:// URL, got {value!r}"
    return None


def _int_in(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _check_response(raw: Any, err: Callable[[str, str], None]) -> dict[str, Any]:
    out = default_response()
    if raw is None:
        return out
    if not isinstance(raw, dict):
        err("response", "must be an object like {status, body, headers, delay_ms}")
        return out
    for key in raw:
        if key not in RESPONSE_KEYS:
            err(f"response.{key}", f"unknown key (known: {', '.join(RESPONSE_KEYS)})")
    out.update({k: v for k, v in raw.items() if k in RESPONSE_KEYS})
    if not _int_in(out["status"], 100, 599):
        err("response.status", "must be an HTTP status from 100 to 599")
    if out["body"] is not None and not isinstance(out["body"], str | dict | list):
        err("response.body", "must be a string, a JSON object or array, or null")
    headers = out["headers"] or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        err("response.headers", 'must be an object of strings like {"X-Test": "1"}')
    elif any(not k.strip() or any(c in k + v for c in "\r\n") for k, v in headers.items()):
        err("response.headers", "names must not be empty; names and values must not hold line breaks")
    out["headers"] = dict(headers) if isinstance(headers, dict) else {}
    if not _int_in(out["delay_ms"], 0, 600_000):
        err("response.delay_ms", "must be a whole number of milliseconds from 0 to 600000")
    seq = out["sequence"] or []
    if not isinstance(seq, list) or not all(_int_in(s, 100, 599) or s in ("timeout", "drop") for s in seq):
        err(
            "response.sequence",
            'must be a list of statuses (100-599), "timeout" or "drop", e.g. [500, 500, 200]',
        )
    out["sequence"] = list(seq) if isinstance(seq, list) else []
    if out["mode"] not in MODES:
        err("response.mode", f"must be one of {', '.join(MODES)}")
    if not _int_in(out["hold_s"], 1, 3600):
        err("response.hold_s", "must be a whole number of seconds from 1 to 3600")
    if not _int_in(out["retry_after"], 0, 86_400):
        err("response.retry_after", "must be a whole number of seconds from 0 to 86400")
    return out


def validate_config(raw: Any, name: str | None = None) -> dict[str, Any]:
    """A complete, checked config from `raw` (missing keys take defaults); raises ValidationFailed per field."""
    fields: dict[str, list[str]] = {}

    def err(key: str, problem: str) -> None:
        fields.setdefault(key, []).append(problem)

    if not isinstance(raw, dict):
        raise ValidationFailed({"body": ["must be a JSON object"]})
    name = name if name is not None else raw.get("name")
    if raw.get("name") not in (None, name):
        err("name", f"does not match the endpoint in the path ({name!r})")
    if not isinstance(name, str) or not NAME_RE.match(name):
        err("name", "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit")
    for key in raw:
        if key not in KEYS:
            err(key, f"unknown key (known: {', '.join(KEYS)})")
    cfg = default_config(name if isinstance(name, str) else "")
    cfg.update({k: copy.deepcopy(v) for k, v in raw.items() if k in KEYS and k not in ("name", "response")})
    secrets = cfg["secrets"]
    if isinstance(secrets, str):
        secrets = cfg["secrets"] = [secrets]
    if not isinstance(secrets, list) or not all(isinstance(s, str) and s.strip() for s in secrets):
        err("secrets", "must be a list of non-empty strings (several allow rotation)")
    elif "publish" not in raw and secrets:
        cfg["publish"] = "verified"  # an endpoint that can check signatures publishes only what passes
    if cfg["scheme"] != "auto" and cfg["scheme"] not in SCHEMES:
        err("scheme", f"must be auto or one of {', '.join(sorted(SCHEMES))}")
    if not _int_in(cfg["tolerance_s"], 0, 7 * 86_400):
        err("tolerance_s", "must be a whole number of seconds from 0 to 604800")
    cfg["response"] = _check_response(raw.get("response"), err)
    if cfg["forward_to"] is not None and (problem := _url_problem(cfg["forward_to"])):
        err("forward_to", problem)
    routes = cfg["routes"]
    if not isinstance(routes, list):
        err("routes", 'must be a list like [{"match": "message.*", "to": "http://localhost:3000/messages"}]')
        routes = []
    for i, route in enumerate(routes):
        if not isinstance(route, dict) or set(route) != {"match", "to"}:
            err(f"routes[{i}]", 'must be {"match": PATTERN, "to": URL}')
            continue
        if not isinstance(route["match"], str) or not route["match"].strip():
            err(
                f"routes[{i}].match", 'must be an event type pattern like "message.*", "job.completed" or "*"'
            )
        if problem := _url_problem(route["to"]):
            err(f"routes[{i}].to", problem)
    if cfg["publish"] not in PUBLISH:
        err(
            "publish",
            f"must be one of {', '.join(PUBLISH)} (verified: only validly signed requests become events)",
        )
    if cfg["validate"] is not None and cfg["validate"] not in VALIDATORS:
        err("validate", f"must be null or one of {', '.join(VALIDATORS)}")
    rl = cfg["rate_limit"]
    if rl is not None:
        if not isinstance(rl, dict) or not set(rl) <= {"requests", "window_s"}:
            err("rate_limit", 'must be null or {"requests": 100, "window_s": 60}')
        else:
            rl = cfg["rate_limit"] = {"requests": rl.get("requests", 100), "window_s": rl.get("window_s", 60)}
            if not _int_in(rl["requests"], 1, 1_000_000):
                err("rate_limit.requests", "must be a whole number from 1 to 1000000")
            if not _int_in(rl["window_s"], 1, 86_400):
                err("rate_limit.window_s", "must be a whole number of seconds from 1 to 86400")
    relay = cfg["relay"]
    if relay is False:
        cfg["relay"] = None
    elif relay is not None and relay is not True and not (isinstance(relay, str) and CHANNEL_RE.match(relay)):
        err(
            "relay",
            "must be true (a new channel), false or null (not relayed), or a channel id of 22-128 letters, "
            "digits, '-' or '_'",
        )
    if fields:
        raise ValidationFailed(fields)
    return cfg


class Endpoints:
    """The configured endpoints: in memory by name, kept in the store's `endpoints` table (one document a name)."""

    def __init__(self, store: Store, on_change: Callable[[str], None] | None = None) -> None:
        self._table = store.table("endpoints")
        docs = self._table.all()
        self._cfg: dict[str, dict[str, Any]] = {doc["name"]: dict(doc) for doc in docs}
        self._others: dict[str, dict[str, list[str]]] = {}  # cache for secrets_of_others, cleared on change
        self._ids = {doc["name"]: doc.doc_id for doc in docs}
        self._channels = {cfg["relay"]: name for name, cfg in self._cfg.items() if cfg.get("relay")}
        self._on_change = on_change

    def config_for(self, name: str) -> dict[str, Any]:
        """The live config of `name` (shared, do not mutate), or the default one."""
        found = self._cfg.get(name)
        return found if found is not None else default_config(name)

    def by_channel(self, channel: str) -> str | None:
        """The endpoint relayed on `channel`, if one is."""
        return self._channels.get(channel)

    def secrets_of_others(self, name: str) -> dict[str, list[str]]:
        """The secrets of every other configured endpoint, for the verdict's "matches another endpoint" hint."""
        found = self._others.get(name)
        if found is None:
            found = {n: cfg["secrets"] for n, cfg in self._cfg.items() if n != name and cfg["secrets"]}
            if len(self._others) < 10_000:  # any name is an endpoint: keep the cache bounded
                self._others[name] = found
        return found

    def load_toml(self, tables: tuple[dict[str, Any], ...]) -> None:
        """Apply `[[endpoints]]` from the config file (they replace stored configs of the same name)."""
        for i, raw in enumerate(tables):
            try:
                self.put(dict(raw))
            except ValidationFailed as exc:
                fields = {f"endpoints[{i}].{k}": v for k, v in exc.fields.items()}
                raise ValidationFailed(fields) from None

    def list(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(cfg) for _, cfg in sorted(self._cfg.items())]

    def get(self, name: str) -> dict[str, Any] | None:
        found = self._cfg.get(name)
        return copy.deepcopy(found) if found else None

    def put(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a config; raises ValidationFailed."""
        checked = validate_config(cfg)
        name = checked["name"]
        old = self._cfg.get(name)
        if checked["relay"] is True:  # a channel: the one it has (stable across restarts and edits), else new
            checked["relay"] = (old or {}).get("relay") or new_channel()
        owner = self._channels.get(checked["relay"]) if checked["relay"] else None
        if owner is not None and owner != name:
            raise ValidationFailed({"relay": [f"channel already relays endpoint {owner!r}"]})
        if old is not None and old.get("relay"):
            self._channels.pop(old["relay"], None)
        if checked["relay"]:
            self._channels[checked["relay"]] = name
        if name in self._ids:
            self._table.remove(doc_ids=[self._ids[name]])
        self._ids[name] = self._table.insert(copy.deepcopy(checked))
        self._cfg[name] = checked
        self._changed(name)
        return copy.deepcopy(checked)

    def delete(self, name: str) -> bool:
        old = self._cfg.pop(name, None)
        if old is None:
            return False
        if old.get("relay"):
            self._channels.pop(old["relay"], None)
        self._table.remove(doc_ids=[self._ids.pop(name)])
        self._changed(name)
        return True

    def _changed(self, name: str) -> None:
        self._others.clear()
        if self._on_change:
            self._on_change(name)
