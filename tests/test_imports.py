"""Every module imports on its own (no import order hides a cycle), and the offline tools stay light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "katya_tui"


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue  # (runs the CLI)
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


# One process per module, each forked from a parent that has imported the libraries (so that each child pays only
# for the project's own modules) but no module of katya_tui: every child imports its module first.
EACH_ALONE = """
import importlib, json, os, sys, traceback
for lib in ("aiohttp.web", "click", "httpx", "httptools", "orjson", "tinydb", "textual.app", "textual.widgets"):
    importlib.import_module(lib)
assert not any(m.startswith("katya_tui") for m in sys.modules)
errors = {}
for name in sys.argv[1:]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            importlib.import_module(name)
            msg = b""
        except BaseException:
            msg = traceback.format_exc().encode()
        os.write(w, msg)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read()
    _, status = os.waitpid(pid, 0)
    errors[name] = msg.decode() or ("" if status == 0 else f"the child ended with status {status}")
print(json.dumps(errors))
"""


@pytest.fixture(scope="module")
def import_errors() -> dict[str, str]:
    out = _python(EACH_ALONE, *_modules())
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_every_module_is_found():
    names = _modules()
    assert {
        "katya_tui.cli",
        "katya_tui.commands.publish",
        "katya_tui.core.service",
        "katya_tui.ui.app",
    } <= set(names)


@pytest.mark.parametrize("name", _modules())
def test_module_imports_alone_in_a_fresh_process(import_errors, name):
    assert name in import_errors, f"{name} was not tried"
    assert import_errors[name] == "", f"import {name} failed on its own:\n{import_errors[name]}"


LIGHT = """
import sys
from click.testing import CliRunner
from katya_tui.cli import main

runner = CliRunner()
for args, stdin in (
    (["--help"], None),
    (["sign", "--help"], None),
    (["verify", "--help"], None),
    (["sign", "--scheme", "katya", "--secret", "s3cret", "--timestamp", "1700000000", "-"], b"{}"),
    (["verify", "--secret", "s3cret", "--header", "X-Katya-Signature: sha256=00", "-"], b"{}"),
):
    result = runner.invoke(main, args, input=stdin)
    assert result.exit_code in (0, 1), (args, result.output, result.exception)
    assert result.output.strip(), args
print(",".join(sorted(m for m in ("aiohttp", "httpx", "textual", "rich", "tinydb", "katya_tui.core.service")
                      if m in sys.modules)))
"""


def test_help_sign_and_verify_load_neither_the_server_nor_the_ui():
    out = _python(LIGHT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"the offline commands pulled in: {out.stdout.strip()}"
