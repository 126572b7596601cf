"""Fuzz: random TOML documents and values -> `load_settings` returns Settings or raises ConfigError naming a key
(a known setting, `config` for the file itself, or the unknown key it found), nothing else."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from fuzz_support import FUZZ
from hypothesis import example, given, settings
from hypothesis import strategies as st

from katya_tui.config import FILE_KEYS, ConfigError, Settings, load_settings
from katya_tui.core.receiver.endpoints import KEYS

CHEAP = settings(FUZZ, max_examples=200)  # no server: many more examples in the same time

SETTINGS_KEYS = sorted(FILE_KEYS)
ENDPOINT_KEYS = list(KEYS)
INNER_KEYS = ENDPOINT_KEYS + [
    "captures",
    "events",
    "deliveries",
    "status",
    "body",
    "headers",
    "delay_ms",
    "sequence",
    "mode",
    "hold_s",
    "retry_after",
    "match",
    "to",
    "requests",
    "window_s",
]

scalars = st.one_of(
    st.text(max_size=20),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, 10, 8765, 65536, 2**31 + 1, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(max_value=dt.datetime(9999, 1, 1)),
    st.dates(),
    st.sampled_from(
        ["auto", "all", "verified", "wazzup", "answer", "ws://x/v1/ws", "http://127.0.0.1:9/x", "*"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(INNER_KEYS), st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=12,
)
endpoint_tables = st.lists(
    st.dictionaries(st.sampled_from(ENDPOINT_KEYS), values, max_size=5).map(lambda d: {"name": "ep", **d}),
    max_size=3,
)
documents = st.dictionaries(
    st.one_of(st.sampled_from(SETTINGS_KEYS), st.text(max_size=8)),
    values,
    max_size=6,
).flatmap(lambda d: st.one_of(st.just(d), endpoint_tables.map(lambda eps: {**d, "endpoints": eps})))


def toml_value(v: Any) -> str:
    """A TOML literal for `v` (inline tables and arrays; `tomllib` reads them as it reads [tables])."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON's string escapes are TOML's basic-string escapes
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml_document(doc: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in doc.items())


def check(options: dict[str, Any], doc: dict[str, Any] | None) -> None:
    try:
        s = load_settings(options, env={})
    except ConfigError as exc:
        known = set(SETTINGS_KEYS) | {"config", "caps"}
        top = exc.key.split(".")[0].split("[")[0]
        assert top in known or (doc is not None and exc.key in doc), exc.key
        assert str(exc).startswith(exc.key + ": ")
        return
    assert isinstance(s, Settings)
    assert isinstance(s.port, int) and isinstance(s.host, str) and isinstance(s.fsync, bool)


@CHEAP
@given(doc=documents)
@example(doc={"endpoints": [{"name": "ep", "scheme": []}]})  # a list where a scheme name goes
def test_random_toml_documents(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("cfg") / "k.toml"
    path.write_text(toml_document(doc), encoding="utf-8")
    check({"config": str(path), "data_dir": str(path.parent)}, doc)


@CHEAP
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
@example(text="port = " + "9" * 5000)  # too many digits for int(): tomllib raised a bare ValueError
def test_random_text_as_toml(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "k.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    check({"config": str(path), "data_dir": str(path.parent)}, None)


@CHEAP
@given(
    options=st.dictionaries(
        st.sampled_from(SETTINGS_KEYS), st.one_of(st.text(max_size=20), scalars), max_size=5
    )
)
def test_random_option_values(tmp_path_factory, options):
    """Command-line options arrive as strings (or typed values from the TUI's forms)."""
    options.pop("retention", None)  # (not an option: a TOML table only)
    options.pop("endpoints", None)
    options.pop("keymap", None)
    check({"data_dir": str(tmp_path_factory.mktemp("d")), **options}, None)
