"""How socket and TLS errors become :mod:`netbackend_base` exceptions.

The stream and connect code catch ``OSError`` (``ssl.SSLError`` and ``TimeoutError`` are
subclasses) only on the failure path and hand it to :func:`reraise`, so the success path
pays for no context manager. A "would block" error counts as a timeout: it only happens
when a deadline has already run out and the socket was switched to non-blocking.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Mapping

from netbackend_base import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ReadError,
    ReadTimeout,
    TimeoutException,
    WriteError,
    WriteTimeout,
    map_exceptions,
    tls_failure_message,
)

__all__ = (
    "CONNECT_ERRORS",
    "HANDSHAKE_ERRORS",
    "READ_ERRORS",
    "WRITE_ERRORS",
    "handshake_failed",
    "reraise",
)

ErrorMapping = Mapping[type[BaseException], type[Exception]]

_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def _errors(timeout: type[Exception], error: type[Exception]) -> ErrorMapping:
    mapping: dict[type[BaseException], type[Exception]] = {TimeoutError: timeout}
    mapping.update(dict.fromkeys(_WOULD_BLOCK, timeout))
    mapping[OSError] = error
    return mapping


READ_ERRORS = _errors(ReadTimeout, ReadError)
WRITE_ERRORS = _errors(WriteTimeout, WriteError)
# ValueError covers the ssl module's argument checks (check_hostname without a server
# name) and host names that cannot be IDNA-encoded: both mean "cannot connect".
CONNECT_ERRORS = {**_errors(ConnectTimeout, ConnectError), ValueError: ConnectError}
# A TLS handshake over another stream sees that stream's read/write errors too.
HANDSHAKE_ERRORS = {TimeoutException: ConnectTimeout, NetworkError: ConnectError, **CONNECT_ERRORS}


def reraise(mapping: ErrorMapping) -> typing.NoReturn:
    """Re-raise the exception being handled, translated through ``mapping``.

    Call it only inside an ``except`` block. Exceptions no key matches (and
    ``BaseException`` such as ``KeyboardInterrupt``) propagate unchanged.
    """
    with map_exceptions(mapping):
        raise


def handshake_failed(exc: BaseException, server_hostname: str | None) -> typing.NoReturn:
    """Re-raise ``exc``, raised by a TLS client handshake, as a ``netbackend_base`` error.

    Call it only inside the ``except`` block that caught ``exc``. A timeout becomes
    ``ConnectTimeout``; a failure becomes ``ConnectError`` whose message names the cause
    (``netbackend_base.tls_failure_message``: an expired certificate, a host name
    mismatch, ...), chained to ``exc``. Anything else propagates unchanged.
    """
    for from_exc, to_exc in HANDSHAKE_ERRORS.items():
        if isinstance(exc, from_exc):
            if to_exc is ConnectError:
                raise ConnectError(tls_failure_message(exc, server_hostname)) from exc
            break
    reraise(HANDSHAKE_ERRORS)
