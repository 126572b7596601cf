"""The headless core: no Textual, no Rich."""
