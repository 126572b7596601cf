"""The names of the signature schemes, in canonical order, importable without loading the schemes themselves
(`katya-tui --help` and `sign --help` need only these). `signing/_registry.py` refuses to load if they differ."""

SCHEMES: tuple[str, ...] = (
    "katya",
    "admin",
    "job",
    "wazzup",
    "standard",
    "stripe",
    "github",
    "shopify",
    "slack",
)
