"""Failed TLS handshakes are ConnectError, and the message says which check failed.

Each case runs against a real TLS server on 127.0.0.1 (a thread with a stdlib
``ssl`` server socket) presenting a certificate made for it: expired, self-signed, for
another host, from a CA the client does not trust, or a server that speaks TLS 1.3 only
to a client that stops at TLS 1.2. The client context verifies certificates and host
names (``PROTOCOL_TLS_CLIENT``) and trusts the suite's ``ca``. Every case also runs as
the inner handshake of TLS inside TLS, through a relay.

The messages are built by ``netbackend_base.tls_failure_message``; this checks that
every backend hands it the failure, so that the cause and OpenSSL's own words reach
the caller, with the ``ssl`` error kept in the chain of causes.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import ssl
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from netbackend_base import ConnectError
from netbackend_base.testing.tls_cases import FAILURES, Failure, server_context

pytestmark = pytest.mark.anyio

if typing.TYPE_CHECKING:
    from netbackend_base.testing.harness import Net

# Far above what a passing test needs; only there so a broken client cannot hang the run.
GUARD = 10.0


def client_context(case: str, ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context trusting ``ca``; TLS 1.2 at most for protocol-mismatch."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    ca.configure_trust(context)
    if case == "protocol-mismatch":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


# ----------------------------------------------------------------------------- servers


class TLSServer:
    """Accepts TCP connections on 127.0.0.1 and runs a TLS server handshake on each.

    After a handshake that succeeds it forwards the plaintext to ``upstream`` over TCP
    (a relay, for TLS inside TLS) or, without one, reads until the client closes.
    ``outcomes`` gets each handshake's server-side result (``None`` or the ``ssl``
    error), so a test can wait for the server to have finished with a connection.
    """

    def __init__(self, context: ssl.SSLContext, upstream: tuple[str, int] | None = None):
        self._context = context
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.outcomes: list[BaseException | None] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def wait_for_handshakes(self, count: int) -> list[BaseException | None]:
        """Wait until ``count`` server handshakes have finished; return their outcomes."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.outcomes) >= count, GUARD)
            return list(self.outcomes)

    def stop(self) -> None:
        # shutdown() wakes the threads blocked in accept() and recv(); close() alone
        # does not on Linux.
        for sock in [self._listener, *self._open()]:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        self._listener.close()
        self._acceptor.join(GUARD)
        for thread in self._threads:
            thread.join(GUARD)
        assert not self._acceptor.is_alive(), "the accept loop did not stop"
        assert not any(thread.is_alive() for thread in self._threads), "a server thread hung"

    def _open(self) -> list[socket.socket]:
        with self._lock:
            return list(self._sockets)

    def _track(self, *socks: socket.socket, add: bool = True) -> None:
        with self._lock:
            for sock in socks:
                if add:
                    self._sockets.add(sock)
                else:
                    self._sockets.discard(sock)

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
        self._track(conn)
        try:
            try:
                tls = self._context.wrap_socket(conn, server_side=True)
            except OSError as exc:
                self._finished(exc)
                return
            self._track(tls)
            self._finished(None)
            try:
                if self._upstream is None:
                    while tls.recv(65536):
                        pass
                else:
                    self._relay(tls, self._upstream)
            except OSError:
                pass  # the client went away, or stop()
            finally:
                self._track(tls, add=False)
                tls.close()
        finally:
            self._track(conn, add=False)
            conn.close()

    def _finished(self, outcome: BaseException | None) -> None:
        with self._changed:
            self.outcomes.append(outcome)
            self._changed.notify_all()

    def _relay(self, tls: ssl.SSLSocket, upstream: tuple[str, int]) -> None:
        with socket.create_connection(upstream, timeout=GUARD) as up:
            self._track(up)
            try:
                while True:
                    # Bytes already decrypted inside the TLS object do not wake select().
                    ready = [tls] if tls.pending() else select.select([tls, up], [], [])[0]
                    if tls in ready:
                        data = tls.recv(65536)
                        if not data:
                            return
                        up.sendall(data)
                    if up in ready:
                        data = up.recv(65536)
                        if not data:
                            return
                        tls.sendall(data)
            finally:
                self._track(up, add=False)


@contextlib.contextmanager
def serving(
    context: ssl.SSLContext, upstream: tuple[str, int] | None = None
) -> Iterator[TLSServer]:
    server = TLSServer(context, upstream)
    try:
        yield server
    finally:
        server.stop()


