"""Client adapters, imported only inside the benchmark venv by ``worker.py``.

Each adapter sends ``GET url`` and returns ``(status, body_length)``; bodies are always read
in full (streamed in chunks for the 16 MiB download).  ``httptransport``, ``httpcore`` and
``httpcore2`` share one adapter because they share one API; only the module name differs.
"""

from __future__ import annotations

import importlib
import ssl
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

HTTPCORE_LIKE = ("httptransport", "httpcore", "httpcore2")
HTTPX_CLIENTS = ("httpx-default", "httpx-httptransport")
CHUNK = 64 * 1024

Headers = Sequence[tuple[bytes, bytes]]


class SyncClient(Protocol):
    def fetch(self) -> tuple[int, int]: ...
    def close(self) -> None: ...


class AsyncClient(Protocol):
    async def fetch(self) -> tuple[int, int]: ...
    async def close(self) -> None: ...


def _module(name: str) -> Any:
    return importlib.import_module(name)


class CoreSync:
    """httpcore-1.0-style sync ``ConnectionPool`` (httptransport, httpcore, httpcore2)."""

    def __init__(
        self, module: str, url: str, pool: int, stream: bool, headers: Headers, ctx: ssl.SSLContext
    ) -> None:
        mod = _module(module)
        self.pool = mod.ConnectionPool(ssl_context=ctx, max_connections=pool)
        self.url = url
        self.stream = stream
        self.headers = list(headers)

    def fetch(self) -> tuple[int, int]:
        if self.stream:
            with self.pool.stream("GET", self.url, headers=self.headers) as response:
                size = 0
                for chunk in response.iter_stream():
                    size += len(chunk)
                return response.status, size
        response = self.pool.request("GET", self.url, headers=self.headers)
        return response.status, len(response.content)

    def close(self) -> None:
        self.pool.close()


def _protocols(http2: str | None) -> dict[str, bool]:
    """Pool keyword arguments: ``"tls"`` offers h2 through ALPN, ``"h2c"`` is prior knowledge."""
    if http2 == "tls":
        return {"http1": True, "http2": True}
    if http2 == "h2c":
        return {"http1": False, "http2": True}
    return {}


class CoreAsync:
    """httpcore-1.0-style ``AsyncConnectionPool``; the library picks asyncio or trio itself."""

    def __init__(
        self,
        module: str,
        url: str,
        pool: int,
        stream: bool,
        headers: Headers,
        ctx: ssl.SSLContext,
        http2: str | None = None,
    ) -> None:
        mod = _module(module)
        self.pool = mod.AsyncConnectionPool(
            ssl_context=ctx, max_connections=pool, **_protocols(http2)
        )
        self.url = url
        self.stream = stream
        self.headers = list(headers)
        # Checked on every response, so that nobody scores by falling back to HTTP/1.1.
        self.version = b"HTTP/2" if http2 else None

    async def fetch(self) -> tuple[int, int]:
        if self.stream:
            async with self.pool.stream("GET", self.url, headers=self.headers) as response:
                size = 0
                async for chunk in response.aiter_stream():
                    size += len(chunk)
                return response.status, size
        response = await self.pool.request("GET", self.url, headers=self.headers)
        if self.version is not None and response.extensions.get("http_version") != self.version:
            raise RuntimeError(f"spoke {response.extensions.get('http_version')!r}, not HTTP/2")
        return response.status, len(response.content)

    async def close(self) -> None:
        await self.pool.aclose()


