"""Backend code written the httpcore way works here with only its imports changed.

The classes below are what an httpcore user writes to record traffic: subclasses of the
interface classes that wrap another backend's streams. They use nothing but the names
httpcore exports (``NetworkBackend``, ``NetworkStream``, ``SyncBackend``, ...), reached
through ``httptransport`` instead of ``httpcore``.
"""

from __future__ import annotations

import ssl
import typing

import pytest

import httptransport


class RecordingStream(httptransport.NetworkStream):
    def __init__(self, stream: httptransport.NetworkStream, record: list[tuple[str, bytes]]):
        self._stream = stream
        self._record = record

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._stream.read(max_bytes, timeout=timeout)
        self._record.append(("read", data))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._record.append(("write", buffer))
        self._stream.write(buffer, timeout=timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httptransport.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, timeout)
        return RecordingStream(tls, self._record)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class RecordingBackend(httptransport.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httptransport.SyncBackend()
        self.record: list[tuple[str, bytes]] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httptransport.SOCKET_OPTION] | None = None,
    ) -> httptransport.NetworkStream:
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return RecordingStream(stream, self.record)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class AsyncRecordingStream(httptransport.AsyncNetworkStream):
    def __init__(
        self, stream: httptransport.AsyncNetworkStream, record: list[tuple[str, bytes]]
    ) -> None:
        self._stream = stream
        self._record = record

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self._stream.read(max_bytes, timeout=timeout)
        self._record.append(("read", data))
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._record.append(("write", buffer))
        await self._stream.write(buffer, timeout=timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class AsyncRecordingBackend(httptransport.AsyncNetworkBackend):
    def __init__(self, backend: httptransport.AsyncNetworkBackend) -> None:
        self._backend = backend
        self.record: list[tuple[str, bytes]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httptransport.SOCKET_OPTION] | None = None,
    ) -> httptransport.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return AsyncRecordingStream(stream, self.record)


def _check(record: list[tuple[str, bytes]], path: bytes) -> None:
    written = b"".join(data for kind, data in record if kind == "write")
    received = b"".join(data for kind, data in record if kind == "read")
    assert written.startswith(b"GET " + path + b" HTTP/1.1\r\n")
    assert received.startswith(b"HTTP/1.1 200 ")


def test_recording_backend_sees_the_traffic(server: typing.Any) -> None:
    """An httpcore-style wrapper backend carries a pool's requests and records their bytes."""
    pytest.importorskip("netbackend_sync")
    backend = RecordingBackend()
    with httptransport.ConnectionPool(network_backend=backend) as pool:
        response = pool.request("GET", server.url("/recorded"))
    assert response.status == 200
    _check(backend.record, b"/recorded")


def test_recording_backend_over_tls(
    tls_server: typing.Any, client_ssl_context: ssl.SSLContext
) -> None:
    """The wrapper's start_tls is used for HTTPS, so it records the plaintext HTTP."""
    pytest.importorskip("netbackend_sync")
    backend = RecordingBackend()
    with httptransport.ConnectionPool(
        ssl_context=client_ssl_context, network_backend=backend
    ) as pool:
        response = pool.request("GET", tls_server.url("/secret"))
    assert response.status == 200
    _check(backend.record, b"/secret")


@pytest.mark.anyio
async def test_async_recording_backend_sees_the_traffic(server: typing.Any) -> None:
    """The async twin works under asyncio and trio, wrapping the installed backend."""
    from netbackend_base import default_async_backend

    backend = AsyncRecordingBackend(default_async_backend())
    async with httptransport.AsyncConnectionPool(network_backend=backend) as pool:
        response = await pool.request("GET", server.url("/async"))
    assert response.status == 200
    _check(backend.record, b"/async")
