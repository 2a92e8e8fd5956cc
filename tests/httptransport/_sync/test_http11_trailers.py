# Generated from tests/httptransport/_async/test_http11_trailers.py by scripts/unasync.py: do not edit.  # noqa: E501
"""HTTP/1.1 trailers (RFC 9112 section 7.1.2) in ``extensions["trailers"]``, as HTTP/2's."""

from __future__ import annotations

import pytest

from httptransport import HTTP11Connection, Origin, RemoteProtocolError

netbackend_mock = pytest.importorskip("netbackend_mock")

ORIGIN = Origin(b"http", b"example.com", 80)
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Checksum\r\n\r\n"


def _connection(chunks: list[bytes]) -> HTTP11Connection:
    stream = netbackend_mock.MockBackend(chunks).connect_tcp("example.com", 80)
    return HTTP11Connection(ORIGIN, stream)


def test_chunked_trailers_are_exposed_once_the_body_ends() -> None:
    """The trailer fields arrive with the body's end, with the server's spelling, and
    the connection is kept for the next request."""
    conn = _connection(
        [
            CHUNKED,
            b"5\r\nhello\r\n0\r\nChecksum: abc\r\nX-Other:  two words \r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ]
    )
    with conn.stream("GET", "http://example.com/") as response:
        trailers = response.extensions["trailers"]
        assert trailers == []  # nothing yet: they follow the body
        assert response.read() == b"hello"
    assert trailers == [(b"Checksum", b"abc"), (b"X-Other", b"two words")]
    assert conn.is_idle()
    second = conn.request("GET", "http://example.com/")
    assert second.content == b"ok"
    assert second.extensions["trailers"] == []  # the lean path: a body with no trailers


def test_chunked_body_without_trailers() -> None:
    conn = _connection([CHUNKED, b"2\r\nhi\r\n0\r\n\r\n"])
    response = conn.request("GET", "http://example.com/")
    assert response.content == b"hi"
    assert response.extensions["trailers"] == []


def test_malformed_trailer_is_a_remote_protocol_error() -> None:
    conn = _connection([CHUNKED, b"2\r\nhi\r\n0\r\nno colon here\r\n\r\n"])
    with pytest.raises(RemoteProtocolError):
        conn.request("GET", "http://example.com/")
    assert conn.is_closed()
