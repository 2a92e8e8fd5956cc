"""An anyio network backend for netbackend-base: asyncio, uvloop and trio.

``AnyIOBackend`` implements :class:`netbackend_base.AsyncNetworkBackend`. Its streams
(:class:`netbackend_base.AsyncNetworkStream`) are ``AsyncioStream`` objects on asyncio
(and uvloop): an asyncio protocol with its own buffer, the fastest way to drive a socket
there. On trio, and for TLS inside TLS, they are ``AnyIOStream`` objects over anyio's
streams. It only raises the exceptions of :mod:`netbackend_base`, plus the event loop's
own cancellation.
"""

from __future__ import annotations

from .__about__ import __version__ as __version__
from ._asyncio_stream import AsyncioStream as AsyncioStream
from ._backend import AnyIOBackend as AnyIOBackend
from ._stream import AnyIOStream as AnyIOStream

__all__ = ("AnyIOBackend", "AnyIOStream", "AsyncioStream", "__version__")
