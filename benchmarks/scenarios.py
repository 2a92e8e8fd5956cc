"""Scenario and client definitions shared by the orchestrator and the worker (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass

CLIENTS: tuple[str, ...] = (
    "httptransport",
    "httpcore",
    "httpcore2",
    "urllib3",
    "aiohttp",
    "httpx-default",
    "httpx-httptransport",
    "pyreqwest",
    "pycurl",
    "raw-socket",
)
BASELINE = "httpcore"
# The library under test: its same-repetition ratio to every other client is reported too.
SUBJECT = "httptransport"
# httpx.AsyncClient over httpx's own transport (httpcore) or over ours.
HTTPX_CLIENTS = ("httpx-default", "httpx-httptransport")
# The module a client needs, where its name is not one.
CLIENT_MODULES = {
    "httpx-default": "httpx",
    "httpx-httptransport": "httptransport.httpx",
    "pyreqwest": "pyreqwest.client",
    "raw-socket": "socket",
}
# The venv (``benchenv.VENVS``) whose Python runs a client's worker; the default is "main".
# pyreqwest and pycurl each have their own, with nothing else in it. raw-socket imports only
# the standard library (and trio under trio), so it runs in the main venv, which has trio.
CLIENT_VENVS = {"pyreqwest": "pyreqwest", "pycurl": "pycurl"}
# A bare socket loop: the limit no client can beat (see clients.py). Not a peer: it gets a
# grey bar in the charts and no place in the subject-against-each-client chart.
RAW_SOCKET = "raw-socket"

# Kinds where every request opens a new connection (Connection: close both ways).
NEW_CONNECTION = frozenset({"tls-new", "tls-resume"})

SMALL_SIZE = 1024
LARGE_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    runner: str  # "sync", "asyncio" or "trio"
    kind: str  # "small" (1 KiB keep-alive), "download" (16 MiB streamed), "tls-new" (full
    # TLS handshakes: the server keeps no sessions), "tls-resume" (tickets on),
    # "h2-tls" / "h2c" (1 KiB over HTTP/2: TLS with ALPN h2, or prior-knowledge cleartext)
    tasks: int  # concurrent tasks (1 for the sync runner)
    pool: int  # connection-pool size handed to the client
    clients: tuple[str, ...]
    unit: str  # "req/s" or "MB/s"
    baseline: str = BASELINE  # ratios are to this client, repetition by repetition
    subject: str = SUBJECT  # and this one's ratio to each other client is reported
    # Seconds for each of the connect, read, write and pool timeouts, set on every request
    # as httpx sets them (``extensions={"timeout": {...}}``); None: no timeouts at all.
    timeouts: float | None = None

    @property
    def expected_size(self) -> int:
        return LARGE_SIZE if self.kind == "download" else SMALL_SIZE


_SYNC = ("httptransport", "httpcore", "httpcore2", "urllib3")
_ASYNC = ("httptransport", "httpcore", "httpcore2", "aiohttp")
_TRIO = ("httptransport", "httpcore", "httpcore2")
_HTTP2 = ("httptransport", "httpcore", "httpcore2", "pyreqwest")
_SYNC_KEEPALIVE = (*_SYNC, "pyreqwest", "pycurl", RAW_SOCKET)
_ASYNC_100X10 = (*_ASYNC, "pyreqwest", RAW_SOCKET)
_TRIO_100X10 = (*_TRIO, RAW_SOCKET)
_TIMEOUTS = ("httptransport", "httpcore", "pyreqwest")
_HTTPX = ("httpx-httptransport", "httpx-default")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("a-sync-keepalive", "sync, 1 keep-alive conn, sequential 1 KiB GETs",
             "sync", "small", 1, 1, _SYNC_KEEPALIVE, "req/s"),
    Scenario("b-asyncio-100x10", "asyncio, 100 tasks, pool of 10, 1 KiB GETs",
             "asyncio", "small", 100, 10, _ASYNC_100X10, "req/s"),
    Scenario("b2-asyncio-100x10-timeouts", "as b, with connect, read, write and pool "
             "timeouts of 5 s on every request (as httpx sets them)",
             "asyncio", "small", 100, 10, _TIMEOUTS, "req/s", timeouts=5.0),
    Scenario("c-asyncio-100x100", "asyncio, 100 tasks, pool of 100, 1 KiB GETs",
             "asyncio", "small", 100, 100, _ASYNC, "req/s"),
    Scenario("d-trio-100x10", "trio, 100 tasks, pool of 10, 1 KiB GETs",
             "trio", "small", 100, 10, _TRIO_100X10, "req/s"),
    Scenario("e1-sync-16mib", "sync, streamed 16 MiB download, 1 keep-alive conn",
             "sync", "download", 1, 1, _SYNC, "MB/s"),
    Scenario("e2-asyncio-16mib", "asyncio, streamed 16 MiB download, 1 keep-alive conn",
             "asyncio", "download", 1, 1, _ASYNC, "MB/s"),
    Scenario("f-sync-tls-new-conn", "sync, new TLS connection per 1 KiB GET",
             "sync", "tls-new", 1, 1, _SYNC, "req/s"),
    Scenario("f2-sync-tls-resumable", "sync, new TLS connection per 1 KiB GET, "
             "server with nginx's default session tickets",
             "sync", "tls-resume", 1, 1, _SYNC, "req/s"),
    Scenario("g1-asyncio-h2-tls", "asyncio, HTTP/2 over TLS, 1 conn, 100 streams, 1 KiB GETs",
             "asyncio", "h2-tls", 100, 1, _HTTP2, "req/s"),
    Scenario("g2-asyncio-h2c", "asyncio, HTTP/2 cleartext (h2c), 1 conn, 100 streams, 1 KiB GETs",
             "asyncio", "h2c", 100, 1, _HTTP2, "req/s"),
    Scenario("h-httpx-asyncio-100x10", "httpx.AsyncClient, asyncio, 100 tasks, pool of 10, "
             "1 KiB GETs: httpx's own transport against ours",
             "asyncio", "small", 100, 10, _HTTPX, "req/s",
             baseline="httpx-default", subject="httpx-httptransport"),
)  # fmt: skip


def select_scenarios(spec: str | None) -> list[Scenario]:
    """Comma-separated keys or key prefixes: ``a,e`` picks a, e1 and e2."""
    if not spec:
        return list(SCENARIOS)
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    chosen = [sc for sc in SCENARIOS if any(sc.key.startswith(w) for w in wanted)]
    unknown = [w for w in wanted if not any(sc.key.startswith(w) for sc in SCENARIOS)]
    if unknown:
        keys = ", ".join(sc.key for sc in SCENARIOS)
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {keys}")
    return chosen
