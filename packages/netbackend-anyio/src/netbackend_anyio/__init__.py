"""An anyio network backend for netbackend-base: asyncio, uvloop and trio.

``AnyIOBackend`` implements :class:`netbackend_base.AsyncNetworkBackend` and returns
``AnyIOStream`` objects (:class:`netbackend_base.AsyncNetworkStream`). It only raises the
exceptions of :mod:`netbackend_base`, plus the event loop's own cancellation.
"""

from __future__ import annotations

from .__about__ import __version__ as __version__
from ._backend import AnyIOBackend as AnyIOBackend
from ._stream import AnyIOStream as AnyIOStream

__all__ = ("AnyIOBackend", "AnyIOStream", "__version__")