class Urllib3Sync:
    """urllib3 2.x ``HTTP(S)ConnectionPool`` with ``maxsize=pool, block=True``, no retries."""

    def __init__(
        self, url: str, pool: int, stream: bool, headers: Headers, ctx: ssl.SSLContext
    ) -> None:
        import urllib3

        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port
        self.path = parts.path
        self.stream = stream
        self.headers = {k.decode(): v.decode() for k, v in headers}
        self.pool: urllib3.HTTPConnectionPool
        if parts.scheme == "https":
            self.pool = urllib3.HTTPSConnectionPool(
                host, port, maxsize=pool, block=True, ssl_context=ctx, retries=False
            )
        else:
            self.pool = urllib3.HTTPConnectionPool(
                host, port, maxsize=pool, block=True, retries=False
            )

    def fetch(self) -> tuple[int, int]:
        if self.stream:
            response = self.pool.urlopen(
                "GET", self.path, headers=self.headers, preload_content=False, retries=False
            )
            size = 0
            for chunk in response.stream(CHUNK):
                size += len(chunk)
            response.release_conn()
            return response.status, size
        response = self.pool.urlopen("GET", self.path, headers=self.headers, retries=False)
        return response.status, len(response.data)

    def close(self) -> None:
        self.pool.close()


class HttpxAsync:
    """``httpx.AsyncClient`` over httpx's own ``AsyncHTTPTransport`` (on httpcore:
    ``httpx-default``) or over ``httptransport.httpx.AsyncHTTPTransport``
    (``httpx-httptransport``); both keep ``pool`` connections alive."""

    def __init__(
        self,
        client: str,
        url: str,
        pool: int,
        stream: bool,
        headers: Headers,
        ctx: ssl.SSLContext,
        http2: str | None = None,
    ) -> None:
        import httpx

        transport_class: Any = httpx.AsyncHTTPTransport
        if client == "httpx-httptransport":
            from httptransport.httpx import AsyncHTTPTransport

            transport_class = AsyncHTTPTransport
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        transport = transport_class(verify=ctx, limits=limits, **_protocols(http2))
        # The same generous timeouts for both: 100 tasks queue for 10 connections.
        self.client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(60.0))
        self.url = url
        self.stream = stream
        self.headers = list(headers)

    async def fetch(self) -> tuple[int, int]:
        if self.stream:
            async with self.client.stream("GET", self.url, headers=self.headers) as response:
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                return response.status_code, size
        response = await self.client.get(self.url, headers=self.headers)
        return response.status_code, len(response.content)

    async def close(self) -> None:
        await self.client.aclose()


class AiohttpAsync:
    """aiohttp 3.x ``ClientSession`` over a ``TCPConnector(limit=pool)``."""

    def __init__(
        self, url: str, pool: int, stream: bool, headers: Headers, ctx: ssl.SSLContext
    ) -> None:
        import aiohttp

        # Must be built inside the running event loop (see ``open_async``).
        connector = aiohttp.TCPConnector(limit=pool, ssl=ctx)
        self.session = aiohttp.ClientSession(connector=connector)
        self.url = url
        self.stream = stream
        self.headers = {k.decode(): v.decode() for k, v in headers}

    async def fetch(self) -> tuple[int, int]:
        async with self.session.get(self.url, headers=self.headers) as response:
            if self.stream:
                size = 0
                async for chunk in response.content.iter_chunked(CHUNK):
                    size += len(chunk)
            else:
                size = len(await response.read())
            return response.status, size

    async def close(self) -> None:
        await self.session.close()


def open_sync(
    client: str, url: str, pool: int, stream: bool, headers: Headers, ctx: ssl.SSLContext
) -> SyncClient:
    if client in HTTPCORE_LIKE:
        return CoreSync(client, url, pool, stream, headers, ctx)
    if client == "urllib3":
        return Urllib3Sync(url, pool, stream, headers, ctx)
    raise ValueError(f"{client} has no sync adapter")


async def open_async(
    client: str,
    url: str,
    pool: int,
    stream: bool,
    headers: Headers,
    ctx: ssl.SSLContext,
    http2: str | None = None,
) -> AsyncClient:
    if client in HTTPCORE_LIKE:
        return CoreAsync(client, url, pool, stream, headers, ctx, http2)
    if client == "aiohttp":
        return AiohttpAsync(url, pool, stream, headers, ctx)
    if client in HTTPX_CLIENTS:
        return HttpxAsync(client, url, pool, stream, headers, ctx, http2)
    raise ValueError(f"{client} has no async adapter")
