"""The async connection classes; the sync ones in ``_sync`` are generated from these."""

from __future__ import annotations

from .connection import AsyncHTTPConnection as AsyncHTTPConnection
from .connection_pool import AsyncConnectionPool as AsyncConnectionPool
from .http2 import AsyncHTTP2Connection as AsyncHTTP2Connection
from .http11 import AsyncHTTP11Connection as AsyncHTTP11Connection
from .http_proxy import AsyncHTTPProxy as AsyncHTTPProxy
from .interfaces import AsyncConnectionInterface as AsyncConnectionInterface
from .socks_proxy import AsyncSOCKSProxy as AsyncSOCKSProxy

__all__ = (
    "AsyncConnectionInterface",
    "AsyncConnectionPool",
    "AsyncHTTP2Connection",
    "AsyncHTTP11Connection",
    "AsyncHTTPConnection",
    "AsyncHTTPProxy",
    "AsyncSOCKSProxy",
)
