"""The blocking mock backend: scripted reads, recorded writes and calls, extra info."""

from __future__ import annotations

import ipaddress
import socket
import ssl

import pytest

import netbackend_base
from netbackend_mock import ConnectCall, MockBackend, MockSSLObject, MockStream, StartTLSCall

RESPONSE = [b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n\r\n", b"ok"]


def test_classes_implement_the_interface() -> None:
    """MockBackend and MockStream subclass the netbackend-base interface classes."""
    assert issubclass(MockBackend, netbackend_base.NetworkBackend)
    assert issubclass(MockStream, netbackend_base.NetworkStream)
    assert isinstance(MockBackend([]).connect_tcp("example.com", 80), netbackend_base.NetworkStream)


def test_reads_replay_the_script_then_eof() -> None:
    """Each read returns the next chunk, then b"" for ever once the script is used up."""
    stream = MockBackend(list(RESPONSE)).connect_tcp("example.com", 80)
    assert [stream.read(1024) for _ in range(5)] == [*RESPONSE, b"", b""]


def test_read_splits_a_chunk_longer_than_max_bytes() -> None:
    """A chunk longer than max_bytes is returned in max_bytes pieces, in order."""
    stream = MockStream([b"abcdefg", b"hi"])
    assert stream.read(3) == b"abc"
    assert stream.read(3) == b"def"
    assert stream.read(3) == b"g"
    assert stream.read(3) == b"hi"
    assert stream.read(3) == b""


def test_read_rejects_max_bytes_below_one() -> None:
    """read(0) raises ValueError instead of returning b"", which would look like EOF."""
    stream = MockStream([b"data"])
    with pytest.raises(ValueError, match="max_bytes"):
        stream.read(0)
    assert stream.read(10) == b"data"


def test_empty_chunk_reads_as_early_eof() -> None:
    """An empty chunk in the script is returned as b"" and the script carries on after it."""
    stream = MockStream([b"a", b"", b"b"])
    assert [stream.read(10) for _ in range(3)] == [b"a", b"", b"b"]


def test_stream_consumes_the_list_it_was_given() -> None:
    """A directly built MockStream pops chunks off the caller's list, as httpcore's does."""
    script = [b"one", b"two"]
    stream = MockStream(script)
    stream.read(10)
    assert script == [b"two"]


def test_each_connection_replays_its_own_copy_by_default() -> None:
    """Without shared=True every connection reads the whole script from the start."""
    script = list(RESPONSE)
    backend = MockBackend(script)
    first = backend.connect_tcp("example.com", 80)
    second = backend.connect_tcp("example.com", 80)
    assert first.read(1024) == RESPONSE[0]
    assert second.read(1024) == RESPONSE[0]
    assert script == RESPONSE


def test_shared_connections_consume_one_script_in_order() -> None:
    """With shared=True connections pop from the one list: the second sees what the first left."""
    script = [b"first", b"second-chunk"]
    backend = MockBackend(script, shared=True)
    first = backend.connect_tcp("example.com", 80)
    second = backend.connect_unix_socket("/tmp/sock")
    assert first.read(1024) == b"first"
    assert second.read(6) == b"second"
    assert first.read(1024) == b"-chunk"
    assert second.read(1024) == b""
    assert script == []


def test_writes_are_recorded_in_order() -> None:
    """write() appends each non-empty buffer to stream.written; empty writes are no-ops."""
    stream = MockBackend([]).connect_tcp("example.com", 80)
    stream.write(b"GET / ")
    stream.write(b"")
    stream.write(bytearray(b"HTTP/1.1\r\n"))  # type: ignore[arg-type]
    assert stream.written == [b"GET / ", b"HTTP/1.1\r\n"]
    assert all(type(item) is bytes for item in stream.written)
    assert stream.data_written == b"GET / HTTP/1.1\r\n"


def test_read_after_close_raises_read_error() -> None:
    """Reading a closed stream raises ReadError even when script data is left."""
    stream = MockStream([b"left over"])
    stream.close()
    assert stream.closed
    with pytest.raises(netbackend_base.ReadError):
        stream.read(10)


def test_write_after_close_raises_write_error() -> None:
    """Writing to a closed stream raises WriteError and records nothing."""
    stream = MockStream([])
    stream.close()
    with pytest.raises(netbackend_base.WriteError):
        stream.write(b"late")
    assert stream.written == []


def test_close_twice_is_harmless() -> None:
    """Closing a closed stream does not raise and leaves it closed."""
    stream = MockStream([])
    assert not stream.closed
    stream.close()
    stream.close()
    assert stream.closed


def test_start_tls_returns_the_stream_and_records_its_arguments() -> None:
    """start_tls returns the same stream and records context, hostname and timeout."""
    context = ssl.create_default_context()
    stream = MockBackend([b"x"]).connect_tcp("example.com", 443)
    assert (stream.ssl_context, stream.server_hostname) == (None, None)
    tls = stream.start_tls(context, server_hostname="example.com", timeout=3.0)
    assert tls is stream
    assert stream.tls_calls == [StartTLSCall(context, "example.com", 3.0)]
    assert stream.ssl_context is context
    assert stream.server_hostname == "example.com"
    assert tls.read(10) == b"x"


def test_start_tls_twice_records_both_layers() -> None:
    """TLS-in-TLS records both handshakes; the latest hostname is the one reported."""
    context = ssl.create_default_context()
    stream = MockStream([])
    stream.start_tls(context, server_hostname="proxy.example").start_tls(
        context, server_hostname="origin.example"
    )
    assert [call.server_hostname for call in stream.tls_calls] == [
        "proxy.example",
        "origin.example",
    ]
    assert stream.server_hostname == "origin.example"


def test_start_tls_on_closed_stream_raises_connect_error() -> None:
    """start_tls on a closed stream fails as a handshake would, with ConnectError."""
    stream = MockStream([])
    stream.close()
    with pytest.raises(netbackend_base.ConnectError):
        stream.start_tls(ssl.create_default_context())


def test_closing_the_tls_stream_closes_the_stream() -> None:
    """The stream start_tls returns owns the original: closing it closes both."""
    stream = MockStream([b"x"])
    stream.start_tls(ssl.create_default_context()).close()
    assert stream.closed


@pytest.mark.parametrize(("http2", "alpn"), [(True, "h2"), (False, None)])
def test_ssl_object_reports_alpn(http2: bool, alpn: str | None) -> None:
    """ssl_object exists even on a plain stream and reports "h2" exactly when http2=True."""
    stream = MockBackend([], http2=http2).connect_tcp("example.com", 80)
    ssl_object = stream.get_extra_info("ssl_object")
    assert isinstance(ssl_object, MockSSLObject)
    assert ssl_object.selected_alpn_protocol() == alpn
    assert repr(alpn) in repr(ssl_object)


def test_http2_defaults_to_false() -> None:
    """MockBackend(buffer) and MockStream(buffer) behave as HTTP/1.1 servers by default."""
    backend = MockBackend([])
    assert backend.http2 is False
    assert MockStream([]).get_extra_info("ssl_object").selected_alpn_protocol() is None


def test_is_readable_is_false_even_with_data_left() -> None:
    """is_readable stays False so a pool keeps reusing an idle keep-alive connection."""
    stream = MockStream([b"next response"])
    assert stream.get_extra_info("is_readable") is False
    stream.read(4)
    assert stream.get_extra_info("is_readable") is False


def test_tcp_extra_info_addresses() -> None:
    """TCP streams report the connect target as server_addr and distinct client ports."""
    backend = MockBackend([])
    first = backend.connect_tcp("example.com", 8080)
    second = backend.connect_tcp("example.org", 443, local_address="10.1.2.3")
    assert first.get_extra_info("server_addr") == ("example.com", 8080)
    assert second.get_extra_info("server_addr") == ("example.org", 443)
    host, port = first.get_extra_info("client_addr")
    assert host == "127.0.0.1"
    assert 1024 <= port <= 65535
    assert second.get_extra_info("client_addr")[0] == "10.1.2.3"
    assert second.get_extra_info("client_addr")[1] != port


def test_unix_extra_info_addresses() -> None:
    """Unix streams report path strings: the socket path as server_addr, "" as client_addr."""
    stream = MockBackend([]).connect_unix_socket("/run/app.sock")
    assert stream.get_extra_info("server_addr") == "/run/app.sock"
    assert stream.get_extra_info("client_addr") == ""


def test_direct_stream_has_plausible_addresses() -> None:
    """A MockStream built directly reports (host, port) tuples, overridable by keyword."""
    default = MockStream([])
    assert isinstance(default.get_extra_info("client_addr"), tuple)
    assert isinstance(default.get_extra_info("server_addr"), tuple)
    custom = MockStream([], client_addr=("::1", 5000), server_addr=("::1", 443))
    assert custom.get_extra_info("client_addr") == ("::1", 5000)
    assert custom.get_extra_info("server_addr") == ("::1", 443)


@pytest.mark.parametrize("key", ["socket", "no-such-key"])
def test_other_extra_info_is_none(key: str) -> None:
    """socket and unknown keys return None."""
    assert MockStream([b"x"]).get_extra_info(key) is None


def test_backend_records_tcp_connect_arguments() -> None:
    """connect_tcp records every argument, socket options collected into a tuple."""
    backend = MockBackend([])
    option = (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    stream = backend.connect_tcp(
        "example.com", 443, timeout=2.5, local_address="127.0.0.1", socket_options=iter([option])
    )
    assert backend.streams == [stream]
    assert backend.connect_calls == [
        ConnectCall(
            "tcp",
            host="example.com",
            port=443,
            timeout=2.5,
            local_address="127.0.0.1",
            socket_options=(option,),
        )
    ]


def test_backend_records_unix_connect_arguments() -> None:
    """connect_unix_socket records path, timeout and options; host and port stay None."""
    backend = MockBackend([])
    stream = backend.connect_unix_socket("/tmp/app.sock", timeout=1.0)
    call = backend.connect_calls[0]
    assert backend.streams == [stream]
    assert (call.kind, call.path, call.timeout) == ("unix", "/tmp/app.sock", 1.0)
    assert (call.host, call.port, call.local_address, call.socket_options) == (
        None,
        None,
        None,
        None,
    )


def test_streams_and_calls_line_up() -> None:
    """backend.streams[i] is the stream opened by backend.connect_calls[i]."""
    backend = MockBackend([])
    streams = [backend.connect_tcp("a.example", 80), backend.connect_unix_socket("/s")]
    assert backend.streams == streams
    assert [call.kind for call in backend.connect_calls] == ["tcp", "unix"]


def test_sleep_returns_at_once_and_is_recorded() -> None:
    """sleep() does not block (an hour would hang the suite) and records the duration."""
    backend = MockBackend([])
    backend.sleep(3600)
    backend.sleep(0.5)
    assert backend.sleeps == [3600, 0.5]


def test_repr_shows_state() -> None:
    """The repr names the class and says whether the stream is open."""
    stream = MockStream([b"x"])
    assert "MockStream" in repr(stream)
    assert "open" in repr(stream)
    stream.close()
    assert "closed" in repr(stream)


def test_constructor_takes_httpcore_arguments_positionally() -> None:
    """MockBackend and MockStream take (buffer, http2) positionally, as in httpcore."""
    backend = MockBackend([b"x"], True)
    assert backend.http2 is True
    stream = MockStream([b"y"], True)
    assert stream.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"


def test_readme_example_runs() -> None:
    """The Python example in the package README runs and its assertions hold."""
    import pathlib
    import re

    readme = pathlib.Path(__file__).parents[2] / "packages" / "netbackend-mock" / "README.md"
    if not readme.exists():
        pytest.skip("not running from a repository checkout")
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, str(readme), "exec"), {})


def test_resolve_is_real() -> None:
    """resolve() is not mocked: it is the interface's default, a real lookup."""
    backend = MockBackend([])
    addresses = backend.resolve("localhost", timeout=5)
    assert addresses
    assert all(ipaddress.ip_address(address).is_loopback for address in addresses)
    assert backend.resolve("127.0.0.1") == ["127.0.0.1"]
    assert backend.sleeps == []
