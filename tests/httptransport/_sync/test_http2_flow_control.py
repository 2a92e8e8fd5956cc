# Generated from tests/httptransport/_async/test_http2_flow_control.py by scripts/unasync.py: do not edit.  # noqa: E501
"""HTTP/2 flow control: bodies far beyond the windows, and backpressure on a slow reader."""

from __future__ import annotations

import threading
import typing

import pytest

from httptransport import (
    ConnectionPool,
)

h2_events = pytest.importorskip("h2.events")


def test_large_upload_and_download(h2_server: typing.Any, concurrently: typing.Any) -> None:
    """Bodies far beyond the default windows go both ways, streamed or in memory."""
    server = h2_server(tls=False)
    payload = bytes(range(256)) * 8192  # 2 MiB

    def chunks() -> typing.Iterator[bytes]:
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    with ConnectionPool(http1=False, http2=True) as pool:

        def one() -> None:
            response = pool.request("POST", server.url("/echo"), content=payload)
            assert response.content == payload
            response = pool.request("GET", server.url("/bytes/3000000"))
            assert len(response.content) == 3_000_000

        concurrently(one, 3)
        response = pool.request("POST", server.url("/echo"), content=chunks())
        assert response.content == payload


def test_slow_reader_gets_backpressure(h2_peer: typing.Any) -> None:
    """The server can send no more than our stream window until the body is consumed."""
    from httptransport._h2_adapter import STREAM_WINDOW

    total = 4 * 1024 * 1024
    stalled = threading.Event()
    stalls: list[int] = []

    def big_body(peer: typing.Any, index: int) -> None:
        [stream_id] = peer.requests(1)
        conn = peer.h2
        conn.send_headers(stream_id, [(b":status", b"200")])
        sent = 0
        while sent < total:
            size = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            size = min(size, total - sent)
            if size <= 0:
                stalls.append(sent)
                stalled.set()
                peer.flush()
                if peer.until(lambda e: isinstance(e, h2_events.WindowUpdated)) is None:
                    return
                continue
            conn.send_data(stream_id, b"x" * size, end_stream=sent + size == total)
            sent += size
        peer.flush()
        peer.events()

    peer = h2_peer(big_body)
    with ConnectionPool(http1=False, http2=True) as pool:
        with pool.stream("GET", peer.url()) as response:
            body = typing.cast(typing.Iterator[bytes], response.stream)
            received = len(body.__next__())
            assert stalled.wait(10)
            assert stalls[0] <= STREAM_WINDOW
            for chunk in body:
                received += len(chunk)
        assert received == total
    assert len(stalls) > 1
