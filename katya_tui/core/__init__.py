"""The headless core: no Textual, no Rich.

httpx imports its optional command-line client (which pulls in Rich and Pygments) whenever those happen to be
installed, as they are beside Textual. The core never uses that client; marking it absent before httpx is first
imported keeps the core free of Rich. httpx's own API is unaffected.
"""

import sys

# (None in sys.modules is how the import system marks a module absent; typeshed admits modules only)
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
