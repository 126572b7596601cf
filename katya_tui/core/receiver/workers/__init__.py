"""The receiver's worker processes and the transport they need: the router that hands them `/hooks` connections
(`router.py`), the pool of processes and their links (`pool.py`, frames in `wire.py`), and what runs in each
worker (`process.py`: `/hooks` in `hooks.py` over the narrow HTTP/1.1 server of `http.py` and `head.py`)."""

from .pool import Workers

__all__ = ["Workers"]
