"""TLS session resumption in SyncBackend: when a session is offered again, and when not."""

from __future__ import annotations

import contextlib
import gc
import socket
import ssl
import threading
import types
import typing
import weakref
from collections.abc import Callable, Iterator, Sequence

import pytest

pytest.importorskip("netbackend_sync")

import netbackend_sync._sessions
import netbackend_sync._stream
from netbackend_base import ConnectError
from netbackend_sync import SyncBackend
from netbackend_sync._sessions import SESSIONS, SessionCache

Factory = Callable[..., typing.Any]


def _exchange(
    port: int,
    context: ssl.SSLContext,
    name: str = "localhost",
    backend: SyncBackend | None = None,
) -> bool:
    """One TLS connection with a round trip; return whether its session was resumed."""
    stream = (backend or SyncBackend()).connect_tcp("127.0.0.1", port, timeout=5)
    tls = stream.start_tls(context, name, timeout=5)
    try:
        tls.write(b"ping", timeout=5)
        assert tls.read(10, timeout=5) == b"ping"
        return bool(tls.get_extra_info("ssl_object").session_reused)
    finally:
        tls.close()


@contextlib.contextmanager
def _scripted_server(contexts: Sequence[ssl.SSLContext | None]) -> Iterator[int]:
    """A loopback server taking one connection per entry, in order: a TLS echo through
    that context, or (``None``) a close at once. Yields its port; on exit it has served
    them all."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for context in contexts:
            conn, _ = listener.accept()
            with conn:
                if context is not None:
                    with context.wrap_socket(conn, server_side=True) as tls:
                        while data := tls.recv(100):
                            tls.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(timeout=10)
        listener.close()
    assert not thread.is_alive()


@pytest.fixture(params=["TLSv1.3", "TLSv1.2"])
def tls_server(
    request: pytest.FixtureRequest, start_server: Factory, server_context: ssl.SSLContext
) -> typing.Any:
    """An echo server over TLS 1.3 (tickets after the handshake) or TLS 1.2."""
    server_context.maximum_version = getattr(ssl.TLSVersion, request.param.replace(".", "_"))
    return start_server(tls=server_context)


@pytest.fixture
def looks(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLObject]:
    """Every look at a connection's session (each one copies it), in order."""
    seen: list[ssl.SSLObject] = []

    def counting(ssl_object: ssl.SSLObject) -> ssl.SSLSession | None:
        seen.append(ssl_object)
        return netbackend_sync._sessions.resumable(ssl_object)

    monkeypatch.setattr(netbackend_sync._stream, "resumable", counting)
    return seen


def test_the_next_connection_resumes(
    tls_server: typing.Any, client_context: ssl.SSLContext
) -> None:
    """Same context, same server: the second handshake is a resumption, and so on."""
    assert _exchange(tls_server.port, client_context) is False
    assert _exchange(tls_server.port, client_context) is True
    assert _exchange(tls_server.port, client_context) is True


