"""The exceptions httptransport raises, in httpcore 1.0's hierarchy.

The network exceptions are netbackend_base's own classes, not copies: an error a
backend raises is caught by ``except httptransport.ReadError`` unchanged. The others
belong to the HTTP layer and the pool::

    Exception
    ├── ConnectionNotAvailable      (internal: a connection cannot take the request)
    ├── ProxyError                  (the proxy refused the tunnel / SOCKS handshake)
    ├── UnsupportedProtocol         (URL scheme or host missing or not supported)
    ├── ProtocolError
    │   ├── LocalProtocolError      (we were about to send something invalid)
    │   └── RemoteProtocolError     (the server sent something invalid, or hung up)
    ├── TimeoutException
    │   ├── PoolTimeout             (no connection freed up in time)
    │   ├── ConnectTimeout, ReadTimeout, WriteTimeout
    └── NetworkError
        └── ConnectError, ReadError, WriteError
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from netbackend_base import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ReadError,
    ReadTimeout,
    TimeoutException,
    WriteError,
    WriteTimeout,
)

__all__ = (
    "ConnectError",
    "ConnectTimeout",
    "ConnectionNotAvailable",
    "LocalProtocolError",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "TimeoutException",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "map_exceptions",
)


class ConnectionNotAvailable(Exception):
    """The chosen connection cannot take this request; the pool retries on another.

    Raised by a connection that is closing, already busy (HTTP/1.1), or out of stream
    ids (HTTP/2). Pools catch it; it does not normally reach user code.
    """


class ProxyError(Exception):
    """The proxy refused to set up the tunnel or the SOCKS handshake failed."""


class UnsupportedProtocol(Exception):
    """The URL's scheme is missing or not supported, or it has no host."""


class ProtocolError(Exception):
    """An HTTP protocol violation, by either side."""


class RemoteProtocolError(ProtocolError):
    """The server violated the protocol, or closed the connection mid-exchange."""


class LocalProtocolError(ProtocolError):
    """The request could not be sent because it would violate the protocol."""


class PoolTimeout(TimeoutException):
    """No connection in the pool became available within the ``pool`` timeout."""


@contextlib.contextmanager
def map_exceptions(mapping: Mapping[type[BaseException], type[Exception]]) -> Iterator[None]:
    """Re-raise any exception that is an instance of a key as the mapped type.

    The first matching key wins. The new exception carries the original's message as
    it is (as httpcore's does: ``str(exc)`` is h11's own text) and chains it as
    ``__cause__``.
    """
    try:
        yield
    except Exception as exc:
        for from_exc, to_exc in mapping.items():
            if isinstance(exc, from_exc):
                raise to_exc(exc) from exc
        raise
