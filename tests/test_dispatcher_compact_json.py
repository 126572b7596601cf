"""`compact` serialization writes the bytes JavaScript's JSON.stringify writes (seed 000's Node example checks
the HMAC of `JSON.stringify(req.body)`), compared against Node itself."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import pytest

from katya_tui.core.dispatcher.profiles import serialize

DATA = {
    "amount": 1000.0,
    "ratio": 0.5,
    "price": 123.456,
    "whole": 1.0,
    "negative_zero": -0.0,
    "big_whole": 1e20,
    "huge": 1.5e300,
    "past_whole": 1e21,
    "ints": [1, -2, 3],
    "text": "naïve ✓ \u2028",
    "nested": {"list": [2.0, 2.5, {"x": 10.0}], "none": None, "yes": True},
}


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("Node.js is not installed: JSON.stringify cannot be asked")
    return found


def stringify(node: str, text: str) -> bytes:
    script = "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>process.stdout.write(JSON.stringify(JSON.parse(s))))"
    return subprocess.run([node, "-e", script], input=text.encode(), capture_output=True, check=True).stdout


def test_compact_is_what_json_stringify_writes(node):
    assert serialize(DATA, "compact") == stringify(node, json.dumps(DATA))


def test_python_and_sorted_stay_python_s_own_bytes():
    assert serialize(DATA, "python") == json.dumps(DATA).encode()
    assert serialize(DATA, "sorted") == json.dumps(DATA, sort_keys=True).encode()


def test_non_finite_numbers_are_null_as_in_javascript():
    assert serialize({"a": math.nan, "b": [math.inf, -math.inf]}, "compact") == b'{"a":null,"b":[null,null]}'
