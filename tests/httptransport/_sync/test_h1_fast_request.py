# Generated from tests/httptransport/_async/test_h1_fast_request.py by scripts/unasync.py: do not edit.  # noqa: E501
"""``request()`` reads and closes an HTTP/1.1 body in one call into it
(``read_and_close``): what it returns and leaves behind is what ``read()`` then
``close()`` give, body by body (whole in the buffer, split over reads, h11-framed,
empty, cut short), and a response of another class still gets both calls."""

from __future__ import annotations

import typing

import pytest

import netbackend_mock
from httptransport import (
    ConnectionPool,
    RemoteProtocolError,
    Request,
    Response,
)
from httptransport._models import WholeBody
from httptransport._sync.http11_body import FixedBody
from httptransport._sync.interfaces import RequestInterface

FIXED = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"]
SPLIT = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe", b"llo"]
CHUNKED = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"]
EMPTY = [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
SHORT = [b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello"]
CLOSE = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"]

IDLE = "Requests: 0 active, 0 queued | Connections: 0 active, 1 idle]>"
GONE = "Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"


def _counts(pool: ConnectionPool) -> str:
    return repr(pool).split("[", 1)[1]


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
def test_request_reads_the_whole_body_and_hands_the_connection_back(
    script: list[bytes], content: bytes, counts: str, closed: bool
) -> None:
    """Twice on one pool: the content, the pool's counts, whether the stream was
    closed; the response is read (its content is there, its stream consumed)."""
    backend = netbackend_mock.MockBackend(script * 2)
    with ConnectionPool(network_backend=backend) as pool:
        for _ in range(2):
            response = pool.request("GET", "http://example.com/")
            assert response.content == content
            assert _counts(pool) == counts
            assert response.extensions["trailers"] == []
            with pytest.raises(RuntimeError, match="may only be iterated once"):
                for _ in response.iter_stream():
                    pass  # pragma: no cover
            response.close()  # (closing again changes nothing)
            assert _counts(pool) == counts
        assert [stream.closed for stream in backend.streams] == [closed] * (1 + closed)


def test_request_whose_body_is_cut_short_drops_the_connection() -> None:
    backend = netbackend_mock.MockBackend(SHORT)
    with ConnectionPool(network_backend=backend) as pool:
        with pytest.raises(RemoteProtocolError, match="4 bytes missing"):
            pool.request("GET", "http://example.com/")
        assert _counts(pool) == GONE
        assert backend.streams[0].closed


@pytest.mark.parametrize(
    ("script", "closes"),
    [(FIXED, 0), (SPLIT, 0), (EMPTY, 0), (SHORT, 1)],
    ids=["fixed", "split", "empty", "short"],
)
def test_read_and_close_skips_only_a_close_with_nothing_to_do(
    script: list[bytes], closes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fixed body read to its end is complete and has handed its connection back, so
    its close() is not called then; when reading fails, it is."""
    called: list[FixedBody] = []
    real_aclose = FixedBody.close

    def watched_aclose(self: FixedBody) -> None:
        called.append(self)
        real_aclose(self)

    monkeypatch.setattr(FixedBody, "close", watched_aclose)
    backend = netbackend_mock.MockBackend(script)
    with ConnectionPool(network_backend=backend) as pool:
        if closes:
            with pytest.raises(RemoteProtocolError, match="4 bytes missing"):
                pool.request("GET", "http://example.com/")
        else:
            response = pool.request("GET", "http://example.com/")
            assert response.content == (b"" if script is EMPTY else b"hello")
        assert len(called) == closes
        assert _counts(pool) == (GONE if closes else IDLE)


class _Recorded(WholeBody):
    """A whole body that records the calls the default read_and_close() makes."""

    def __init__(self, fail: bool) -> None:
        self.calls: list[str] = []
        self.fail = fail

    def read(self) -> bytes:
        self.calls.append("read")
        if self.fail:
            raise RemoteProtocolError("cut")
        return b"data"

    def close(self) -> None:
        self.calls.append("close")


def test_default_read_and_close_reads_then_closes() -> None:
    body = _Recorded(fail=False)
    assert body.read_and_close() == b"data"
    assert body.calls == ["read", "close"]
    body = _Recorded(fail=True)
    with pytest.raises(RemoteProtocolError, match="cut"):
        body.read_and_close()
    assert body.calls == ["read", "close"]


class _OwnResponse(Response):
    """A response class of a connection's own: request() must use its methods."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__(200, content=b"")
        self.stream = _Recorded(fail=False)  # type: ignore[assignment]
        self.calls = calls

    def read(self) -> bytes:
        self.calls.append("response.read")
        return super().read()

    def close(self) -> None:
        self.calls.append("response.close")
        super().close()


class _Direct(RequestInterface):
    """Answers every request with a response of its own class, body and all."""

    def __init__(self, response: Response) -> None:
        self.response = response

    def handle_request(self, request: Request) -> Response:
        return self.response


def test_request_calls_a_response_subclass_own_methods() -> None:
    calls: list[str] = []
    response = _Direct(_OwnResponse(calls)).request("GET", "http://example.com/")
    assert response.content == b"data"
    assert calls == ["response.read", "response.close"]
    assert typing.cast(_Recorded, response.stream).calls == ["read", "close"]


def test_request_reads_a_plain_response_body_in_one_call() -> None:
    """Our own Response class with a whole body: one read_and_close(), which reads and
    closes; an already read response is not read again."""
    plain = Response(200)
    plain.stream = _Recorded(fail=False)  # type: ignore[assignment]
    response = _Direct(plain).request("GET", "http://example.com/")
    assert response.content == b"data"
    assert typing.cast(_Recorded, response.stream).calls == ["read", "close"]
    response = _Direct(plain).request("GET", "http://example.com/")
    assert response.content == b"data"
    assert typing.cast(_Recorded, response.stream).calls == ["read", "close", "close"]
