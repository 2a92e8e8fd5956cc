"""SyncBackend.connect_tcp / connect_unix_socket: Happy Eyeballs, binding, options, errors."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import typing
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("netbackend_sync")

from netbackend_base import HAPPY_EYEBALLS_DELAY, ConnectError, ConnectTimeout
from netbackend_sync import SyncBackend

FAKE = "dual-stack.invalid"

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="Linux TCP behaviour")

Factory = Callable[..., typing.Any]


def _roundtrip(stream: typing.Any) -> None:
    stream.write(b"ping")
    assert stream.read(10) == b"ping"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_happy_eyeballs_falls_back_to_ipv4_when_ipv6_never_answers(
    dual_stack: typing.Any, fake_dns: Factory, open_fds: Callable[[], int]
) -> None:
    """::1 stalls, so 127.0.0.1 starts 250 ms later and wins; the stalled socket is closed."""
    fake_dns(FAKE, ["::1", "127.0.0.1"])
    before = open_fds()
    started = time.monotonic()
    stream = SyncBackend().connect_tcp(FAKE, dual_stack.port, timeout=5)
    elapsed = time.monotonic() - started
    try:
        _roundtrip(stream)  # the server has accepted by now: its socket is counted too
        assert open_fds() == before + 2
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", dual_stack.port)
    finally:
        stream.close()
    assert HAPPY_EYEBALLS_DELAY <= elapsed < 0.5
    dual_stack.join()
    assert open_fds() == before


def test_happy_eyeballs_starts_the_next_attempt_at_once_after_a_refusal(
    start_server: Factory, fake_dns: Factory
) -> None:
    """A refused ::1 does not hold 127.0.0.1 back for the attempt delay."""
    server = start_server()
    with socket.socket(socket.AF_INET6) as probe:
        try:
            probe.bind(("::1", server.port))  # bound, not listening: connections are refused
        except OSError:
            pytest.skip("the port is in use on ::1")
        fake_dns(FAKE, ["::1", "127.0.0.1"])
        started = time.monotonic()
        stream = SyncBackend().connect_tcp(FAKE, server.port, timeout=5)
        elapsed = time.monotonic() - started
    try:
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", server.port)
    finally:
        stream.close()
    assert elapsed < HAPPY_EYEBALLS_DELAY


def test_happy_eyeballs_reports_the_last_error_when_every_address_fails(
    fake_dns: Factory, open_fds: Callable[[], int]
) -> None:
    """Every address refused: ConnectError naming the refusal, and no socket left open."""
    fake_dns(FAKE, ["::1", "127.0.0.1"])
    before = open_fds()
    with pytest.raises(ConnectError, match="Connection refused") as excinfo:
        SyncBackend().connect_tcp(FAKE, _closed_port(), timeout=5)
    assert isinstance(excinfo.value.__cause__, ConnectionRefusedError)
    assert open_fds() == before


def test_happy_eyeballs_timeout_closes_every_attempt(
    blackhole: Factory, fake_dns: Factory, open_fds: Callable[[], int]
) -> None:
    """Both addresses stall: ConnectTimeout at the deadline, with both sockets closed."""
    ipv4 = blackhole("127.0.0.1")
    try:
        blackhole("::1", ipv4.port)
    except OSError:
        pytest.skip("the port is in use on ::1")
    fake_dns(FAKE, ["::1", "127.0.0.1"])
    before = open_fds()
    started = time.monotonic()
    with pytest.raises(ConnectTimeout):
        SyncBackend().connect_tcp(FAKE, ipv4.port, timeout=0.4)
    assert 0.4 <= time.monotonic() - started < 1.5
    assert open_fds() == before


def test_single_address_timeout(blackhole: Factory, open_fds: Callable[[], int]) -> None:
    """One stalled address: ConnectTimeout, and its socket is closed."""
    hole = blackhole("127.0.0.1")
    before = open_fds()
    with pytest.raises(ConnectTimeout):
        SyncBackend().connect_tcp("127.0.0.1", hole.port, timeout=0.1)
    assert open_fds() == before


def test_single_address_refused(open_fds: Callable[[], int]) -> None:
    """A refused single address raises ConnectError and leaves no socket open."""
    before = open_fds()
    with pytest.raises(ConnectError, match="Connection refused"):
        SyncBackend().connect_tcp("127.0.0.1", _closed_port())
    assert open_fds() == before


@pytest.fixture
def stalled_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Make ``socket.getaddrinfo`` block until the returned event is set (at teardown)."""
    release = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def stall(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        release.wait(10)
        return real_getaddrinfo("127.0.0.1", *args[1:], **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stall)
    yield release
    release.set()


def test_timeout_covers_name_resolution(stalled_dns: threading.Event) -> None:
    """A resolver that does not answer within the timeout raises ConnectTimeout."""
    started = time.monotonic()
    with pytest.raises(ConnectTimeout, match="resolving"):
        SyncBackend().connect_tcp("slow.invalid", 80, timeout=0.1)
    assert time.monotonic() - started < 1


def test_resolution_failure_is_a_connect_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver error (gaierror) becomes ConnectError."""

    def fail(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(ConnectError, match="Name or service not known"):
        SyncBackend().connect_tcp("nowhere.invalid", 80, timeout=1)


def test_local_address_limits_attempts_to_its_family(
    dual_stack: typing.Any, fake_dns: Factory
) -> None:
    """Binding to 127.0.0.1 skips the (stalling) ::1 address and connects from 127.0.0.1."""
    fake_dns(FAKE, ["::1", "127.0.0.1"])
    started = time.monotonic()
    stream = SyncBackend().connect_tcp(FAKE, dual_stack.port, local_address="127.0.0.1")
    try:
        assert time.monotonic() - started < HAPPY_EYEBALLS_DELAY
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        _roundtrip(stream)
    finally:
        stream.close()


def test_local_address_of_another_family_cannot_connect(start_server: Factory) -> None:
    """An IPv6 local address cannot reach an IPv4-only host: ConnectError."""
    server = start_server()
    with pytest.raises(ConnectError, match="no address of"):
        SyncBackend().connect_tcp("127.0.0.1", server.port, local_address="::1")


def test_local_address_is_bound(start_server: Factory) -> None:
    """The connection's local address is the one asked for, on a kernel-chosen port."""
    server = start_server(host="::1")
    stream = SyncBackend().connect_tcp("::1", server.port, local_address="::1")
    try:
        host, port = stream.get_extra_info("client_addr")
        assert host == "::1"
        assert port != 0
    finally:
        stream.close()


def test_tcp_nodelay_is_on(start_server: Factory) -> None:
    """Connections have TCP_NODELAY set."""
    server = start_server()
    stream = SyncBackend().connect_tcp("127.0.0.1", server.port)
    try:
        sock = stream.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        stream.close()


def test_socket_options_come_after_tcp_nodelay(start_server: Factory) -> None:
    """A caller's socket option can turn TCP_NODELAY back off."""
    server = start_server()
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)]
    stream = SyncBackend().connect_tcp("127.0.0.1", server.port, socket_options=options)
    try:
        sock = stream.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    finally:
        stream.close()


