"""The async connection classes; the sync ones in ``_sync`` are generated from these."""

from __future__ import annotations

from .connection import AsyncHTTPConnection as AsyncHTTPConnection
from .connection_pool import AsyncConnectionPool as AsyncConnectionPool
from .http11 import AsyncHTTP11Connection as AsyncHTTP11Connection
from .interfaces import AsyncConnectionInterface as AsyncConnectionInterface

__all__ = (
    "AsyncConnectionInterface",
    "AsyncConnectionPool",
    "AsyncHTTP11Connection",
    "AsyncHTTPConnection",
)
