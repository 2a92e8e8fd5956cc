"""Per-request cost of the client library alone: no network, no server.

``python benchmarks/overhead.py`` (in the benchmark venv: ``benchmarks/.work/venv/bin/python``)
sends sequential 1 KiB GETs through a sync pool whose network backend is an in-memory
stream that answers every request at once with the same nginx-like response, and prints
microseconds per request for httptransport and httpcore (same API; each gets a backend
built on its own interface classes). What the socket benchmark adds on top of this is the
round trip through the kernel and nginx, the same for every client.
"""

from __future__ import annotations

import statistics
import sys
import time
import typing

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 23:14:05 GMT\r\n"
    b"Content-Type: application/octet-stream\r\nContent-Length: 1024\r\n"
    b"Last-Modified: Sat, 21 Nov 2026 22:07:04 GMT\r\nConnection: keep-alive\r\n"
    b'ETag: "6920e3a8-400"\r\nAccept-Ranges: bytes\r\n\r\n' + b"x" * 1024
)
URL = "http://127.0.0.1:8080/1k"


def _pool(module: typing.Any) -> typing.Any:
    """A one-connection pool of ``module`` over an answering in-memory stream."""

    class Stream(module.NetworkStream):  # type: ignore[misc,name-defined]
        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return RESPONSE

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            pass

        def close(self) -> None:
            pass

        def get_extra_info(self, info: str) -> typing.Any:
            return False if info == "is_readable" else None

    class Backend(module.NetworkBackend):  # type: ignore[misc,name-defined]
        def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> Stream:
            return Stream()

    return module.ConnectionPool(network_backend=Backend(), max_connections=1)


def measure(name: str, rounds: int = 5, requests: int = 20_000) -> float:
    """Median microseconds per request over ``rounds`` runs of ``requests``."""
    module = __import__(name)
    pool = _pool(module)

    def once() -> None:
        response = pool.request("GET", URL)
        if response.status != 200 or len(response.content) != 1024:
            raise AssertionError("unexpected response")

    for _ in range(1_000):
        once()
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(requests):
            once()
        results.append((time.perf_counter() - start) / requests * 1e6)
    return statistics.median(results)


def main() -> int:
    for name in sys.argv[1:] or ["httptransport", "httpcore"]:
        print(f"{name:15} {measure(name):6.1f} us per request (library alone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
