# Generated from packages/httptransport/src/httptransport/_async/traced_body.py by scripts/unasync.py: do not edit.  # noqa: E501
"""A response body that reports ``receive_response_body`` and ``response_closed``.

Wrapped around the body of a traced request by the HTTP/1.1 and HTTP/2 connections
(see :mod:`httptransport._trace`); an untraced request's body is never wrapped.
"""

from __future__ import annotations

import logging
import typing

from .._models import Request
from .._trace import Trace

__all__ = ("TracedBody", "TracedBodyInner")


class TracedBodyInner(typing.Protocol):
    """What a traced body needs of the body it wraps."""

    complete: bool

    def __iter__(self) -> typing.Iterator[bytes]: ...

    def __next__(self) -> bytes: ...

    def close(self) -> None: ...


class TracedBody:
    """Reports ``receive_response_body`` and ``response_closed`` around a body.

    Args:
        inner: The connection's body.
        request: The request the response answers (its ``trace`` extension).
        logger: The connection's logger, whose name gives the events their prefix.
        stream_id: The HTTP/2 stream, reported with both events as httpcore does.
    """

    __slots__ = ("_inner", "_logger", "_request", "_stream_id", "_trace")

    def __init__(
        self,
        inner: TracedBodyInner,
        request: Request,
        logger: logging.Logger,
        stream_id: int | None = None,
    ) -> None:
        self._inner = inner
        self._request = request
        self._logger = logger
        self._stream_id = stream_id
        self._trace: Trace | None = None

    @property
    def complete(self) -> bool:
        """Whether the inner body has been read to its end."""
        return self._inner.complete

    def __iter__(self) -> TracedBody:
        return self

    def __next__(self) -> bytes:
        trace = self._trace
        if trace is None:
            request = self._request
            info: dict[str, typing.Any] = {"request": request}
            if self._stream_id is not None:
                info["stream_id"] = self._stream_id
            trace = self._trace = Trace("receive_response_body", self._logger, request, info)
            trace.__enter__()
        try:
            return self._inner.__next__()
        except StopIteration:
            trace.__exit__(None, None, None)
            raise
        except BaseException as exc:
            trace.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def close(self) -> None:
        """Close the inner body, reporting ``response_closed``."""
        info = None if self._stream_id is None else {"stream_id": self._stream_id}
        with Trace("response_closed", self._logger, self._request, info):
            self._inner.close()
