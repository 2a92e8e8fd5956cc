"""TLS failures through a connection pool: ConnectError naming the cause, end to end.

Every pool here uses ``httptransport.default_ssl_context()`` (certificates and host names
verified) or no context at all, which makes the pool build that same default itself. The
servers are threads with stdlib ``ssl`` server sockets on 127.0.0.1, each presenting a
certificate made for one failure: expired, self-signed, for another host, from a CA the
client does not trust, or a server speaking TLS 1.3 only to a client that stops at 1.2.
The backends build the messages (``netbackend_base.tls_failure_message``); the pool must
hand the error on as it is, message and chain included.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

import httptransport
import netbackend_base
from netbackend_base import BackendNotFoundError, find_backend
from netbackend_base.testing.tls_cases import FAILURES, Failure, server_context

# Far above what a passing test needs; only there so a broken client cannot hang the run.
GUARD = 10.0
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def pool_context(case: str, ca: trustme.CA) -> ssl.SSLContext:
    """``httptransport.default_ssl_context()`` also trusting ``ca``; at most TLS 1.2 for
    protocol-mismatch. Its verification settings are the default's, untouched."""
    context = httptransport.default_ssl_context()
    ca.configure_trust(context)
    if case == "protocol-mismatch":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


# ------------------------------------------------------------------------------ server


class HTTPSServer:
    """HTTPS on 127.0.0.1: a TLS server handshake per connection, then one fixed response.

    ``outcomes`` gets each handshake's server-side result (``None`` or the ``ssl``
    error), so a test can wait for the server to have finished with a connection.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.outcomes: list[BaseException | None] = []
        self._changed = threading.Condition()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    def wait_for_handshakes(self, count: int) -> list[BaseException | None]:
        """Wait until ``count`` server handshakes have finished; return their outcomes."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.outcomes) >= count, GUARD)
            return list(self.outcomes)

    def stop(self) -> None:
        # shutdown() wakes the threads blocked in accept() and recv(); close() alone
        # does not on Linux.
        with self._changed:
            open_sockets = [self._listener, *self._sockets]
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        self._listener.close()
        self._acceptor.join(GUARD)
        for thread in self._threads:
            thread.join(GUARD)
        assert not self._acceptor.is_alive(), "the accept loop did not stop"
        assert not any(thread.is_alive() for thread in self._threads), "a server thread hung"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.settimeout(GUARD)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with self._changed:
            self._sockets.add(conn)
        current = conn
        try:
            try:
                current = self._context.wrap_socket(conn, server_side=True)
            except OSError as exc:
                self._finished(exc)
                return
            with self._changed:
                self._sockets.add(current)
            self._finished(None)
            request = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in request:
                    chunk = current.recv(65536)
                    if not chunk:
                        return
                    request += chunk
                current.sendall(RESPONSE)
        finally:
            with self._changed:
                self._sockets.discard(conn)
                self._sockets.discard(current)
            current.close()
            conn.close()

    def _finished(self, outcome: BaseException | None) -> None:
        with self._changed:
            self.outcomes.append(outcome)
            self._changed.notify_all()


@contextlib.contextmanager
def serving(context: ssl.SSLContext) -> Iterator[HTTPSServer]:
    server = HTTPSServer(context)
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """The CA the clients trust (besides certifi's bundle)."""
    return trustme.CA()


@pytest.fixture(params=FAILURES, ids=[failure.name for failure in FAILURES])
def failure(request: pytest.FixtureRequest) -> Failure:
    return typing.cast(Failure, request.param)


@pytest.fixture
def need_backend(request: pytest.FixtureRequest) -> None:
    """Skip unless a network backend for this test's context (sync, asyncio, trio) is installed."""
    if request.node.get_closest_marker("anyio") is not None:
        context = str(request.getfixturevalue("anyio_backend"))
    else:
        context = "sync"
    try:
        find_backend(context)
    except BackendNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def failing_server(
    need_backend: None, failure: Failure, ca: trustme.CA, tmp_path: Path
) -> Iterator[HTTPSServer]:
    """The HTTPS server of ``failure``'s case."""
    with serving(server_context(failure.name, ca, tmp_path)) as server:
        yield server


def check_failure(exc: BaseException, case: Failure) -> None:
    """``exc`` is exactly ConnectError, names ``case``'s cause, quotes OpenSSL's words and
    chains the ``ssl`` error."""
    assert type(exc) is httptransport.ConnectError, f"expected ConnectError, got {exc!r}"
    message = str(exc)
    prefix = f"TLS handshake with {case.hostname!r} failed: {case.cause} "
    assert message.startswith(prefix), f"{message!r} does not start with {prefix!r}"
    assert re.search(re.escape(prefix) + case.openssl, message), message
    chained: BaseException | None = exc.__cause__
    while chained is not None and not isinstance(chained, ssl.SSLError):
        chained = chained.__cause__
    assert isinstance(chained, ssl.SSLError), f"no ssl.SSLError among the causes of {exc!r}"