# ----------------------------------------------------------------------------- checks


def check_failure(exc: BaseException | None, case: Failure) -> None:
    """``exc`` is exactly ConnectError, names ``case``'s cause and quotes OpenSSL's words."""
    assert type(exc) is ConnectError, f"expected ConnectError, got {exc!r}"
    message = str(exc)
    prefix = f"TLS handshake with {case.hostname!r} failed: {case.cause} "
    assert message.startswith(prefix), f"{message!r} does not start with {prefix!r}"
    assert re.search(re.escape(prefix) + case.openssl, message), message
    # The ssl module's error is kept in the chain of causes (possibly under a library's
    # own wrapper), with the verification result it reported.
    chained: BaseException | None = exc.__cause__
    while chained is not None and not isinstance(chained, ssl.SSLError):
        chained = chained.__cause__
    assert isinstance(chained, ssl.SSLError), f"no ssl.SSLError among the causes of {exc!r}"
    if case.verify_code is None:
        assert not isinstance(chained, ssl.SSLCertVerificationError)
    else:
        assert isinstance(chained, ssl.SSLCertVerificationError)
        assert chained.verify_code == case.verify_code


@pytest.fixture(params=FAILURES, ids=[failure.name for failure in FAILURES])
def failure(request: pytest.FixtureRequest) -> Failure:
    return typing.cast(Failure, request.param)


@pytest.fixture
def failing_server(failure: Failure, ca: trustme.CA, tmp_path: Path) -> Iterator[TLSServer]:
    """The TLS server of ``failure``'s case on 127.0.0.1."""
    with serving(server_context(failure.name, ca, tmp_path)) as server:
        yield server


# ------------------------------------------------------------------------------- tests


async def test_failed_handshake_names_the_cause(
    net: Net, failing_server: TLSServer, failure: Failure, ca: trustme.CA
) -> None:
    """Each TLS failure is ConnectError whose message names the cause and keeps
    OpenSSL's text; the server saw the handshake fail too."""
    plain = await net.connect_tcp("127.0.0.1", failing_server.port, timeout=5)
    with net.raises_exactly(ConnectError) as caught:
        await plain.start_tls(
            client_context(failure.name, ca), server_hostname=failure.hostname, timeout=5
        )
    check_failure(caught.value, failure)
    [outcome] = failing_server.wait_for_handshakes(1)
    assert isinstance(outcome, ssl.SSLError), f"the server's handshake ended with {outcome!r}"


async def test_failed_inner_handshake_names_the_cause(
    net: Net,
    failing_server: TLSServer,
    failure: Failure,
    ca: trustme.CA,
    relay_cert: trustme.LeafCert,
) -> None:
    """The same failures as the inner handshake of TLS inside TLS (an HTTPS proxy's
    tunnel): the outer layer stands, the inner one fails with the same message."""
    relay_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    relay_cert.configure_cert(relay_context)
    with serving(relay_context, ("127.0.0.1", failing_server.port)) as relay:
        plain = await net.connect_tcp("127.0.0.1", relay.port, timeout=5)
        outer = await plain.start_tls(
            client_context("relay", ca), server_hostname="relay.test", timeout=5
        )
        with net.raises_exactly(ConnectError) as caught:
            await outer.start_tls(
                client_context(failure.name, ca), server_hostname=failure.hostname, timeout=5
            )
        check_failure(caught.value, failure)
        [outcome] = failing_server.wait_for_handshakes(1)
        assert isinstance(outcome, ssl.SSLError), f"the server's handshake ended with {outcome!r}"
        assert relay.wait_for_handshakes(1) == [None]


async def test_valid_certificate_passes_the_same_checks(
    net: Net, ca: trustme.CA, tmp_path: Path
) -> None:
    """The control case: the same server and client setup with a valid certificate,
    the right host name and a common TLS version completes the handshake."""
    with serving(server_context("valid", ca, tmp_path)) as server:
        plain = await net.connect_tcp("127.0.0.1", server.port, timeout=5)
        tls = await plain.start_tls(
            client_context("valid", ca), server_hostname="localhost", timeout=5
        )
        assert tls.get_extra_info("ssl_object").server_hostname == "localhost"
        assert server.wait_for_handshakes(1) == [None]
        await tls.close()
