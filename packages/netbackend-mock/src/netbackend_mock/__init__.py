"""Byte-scripted mock network backends for testing code built on netbackend-base."""

from __future__ import annotations

from .__about__ import __version__ as __version__
from ._async import AsyncMockBackend as AsyncMockBackend
from ._async import AsyncMockStream as AsyncMockStream
from ._common import ConnectCall as ConnectCall
from ._common import MockSSLObject as MockSSLObject
from ._common import StartTLSCall as StartTLSCall
from ._sync import MockBackend as MockBackend
from ._sync import MockStream as MockStream

__all__ = (
    "AsyncMockBackend",
    "AsyncMockStream",
    "ConnectCall",
    "MockBackend",
    "MockSSLObject",
    "MockStream",
    "StartTLSCall",
    "__version__",
)