@linux_only
def test_socket_options_are_applied_before_connect(start_server: Factory) -> None:
    """TCP_MAXSEG set before connect() lowers the MSS the server sees in the SYN."""
    server = start_server()
    options = iter([(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1000)])
    stream = SyncBackend().connect_tcp("127.0.0.1", server.port, socket_options=options)
    try:
        _roundtrip(stream)
        (accepted,) = server.accepted
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) <= 1000
    finally:
        stream.close()


def test_socket_options_reach_every_happy_eyeballs_attempt(
    dual_stack: typing.Any, fake_dns: Factory
) -> None:
    """Options given as a one-shot iterator are applied to the second (winning) attempt too."""
    fake_dns(FAKE, ["::1", "127.0.0.1"])
    options = iter([(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)])
    stream = SyncBackend().connect_tcp(FAKE, dual_stack.port, timeout=5, socket_options=options)
    try:
        sock = stream.get_extra_info("socket")
        # Linux doubles the value for bookkeeping; other systems keep it.
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) in (32768, 65536)
    finally:
        stream.close()


@pytest.fixture
def unix_path() -> Iterator[str]:
    """A path for a Unix socket in a fresh directory, removed afterwards."""
    directory = os.path.realpath(os.environ.get("TMPDIR", "/tmp"))
    path = os.path.join(directory, f"netbackend-sync-{os.getpid()}-{id(object())}.sock")
    yield path
    if os.path.exists(path):
        os.unlink(path)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets")
def test_unix_socket_roundtrip(unix_path: str) -> None:
    """connect_unix_socket reaches a Unix listener and applies socket options."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(unix_path)
        listener.listen(1)
        options = [(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)]
        stream = SyncBackend().connect_unix_socket(unix_path, timeout=5, socket_options=options)
        conn, _ = listener.accept()
        try:
            assert stream.get_extra_info("server_addr") == unix_path
            sock = stream.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) in (32768, 65536)
            stream.write(b"over unix")
            assert conn.recv(100) == b"over unix"
        finally:
            conn.close()
            stream.close()


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets")
def test_unix_socket_missing_path(unix_path: str, open_fds: Callable[[], int]) -> None:
    """A path with no listener raises ConnectError and leaves no socket open."""
    before = open_fds()
    with pytest.raises(ConnectError):
        SyncBackend().connect_unix_socket(unix_path)
    assert open_fds() == before
