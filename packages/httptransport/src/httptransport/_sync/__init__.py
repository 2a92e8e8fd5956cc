# Generated from packages/httptransport/src/httptransport/_async/__init__.py by scripts/unasync.py: do not edit.  # noqa: E501
"""The async connection classes; the sync ones in ``_sync`` are generated from these."""

from __future__ import annotations

from .connection import HTTPConnection as HTTPConnection
from .connection_pool import ConnectionPool as ConnectionPool
from .http2 import HTTP2Connection as HTTP2Connection
from .http11 import HTTP11Connection as HTTP11Connection
from .http_proxy import HTTPProxy as HTTPProxy
from .interfaces import ConnectionInterface as ConnectionInterface
from .socks_proxy import SOCKSProxy as SOCKSProxy

__all__ = (
    "ConnectionInterface",
    "ConnectionPool",
    "HTTP2Connection",
    "HTTP11Connection",
    "HTTPConnection",
    "HTTPProxy",
    "SOCKSProxy",
)
