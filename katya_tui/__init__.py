"""katya-tui: a terminal workbench for webhooks."""

__version__ = "0.1.0"
