"""The Textual internals the UI relies on (`katya_tui.ui.textual_shim`): fails by name on an upgrade."""

from __future__ import annotations

import pytest
from textual.binding import Binding
from textual.containers import ScrollableContainer

from katya_tui.ui import textual_shim


def test_node_bindings_are_where_the_shim_reads_them():
    textual_shim.check()


def test_node_bindings_list_a_widgets_own_and_inherited_bindings():
    class Pane(ScrollableContainer):
        BINDINGS = [Binding("p", "pause", "Pause", id="pane.pause"), ("r", "replay", "Replay")]

    found = {b.action: b for b in textual_shim.node_bindings(Pane())}
    assert found["pause"].id == "pane.pause" and found["replay"].description == "Replay"
    assert "scroll_up" in found  # ScrollableContainer's


def test_check_names_the_version_when_bindings_move(monkeypatch):
    monkeypatch.setattr(textual_shim, "BindingsMap", dict)
    with pytest.raises(textual_shim.TextualChanged, match=r"textual \d+\.\d+.*DOMNode\._bindings"):
        textual_shim.check()
