"""Command-line tools of katya-tui, added to the main CLI."""
