"""A blocking-socket network backend: TCP (Happy Eyeballs), Unix sockets, TLS, TLS-in-TLS."""

from __future__ import annotations

from .__about__ import __version__ as __version__
from ._backend import SyncBackend as SyncBackend
from ._stream import SyncStream as SyncStream
from ._stream import SyncTLSStream as SyncTLSStream

__all__ = ("SyncBackend", "SyncStream", "SyncTLSStream", "__version__")
