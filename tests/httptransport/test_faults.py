"""The pools under injected network faults, against the real loopback server.

The installed backend for the context (the blocking one, or the one for the running
event loop) is wrapped in netbackend-mock's FaultyBackend / AsyncFaultyBackend, so the
bytes really cross a socket and only the faults are made up. Each test pins the exact
exception the pool raises and that no connection is left behind.
"""

from __future__ import annotations

import typing

import pytest

from httptransport import (
    AsyncConnectionPool,
    ConnectError,
    ConnectionPool,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    Response,
)
from netbackend_base import default_async_backend, default_backend

netbackend_mock = pytest.importorskip("netbackend_mock")

if typing.TYPE_CHECKING:
    from netbackend_mock import ConnectionFaults as ConnectionFaults
    from netbackend_mock import FaultEvent as FaultEvent
    from netbackend_mock import Faults as Faults
else:
    ConnectionFaults = netbackend_mock.ConnectionFaults
    FaultEvent = netbackend_mock.FaultEvent
    Faults = netbackend_mock.Faults

EMPTY = "<{} [Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"
SHORT = ConnectionFaults(max_read_bytes=1, max_write_bytes=7)
BODY = bytes(range(256)) * 20  # 5 KiB: hundreds of 7-byte writes


def faulty(plan: Faults) -> typing.Any:
    """The blocking backend the matrix installed, wrapped in ``plan``'s faults."""
    return netbackend_mock.FaultyBackend(default_backend(), plan)


def async_faulty(plan: Faults) -> typing.Any:
    """The backend for the running loop, wrapped in ``plan``'s faults."""
    return netbackend_mock.AsyncFaultyBackend(default_async_backend(), plan)


def every(**faults: typing.Any) -> Faults:
    return Faults(default=ConnectionFaults(**faults))


