"""HTTP/1.1 trailers (RFC 9112 section 7.1.2) in ``extensions["trailers"]``, as HTTP/2's."""

from __future__ import annotations

import pytest

from httptransport import AsyncHTTP11Connection, Origin, RemoteProtocolError

netbackend_mock = pytest.importorskip("netbackend_mock")

ORIGIN = Origin(b"http", b"example.com", 80)
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Checksum\r\n\r\n"


async def _connection(chunks: list[bytes]) -> AsyncHTTP11Connection:
    stream = await netbackend_mock.AsyncMockBackend(chunks).connect_tcp("example.com", 80)
    return AsyncHTTP11Connection(ORIGIN, stream)


@pytest.mark.anyio
async def test_chunked_trailers_are_exposed_once_the_body_ends() -> None:
    """The trailer fields arrive with the body's end, with the server's spelling, and
    the connection is kept for the next request."""
    conn = await _connection(
        [
            CHUNKED,
            b"5\r\nhello\r\n0\r\nChecksum: abc\r\nX-Other:  two words \r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ]
    )
    async with conn.stream("GET", "http://example.com/") as response:
        trailers = response.extensions["trailers"]
        assert trailers == []  # nothing yet: they follow the body
        assert await response.aread() == b"hello"
    assert trailers == [(b"Checksum", b"abc"), (b"X-Other", b"two words")]
    assert conn.is_idle()
    second = await conn.request("GET", "http://example.com/")
    assert second.content == b"ok"
    assert second.extensions["trailers"] == []  # the lean path: a body with no trailers


@pytest.mark.anyio
async def test_chunked_body_without_trailers() -> None:
    conn = await _connection([CHUNKED, b"2\r\nhi\r\n0\r\n\r\n"])
    response = await conn.request("GET", "http://example.com/")
    assert response.content == b"hi"
    assert response.extensions["trailers"] == []


@pytest.mark.anyio
async def test_malformed_trailer_is_a_remote_protocol_error() -> None:
    conn = await _connection([CHUNKED, b"2\r\nhi\r\n0\r\nno colon here\r\n\r\n"])
    with pytest.raises(RemoteProtocolError):
        await conn.request("GET", "http://example.com/")
    assert conn.is_closed()