def test_other_servers_and_contexts_never_get_the_session(
    start_server: Factory,
    client_context: ssl.SSLContext,
    ca: typing.Any,
) -> None:
    """Another server name, another port, another context: each starts with a full handshake."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "other.localhost").configure_cert(server_context)
    port = start_server(tls=server_context).port
    assert _exchange(port, client_context) is False
    assert _exchange(port, client_context) is True
    other_port = start_server(tls=server_context).port
    assert _exchange(other_port, client_context) is False  # another port
    assert _exchange(port, client_context, name="other.localhost") is False  # another name
    other_context = ssl.create_default_context()
    ca.configure_trust(other_context)
    assert _exchange(port, other_context) is False  # another context
    assert _exchange(port, client_context) is True  # the first one still resumes


def test_sessions_from_looser_verification_are_not_resumed(
    tls_server: typing.Any, client_context: ssl.SSLContext
) -> None:
    """A session made with checks off is not offered once the context checks again."""
    client_context.check_hostname = False
    client_context.verify_mode = ssl.CERT_NONE
    assert _exchange(tls_server.port, client_context) is False
    client_context.verify_mode = ssl.CERT_REQUIRED
    client_context.check_hostname = True
    assert _exchange(tls_server.port, client_context) is False


@pytest.mark.parametrize("tickets", [2, 0], ids=["tickets", "no-tickets"])
def test_the_session_is_looked_at_once_per_connection(
    tickets: int,
    tls_server: typing.Any,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    looks: list[ssl.SSLObject],
) -> None:
    """Each look copies the session: one per connection however many reads follow, also
    when the server sends no ticket at all."""
    server_context.num_tickets = tickets
    stream = SyncBackend().connect_tcp("127.0.0.1", tls_server.port, timeout=5)
    tls = stream.start_tls(client_context, "localhost", timeout=5)
    try:
        for _ in range(5):
            tls.write(b"ping", timeout=5)
            assert tls.read(10, timeout=5) == b"ping"
    finally:
        tls.close()
    assert len(looks) == 1
    # TLS 1.2 resumes by session id even without tickets; TLS 1.3 only with a ticket.
    resumes = tickets > 0 or tls.get_extra_info("ssl_object").version() != "TLSv1.3"
    assert _exchange(tls_server.port, client_context) is resumes


def test_a_server_without_tickets_is_asked_once(
    start_server: Factory,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    looks: list[ssl.SSLObject],
) -> None:
    """A TLS 1.3 server that sends no ticket has nothing to resume: its first connection
    looks at the session, the later ones neither look nor offer."""
    server_context.minimum_version = ssl.TLSVersion.TLSv1_3
    server_context.num_tickets = 0
    port = start_server(tls=server_context).port
    key = ("localhost", ("127.0.0.1", port), (ssl.CERT_REQUIRED, True))
    assert [_exchange(port, client_context) for _ in range(3)] == [False] * 3
    assert len(looks) == 1
    assert SESSIONS.get(client_context, key) is False


def test_reuse_can_be_turned_off(
    tls_server: typing.Any, client_context: ssl.SSLContext, looks: list[ssl.SSLObject]
) -> None:
    """With tls_session_reuse=False every handshake is a full one, against a server and
    context that do resume (shown last, with the default backend): no session is offered,
    looked at or remembered."""
    key = ("localhost", ("127.0.0.1", tls_server.port), (ssl.CERT_REQUIRED, True))
    backend = SyncBackend(tls_session_reuse=False)
    for _ in range(3):
        assert _exchange(tls_server.port, client_context, backend=backend) is False
    assert looks == []
    assert SESSIONS.get(client_context, key) is None
    # The control: the same server and context resume with reuse on, so the full
    # handshakes above came from turning it off (and nothing was left to resume).
    assert _exchange(tls_server.port, client_context) is False
    assert _exchange(tls_server.port, client_context) is True


def test_a_failed_handshake_forgets_the_session(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """A handshake that offered a session and failed drops it: the next one is full."""
    # Two TLS echo connections, then one closed at once, then one more TLS echo.
    with _scripted_server([server_context, server_context, None, server_context]) as port:
        assert _exchange(port, client_context) is False
        assert _exchange(port, client_context) is True
        with pytest.raises(ConnectError):
            _exchange(port, client_context)
        assert _exchange(port, client_context) is False


def test_a_server_that_refuses_resumption_is_not_offered_sessions(
    server_cert: typing.Any, client_context: ssl.SSLContext
) -> None:
    """One refused offer, then full handshakes without offers (nor sessions kept)."""
    # A new server context per connection: none can decrypt an earlier one's tickets.
    contexts = [ssl.create_default_context(ssl.Purpose.CLIENT_AUTH) for _ in range(3)]
    for context in contexts:
        server_cert.configure_cert(context)
    with _scripted_server(contexts) as port:
        key = ("localhost", ("127.0.0.1", port), (ssl.CERT_REQUIRED, True))
        assert _exchange(port, client_context) is False
        assert isinstance(SESSIONS.get(client_context, key), ssl.SSLSession)
        assert _exchange(port, client_context) is False  # offered, refused
        assert SESSIONS.get(client_context, key) is False
        assert _exchange(port, client_context) is False  # not offered
        assert SESSIONS.get(client_context, key) is False


def test_a_refusal_is_forgotten_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = SessionCache()
    context = ssl.create_default_context()
    key = ("a", ("127.0.0.1", 1), (ssl.CERT_REQUIRED, True))
    cache.refuse(context, key)
    assert cache.get(context, key) is False
    monkeypatch.setattr(netbackend_sync._sessions, "REFUSAL_MEMORY", -1.0)
    cache.refuse(context, key)
    assert cache.get(context, key) is None


def test_the_cache_is_bounded_and_lets_contexts_go() -> None:
    """Per context the oldest session goes first; a context no longer used is freed
    with its sessions, though each session holds it (as an SSLSession does)."""
    cache = SessionCache(per_context=2)
    context = ssl.create_default_context()
    session = typing.cast(ssl.SSLSession, object())
    keys = [("a", ("127.0.0.1", port), (ssl.CERT_REQUIRED, True)) for port in (1, 2, 3)]
    for key in keys:
        cache.put(context, key, session)
    assert cache.get(context, keys[0]) is None  # the oldest went
    assert cache.get(context, keys[2]) is session
    cache.discard(context, keys[2])
    assert cache.get(context, keys[2]) is None
    # A real SSLSession holds its context: the cache must not keep either alive.
    cache.put(context, keys[0], typing.cast(ssl.SSLSession, types.SimpleNamespace(ctx=context)))
    SESSIONS.put(context, keys[1], typing.cast(ssl.SSLSession, types.SimpleNamespace(ctx=context)))
    gone = weakref.ref(context)
    del context
    gc.collect()
    assert gone() is None