def summary(response: Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return response.status, list(response.headers), response.content


# --------------------------------------------------------------- reset mid-body


def test_reset_mid_body(server: typing.Any) -> None:
    """A reset after 1000 bytes of a large body raises ReadError; nothing is left."""
    backend = faulty(every(reset_after_read=1000))
    with ConnectionPool(network_backend=backend) as pool:
        with pytest.raises(ReadError) as caught:
            pool.request("GET", server.url("/big"))
        assert type(caught.value) is ReadError
        assert pool.connections == []
        assert repr(pool) == EMPTY.format("ConnectionPool")
        [stream] = backend.streams
        assert stream.closed
    assert backend.events == [FaultEvent(1, "read", "reset", 1000)]


@pytest.mark.anyio
async def test_reset_mid_body_async(server: typing.Any) -> None:
    """A reset after 1000 bytes of a large body raises ReadError; nothing is left."""
    backend = async_faulty(every(reset_after_read=1000))
    async with AsyncConnectionPool(network_backend=backend) as pool:
        with pytest.raises(ReadError) as caught:
            await pool.request("GET", server.url("/big"))
        assert type(caught.value) is ReadError
        assert pool.connections == []
        assert repr(pool) == EMPTY.format("AsyncConnectionPool")
        [stream] = backend.streams
        assert stream.closed
    assert backend.events == [FaultEvent(1, "read", "reset", 1000)]


def test_reset_mid_body_while_streaming(server: typing.Any) -> None:
    """Streaming, the head arrives and the body read raises ReadError; the slot is freed."""
    backend = faulty(every(reset_after_read=5000))
    with ConnectionPool(network_backend=backend) as pool:
        with pool.stream("GET", server.url("/big")) as response:
            assert response.status == 200
            with pytest.raises(ReadError) as caught:
                for _ in response.iter_stream():
                    pass
            assert type(caught.value) is ReadError
        assert pool.connections == []
        assert repr(pool) == EMPTY.format("ConnectionPool")
        assert backend.streams[0].closed


@pytest.mark.anyio
async def test_reset_mid_body_while_streaming_async(server: typing.Any) -> None:
    """Streaming, the head arrives and the body read raises ReadError; the slot is freed."""
    backend = async_faulty(every(reset_after_read=5000))
    async with AsyncConnectionPool(network_backend=backend) as pool:
        async with pool.stream("GET", server.url("/big")) as response:
            assert response.status == 200
            with pytest.raises(ReadError) as caught:
                async for _ in response.aiter_stream():
                    pass
            assert type(caught.value) is ReadError
        assert pool.connections == []
        assert repr(pool) == EMPTY.format("AsyncConnectionPool")
        assert backend.streams[0].closed


def test_reset_while_sending_the_request(server: typing.Any) -> None:
    """A reset 10 bytes into the request: the pool reads on for an answer, as httpcore
    does, and the read raises ReadError."""
    backend = faulty(every(reset_after_write=10))
    with ConnectionPool(network_backend=backend) as pool:
        with pytest.raises(ReadError) as caught:
            pool.request("POST", server.url("/echo"), content=BODY)
        assert type(caught.value) is ReadError
        assert repr(pool) == EMPTY.format("ConnectionPool")
    assert [(event.call, event.kind) for event in backend.events] == [
        ("write", "reset"),
        ("read", "reset"),
    ]


@pytest.mark.anyio
async def test_reset_while_sending_the_request_async(server: typing.Any) -> None:
    """A reset 10 bytes into the request: the pool reads on for an answer, as httpcore
    does, and the read raises ReadError."""
    backend = async_faulty(every(reset_after_write=10))
    async with AsyncConnectionPool(network_backend=backend) as pool:
        with pytest.raises(ReadError) as caught:
            await pool.request("POST", server.url("/echo"), content=BODY)
        assert type(caught.value) is ReadError
        assert repr(pool) == EMPTY.format("AsyncConnectionPool")
    assert [(event.call, event.kind) for event in backend.events] == [
        ("write", "reset"),
        ("read", "reset"),
    ]


# --------------------------------------------------------------- a reused connection reset


def first_response_size(server: typing.Any) -> int:
    """How many bytes one ``GET /`` response takes on the wire."""
    backend = faulty(Faults())
    with ConnectionPool(network_backend=backend) as pool:
        pool.request("GET", server.url())
    size: int = backend.streams[0].bytes_read
    return size


async def first_response_size_async(server: typing.Any) -> int:
    """How many bytes one ``GET /`` response takes on the wire (async)."""
    backend = async_faulty(Faults())
    async with AsyncConnectionPool(network_backend=backend) as pool:
        await pool.request("GET", server.url())
    size: int = backend.streams[0].bytes_read
    return size


def test_reset_of_a_reused_connection_is_retried(server: typing.Any) -> None:
    """A kept-alive connection reset before its second response's first byte: the GET
    is sent again on a new connection and succeeds."""
    size = first_response_size(server)
    backend = faulty(Faults(schedule={1: ConnectionFaults(reset_after_read=size)}))
    with ConnectionPool(network_backend=backend) as pool:
        assert pool.request("GET", server.url()).content == b"Hello, world!"
        assert pool.request("GET", server.url()).content == b"Hello, world!"
        assert [stream.connection for stream in backend.streams] == [1, 2]
        assert backend.streams[0].closed
    assert backend.events == [FaultEvent(1, "read", "reset", size)]


@pytest.mark.anyio
async def test_reset_of_a_reused_connection_is_retried_async(server: typing.Any) -> None:
    """A kept-alive connection reset before its second response's first byte: the GET
    is sent again on a new connection and succeeds."""
    size = await first_response_size_async(server)
    backend = async_faulty(Faults(schedule={1: ConnectionFaults(reset_after_read=size)}))
    async with AsyncConnectionPool(network_backend=backend) as pool:
        assert (await pool.request("GET", server.url())).content == b"Hello, world!"
        assert (await pool.request("GET", server.url())).content == b"Hello, world!"
        assert [stream.connection for stream in backend.streams] == [1, 2]
        assert backend.streams[0].closed
    assert backend.events == [FaultEvent(1, "read", "reset", size)]


# --------------------------------------------------------------- connects


def test_refused_connect_leaks_no_slot(server: typing.Any) -> None:
    """A refused connect raises ConnectError, and its slot is free: with
    max_connections=1 the next request gets it at once."""
    backend = faulty(Faults(schedule={1: ConnectionFaults(refuse=True)}))
    with ConnectionPool(network_backend=backend, max_connections=1) as pool:
        with pytest.raises(ConnectError) as caught:
            pool.request("GET", server.url())
        assert type(caught.value) is ConnectError
        assert repr(pool) == EMPTY.format("ConnectionPool")
        response = pool.request("GET", server.url(), extensions={"timeout": {"pool": 1.0}})
        assert response.status == 200
    assert server.connections_accepted == 1


@pytest.mark.anyio
async def test_refused_connect_leaks_no_slot_async(server: typing.Any) -> None:
    """A refused connect raises ConnectError, and its slot is free: with
    max_connections=1 the next request gets it at once."""
    backend = async_faulty(Faults(schedule={1: ConnectionFaults(refuse=True)}))
    async with AsyncConnectionPool(network_backend=backend, max_connections=1) as pool:
        with pytest.raises(ConnectError) as caught:
            await pool.request("GET", server.url())
        assert type(caught.value) is ConnectError
        assert repr(pool) == EMPTY.format("AsyncConnectionPool")
        response = await pool.request("GET", server.url(), extensions={"timeout": {"pool": 1.0}})
        assert response.status == 200
    assert server.connections_accepted == 1


def test_slow_connect_times_out(server: typing.Any) -> None:
    """A connect slower than the connect timeout raises ConnectTimeout; nothing is left."""
    backend = faulty(every(connect_latency=30.0))
    with ConnectionPool(network_backend=backend) as pool:
        with pytest.raises(ConnectTimeout) as caught:
            pool.request("GET", server.url(), extensions={"timeout": {"connect": 0.05}})
        assert type(caught.value) is ConnectTimeout
        assert repr(pool) == EMPTY.format("ConnectionPool")
    assert server.connections_accepted == 0


@pytest.mark.anyio
async def test_slow_connect_times_out_async(server: typing.Any) -> None:
    """A connect slower than the connect timeout raises ConnectTimeout; nothing is left."""
    backend = async_faulty(every(connect_latency=30.0))
    async with AsyncConnectionPool(network_backend=backend) as pool:
        with pytest.raises(ConnectTimeout) as caught:
            await pool.request("GET", server.url(), extensions={"timeout": {"connect": 0.05}})
        assert type(caught.value) is ConnectTimeout
        assert repr(pool) == EMPTY.format("AsyncConnectionPool")
    assert server.connections_accepted == 0


# --------------------------------------------------------------- short reads and writes

REQUESTS: list[tuple[str, str, bytes | None]] = [
    ("GET", "/", None),
    ("GET", "/chunked", None),
    ("GET", "/continue", None),
    ("GET", "/headers", None),
    ("POST", "/echo", BODY),
    ("HEAD", "/", None),
]


def test_short_reads_and_writes_change_nothing(server: typing.Any) -> None:
    """1-byte reads and 7-byte writes give responses identical to fault-free ones."""
    results = []
    for plan in (Faults(), Faults(default=SHORT)):
        with ConnectionPool(network_backend=faulty(plan)) as pool:
            results.append(
                [
                    summary(pool.request(method, server.url(path), content=content))
                    for method, path, content in REQUESTS
                ]
            )
    assert results[0] == results[1]
    assert results[1][4][2] == BODY


@pytest.mark.anyio
async def test_short_reads_and_writes_change_nothing_async(server: typing.Any) -> None:
    """1-byte reads and 7-byte writes give responses identical to fault-free ones."""
    results = []
    for plan in (Faults(), Faults(default=SHORT)):
        async with AsyncConnectionPool(network_backend=async_faulty(plan)) as pool:
            results.append(
                [
                    summary(await pool.request(method, server.url(path), content=content))
                    for method, path, content in REQUESTS
                ]
            )
    assert results[0] == results[1]
    assert results[1][4][2] == BODY


# --------------------------------------------------------------- stalls


def test_stalled_read_times_out(server: typing.Any) -> None:
    """A response that stalls after 20 bytes raises ReadTimeout; nothing is left."""
    backend = faulty(every(stall_after_read=20))
    with ConnectionPool(network_backend=backend) as pool:
        with pytest.raises(ReadTimeout) as caught:
            pool.request("GET", server.url(), extensions={"timeout": {"read": 0.05}})
        assert type(caught.value) is ReadTimeout
        assert repr(pool) == EMPTY.format("ConnectionPool")
        assert backend.streams[0].closed
    assert backend.events == [FaultEvent(1, "read", "stall", 20)]


@pytest.mark.anyio
async def test_stalled_read_times_out_async(server: typing.Any) -> None:
    """A response that stalls after 20 bytes raises ReadTimeout; nothing is left."""
    backend = async_faulty(every(stall_after_read=20))
    async with AsyncConnectionPool(network_backend=backend) as pool:
        with pytest.raises(ReadTimeout) as caught:
            await pool.request("GET", server.url(), extensions={"timeout": {"read": 0.05}})
        assert type(caught.value) is ReadTimeout
        assert repr(pool) == EMPTY.format("AsyncConnectionPool")
        assert backend.streams[0].closed
    assert backend.events == [FaultEvent(1, "read", "stall", 20)]


# A head that trickles in, one byte per read, each within the read timeout: the read
# timeout bounds the whole response head (a deliberate difference from httpcore, whose
# read timeout is per read only), so it still times out.
TRICKLE = ConnectionFaults(max_read_bytes=1, read_latency=0.01)


def test_trickling_head_times_out(server: typing.Any) -> None:
    """A head arriving a byte per 10 ms outlasts a 150 ms read timeout: ReadTimeout."""
    backend = faulty(Faults(default=TRICKLE))
    with ConnectionPool(network_backend=backend) as pool:
        with pytest.raises(ReadTimeout) as caught:
            pool.request("GET", server.url(), extensions={"timeout": {"read": 0.15}})
        assert type(caught.value) is ReadTimeout
        assert repr(pool) == EMPTY.format("ConnectionPool")
    assert backend.streams[0].bytes_read < 20


@pytest.mark.anyio
async def test_trickling_head_times_out_async(server: typing.Any) -> None:
    """A head arriving a byte per 10 ms outlasts a 150 ms read timeout: ReadTimeout."""
    backend = async_faulty(Faults(default=TRICKLE))
    async with AsyncConnectionPool(network_backend=backend) as pool:
        with pytest.raises(ReadTimeout) as caught:
            await pool.request("GET", server.url(), extensions={"timeout": {"read": 0.15}})
        assert type(caught.value) is ReadTimeout
        assert repr(pool) == EMPTY.format("AsyncConnectionPool")
    assert backend.streams[0].bytes_read < 20
