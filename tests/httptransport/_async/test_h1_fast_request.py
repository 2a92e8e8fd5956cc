"""``request()`` reads and closes an HTTP/1.1 body in one call into it
(``read_and_close``): what it returns and leaves behind is what ``aread()`` then
``aclose()`` give, body by body (whole in the buffer, split over reads, h11-framed,
empty, cut short), and a response of another class still gets both calls."""

from __future__ import annotations

import typing

import pytest

import netbackend_mock
from httptransport import (
    AsyncConnectionPool,
    RemoteProtocolError,
    Request,
    Response,
)
from httptransport._async.http11_body import AsyncFixedBody
from httptransport._async.interfaces import AsyncRequestInterface
from httptransport._models import AsyncWholeBody

FIXED = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"]
SPLIT = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe", b"llo"]
CHUNKED = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"]
EMPTY = [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
SHORT = [b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello"]
CLOSE = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"]

IDLE = "Requests: 0 active, 0 queued | Connections: 0 active, 1 idle]>"
GONE = "Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"


def _counts(pool: AsyncConnectionPool) -> str:
    return repr(pool).split("[", 1)[1]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("script", "content", "counts", "closed"),
    [
        (FIXED, b"hello", IDLE, False),
        (SPLIT, b"hello", IDLE, False),
        (CHUNKED, b"hello", IDLE, False),
        (EMPTY, b"", IDLE, False),
        (CLOSE, b"hello", GONE, True),
    ],
    ids=["fixed", "split", "chunked", "empty", "close"],
)
async def test_request_reads_the_whole_body_and_hands_the_connection_back(
    script: list[bytes], content: bytes, counts: str, closed: bool
) -> None:
    """Twice on one pool: the content, the pool's counts, whether the stream was
    closed; the response is read (its content is there, its stream consumed)."""
    backend = netbackend_mock.AsyncMockBackend(script * 2)
    async with AsyncConnectionPool(network_backend=backend) as pool:
        for _ in range(2):
            response = await pool.request("GET", "http://example.com/")
            assert response.content == content
            assert _counts(pool) == counts
            assert response.extensions["trailers"] == []
            with pytest.raises(RuntimeError, match="may only be iterated once"):
                async for _ in response.aiter_stream():
                    pass  # pragma: no cover
            await response.aclose()  # (closing again changes nothing)
            assert _counts(pool) == counts
        assert [stream.closed for stream in backend.streams] == [closed] * (1 + closed)


@pytest.mark.anyio
async def test_request_whose_body_is_cut_short_drops_the_connection() -> None:
    backend = netbackend_mock.AsyncMockBackend(SHORT)
    async with AsyncConnectionPool(network_backend=backend) as pool:
        with pytest.raises(RemoteProtocolError, match="4 bytes missing"):
            await pool.request("GET", "http://example.com/")
        assert _counts(pool) == GONE
        assert backend.streams[0].closed


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("script", "closes"),
    [(FIXED, 0), (SPLIT, 0), (EMPTY, 0), (SHORT, 1)],
    ids=["fixed", "split", "empty", "short"],
)
async def test_read_and_close_skips_only_a_close_with_nothing_to_do(
    script: list[bytes], closes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fixed body read to its end is complete and has handed its connection back, so
    its aclose() is not called then; when reading fails, it is."""
    called: list[AsyncFixedBody] = []
    real_aclose = AsyncFixedBody.aclose

    async def watched_aclose(self: AsyncFixedBody) -> None:
        called.append(self)
        await real_aclose(self)

    monkeypatch.setattr(AsyncFixedBody, "aclose", watched_aclose)
    backend = netbackend_mock.AsyncMockBackend(script)
    async with AsyncConnectionPool(network_backend=backend) as pool:
        if closes:
            with pytest.raises(RemoteProtocolError, match="4 bytes missing"):
                await pool.request("GET", "http://example.com/")
        else:
            response = await pool.request("GET", "http://example.com/")
            assert response.content == (b"" if script is EMPTY else b"hello")
        assert len(called) == closes
        assert _counts(pool) == (GONE if closes else IDLE)


class _Recorded(AsyncWholeBody):
    """A whole body that records the calls the default read_and_close() makes."""

    def __init__(self, fail: bool) -> None:
        self.calls: list[str] = []
        self.fail = fail

    async def aread(self) -> bytes:
        self.calls.append("aread")
        if self.fail:
            raise RemoteProtocolError("cut")
        return b"data"

    async def aclose(self) -> None:
        self.calls.append("aclose")


@pytest.mark.anyio
async def test_default_read_and_close_reads_then_closes() -> None:
    body = _Recorded(fail=False)
    assert await body.read_and_close() == b"data"
    assert body.calls == ["aread", "aclose"]
    body = _Recorded(fail=True)
    with pytest.raises(RemoteProtocolError, match="cut"):
        await body.read_and_close()
    assert body.calls == ["aread", "aclose"]


class _OwnResponse(Response):
    """A response class of a connection's own: request() must use its methods."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__(200, content=b"")
        self.stream = _Recorded(fail=False)  # type: ignore[assignment]
        self.calls = calls

    async def aread(self) -> bytes:
        self.calls.append("response.aread")
        return await super().aread()

    async def aclose(self) -> None:
        self.calls.append("response.aclose")
        await super().aclose()


class _Direct(AsyncRequestInterface):
    """Answers every request with a response of its own class, body and all."""

    def __init__(self, response: Response) -> None:
        self.response = response

    async def handle_async_request(self, request: Request) -> Response:
        return self.response


@pytest.mark.anyio
async def test_request_calls_a_response_subclass_own_methods() -> None:
    calls: list[str] = []
    response = await _Direct(_OwnResponse(calls)).request("GET", "http://example.com/")
    assert response.content == b"data"
    assert calls == ["response.aread", "response.aclose"]
    assert typing.cast(_Recorded, response.stream).calls == ["aread", "aclose"]


@pytest.mark.anyio
async def test_request_reads_a_plain_response_body_in_one_call() -> None:
    """Our own Response class with a whole body: one read_and_close(), which reads and
    closes; an already read response is not read again."""
    plain = Response(200)
    plain.stream = _Recorded(fail=False)  # type: ignore[assignment]
    response = await _Direct(plain).request("GET", "http://example.com/")
    assert response.content == b"data"
    assert typing.cast(_Recorded, response.stream).calls == ["aread", "aclose"]
    response = await _Direct(plain).request("GET", "http://example.com/")
    assert response.content == b"data"
    assert typing.cast(_Recorded, response.stream).calls == ["aread", "aclose", "aclose"]
