"""A response body that reports ``receive_response_body`` and ``response_closed``.

Wrapped around the body of a traced request by the HTTP/1.1 and HTTP/2 connections
(see :mod:`httptransport._trace`); an untraced request's body is never wrapped.
"""

from __future__ import annotations

import logging
import typing

from .._models import Request
from .._trace import Trace

__all__ = ("AsyncTracedBody", "AsyncTracedBodyInner")


class AsyncTracedBodyInner(typing.Protocol):
    """What a traced body needs of the body it wraps."""

    complete: bool

    def __aiter__(self) -> typing.AsyncIterator[bytes]: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


class AsyncTracedBody:
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
        inner: AsyncTracedBodyInner,
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

    def __aiter__(self) -> AsyncTracedBody:
        return self

    async def __anext__(self) -> bytes:
        trace = self._trace
        if trace is None:
            request = self._request
            info: dict[str, typing.Any] = {"request": request}
            if self._stream_id is not None:
                info["stream_id"] = self._stream_id
            trace = self._trace = Trace("receive_response_body", self._logger, request, info)
            await trace.__aenter__()
        try:
            return await self._inner.__anext__()
        except StopAsyncIteration:
            await trace.__aexit__(None, None, None)
            raise
        except BaseException as exc:
            await trace.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def aclose(self) -> None:
        """Close the inner body, reporting ``response_closed``."""
        info = None if self._stream_id is None else {"stream_id": self._stream_id}
        async with Trace("response_closed", self._logger, self._request, info):
            await self._inner.aclose()
