"""The core never imports Textual or Rich: it runs headless."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = """
import pkgutil, importlib, sys
import katya_tui.core as core
for m in pkgutil.walk_packages(core.__path__, "katya_tui.core."):
    importlib.import_module(m.name)
import katya_tui.serve, katya_tui.config
bad = sorted(n for n in sys.modules if n.split(".")[0] in ("textual", "rich"))
print(",".join(bad))
"""


def test_core_loads_neither_textual_nor_rich():
    out = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    assert out.stdout.strip() == "", f"the core pulled in: {out.stdout.strip()}"
