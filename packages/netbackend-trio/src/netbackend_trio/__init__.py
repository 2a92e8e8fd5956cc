"""A native trio network backend for netbackend-base.

``TrioBackend`` implements :class:`netbackend_base.AsyncNetworkBackend` and returns
``TrioStream`` objects (:class:`netbackend_base.AsyncNetworkStream`). It only raises the
exceptions of :mod:`netbackend_base`, plus ``trio.Cancelled``.
"""

from __future__ import annotations

from .__about__ import __version__ as __version__
from ._backend import TrioBackend as TrioBackend
from ._stream import TrioStream as TrioStream

__all__ = ("TrioBackend", "TrioStream", "__version__")
