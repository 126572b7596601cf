"""Relay channels: serve an endpoint's captures as server-sent events (`channel.py`, smee.io's shape), and follow
such a channel, katya-tui's or smee.io's, into local captures (`follow.py`)."""

from .channel import Channels
from .follow import Follower

__all__ = ["Channels", "Follower"]