# ------------------------------------------------------------------------------- tests


def test_connect_error_is_the_backends_own() -> None:
    """httptransport.ConnectError is netbackend_base's class, so a backend's error (and its
    message) reaches the caller without being re-wrapped."""
    assert httptransport.ConnectError is netbackend_base.ConnectError


def test_default_context_verifies_certificates_and_host_names() -> None:
    """Verification and host-name checks are on by default, and stay on when a CA is
    added to the default context (as the tests here do)."""
    context = httptransport.default_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    trustme.CA().configure_trust(context)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_pool_reports_tls_failure(
    failing_server: HTTPSServer, failure: Failure, ca: trustme.CA
) -> None:
    """A blocking pool raises ConnectError naming the cause, as the backend made it."""
    with (
        httptransport.ConnectionPool(ssl_context=pool_context(failure.name, ca)) as pool,
        pytest.raises(httptransport.ConnectError) as info,
    ):
        pool.request("GET", failing_server.url(), extensions={"sni_hostname": failure.hostname})
    check_failure(info.value, failure)
    [outcome] = failing_server.wait_for_handshakes(1)
    assert isinstance(outcome, ssl.SSLError), f"the server's handshake ended with {outcome!r}"


@pytest.mark.anyio
async def test_async_pool_reports_tls_failure(
    failing_server: HTTPSServer, failure: Failure, ca: trustme.CA
) -> None:
    """An async pool (asyncio and trio) raises ConnectError naming the cause."""
    async with httptransport.AsyncConnectionPool(
        ssl_context=pool_context(failure.name, ca)
    ) as pool:
        with pytest.raises(httptransport.ConnectError) as info:
            await pool.request(
                "GET", failing_server.url(), extensions={"sni_hostname": failure.hostname}
            )
    check_failure(info.value, failure)
    [outcome] = failing_server.wait_for_handshakes(1)
    assert isinstance(outcome, ssl.SSLError), f"the server's handshake ended with {outcome!r}"


UNTRUSTED = next(failure for failure in FAILURES if failure.name == "untrusted-ca")


def test_pool_without_a_context_verifies(
    need_backend: None, ca: trustme.CA, tmp_path: Path
) -> None:
    """A pool given no context builds the default one: a certificate from a CA outside
    certifi's bundle is refused with ConnectError naming the unknown authority."""
    with serving(server_context("valid", ca, tmp_path)) as server:
        with (
            httptransport.ConnectionPool() as pool,
            pytest.raises(httptransport.ConnectError) as info,
        ):
            pool.request("GET", server.url(), extensions={"sni_hostname": "localhost"})
        check_failure(info.value, UNTRUSTED)


@pytest.mark.anyio
async def test_async_pool_without_a_context_verifies(
    need_backend: None, ca: trustme.CA, tmp_path: Path
) -> None:
    """As above, for an async pool."""
    with serving(server_context("valid", ca, tmp_path)) as server:
        async with httptransport.AsyncConnectionPool() as pool:
            with pytest.raises(httptransport.ConnectError) as info:
                await pool.request("GET", server.url(), extensions={"sni_hostname": "localhost"})
        check_failure(info.value, UNTRUSTED)


def test_pool_with_a_valid_certificate(need_backend: None, ca: trustme.CA, tmp_path: Path) -> None:
    """The control case: the same server and pool setup with a valid certificate and the
    right host name gets its response."""
    with serving(server_context("valid", ca, tmp_path)) as server:
        with httptransport.ConnectionPool(ssl_context=pool_context("valid", ca)) as pool:
            response = pool.request("GET", server.url(), extensions={"sni_hostname": "localhost"})
        assert response.status == 200
        assert response.content == b"ok"
        assert server.wait_for_handshakes(1) == [None]


@pytest.mark.anyio
async def test_async_pool_with_a_valid_certificate(
    need_backend: None, ca: trustme.CA, tmp_path: Path
) -> None:
    """As above, for an async pool."""
    with serving(server_context("valid", ca, tmp_path)) as server:
        async with httptransport.AsyncConnectionPool(ssl_context=pool_context("valid", ca)) as pool:
            response = await pool.request(
                "GET", server.url(), extensions={"sni_hostname": "localhost"}
            )
        assert response.status == 200
        assert response.content == b"ok"
        assert server.wait_for_handshakes(1) == [None]
