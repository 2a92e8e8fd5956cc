"""The network exception hierarchy shared by every backend.

Backends raise only these (plus the caller's own cancellation); each one maps its
library's errors at the boundary, so code above the interface never sees an
``OSError``, an ``ssl.SSLError`` or an anyio/trio exception.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

__all__ = (
    "BackendNotFoundError",
    "ConnectError",
    "ConnectTimeout",
    "NetworkError",
    "ReadError",
    "ReadTimeout",
    "TimeoutException",
    "WriteError",
    "WriteTimeout",
    "map_exceptions",
)


class TimeoutException(Exception):
    """An operation did not finish within its timeout."""


class ConnectTimeout(TimeoutException):
    """Opening the connection (TCP, or the TLS handshake) timed out."""


class ReadTimeout(TimeoutException):
    """No data arrived within the read timeout."""


class WriteTimeout(TimeoutException):
    """The peer did not accept our data within the write timeout."""


class NetworkError(Exception):
    """The network failed: the connection could not be made, or broke."""


class ConnectError(NetworkError):
    """The connection could not be established (refused, unreachable, TLS failure)."""


class ReadError(NetworkError):
    """Receiving failed (connection reset, TLS error while reading)."""


class WriteError(NetworkError):
    """Sending failed (broken pipe, connection reset, TLS error while writing)."""


class BackendNotFoundError(ImportError):
    """No installed backend fits the calling context; the message says what to install."""


ExceptionMapping = Mapping[type[BaseException], type[Exception]]


@contextlib.contextmanager
def map_exceptions(mapping: ExceptionMapping) -> Iterator[None]:
    """Re-raise any exception that is an instance of a key as the mapped type.

    The first matching key wins, so list subclasses before their bases. The original
    exception is chained as ``__cause__`` and its text kept as the message.
    """
    try:
        yield
    except Exception as exc:
        for from_exc, to_exc in mapping.items():
            if isinstance(exc, from_exc):
                raise to_exc(_describe(exc)) from exc
        raise


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
