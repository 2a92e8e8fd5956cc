"""The command-line client's argument and backend handling, in process (the command
itself is run as a process by test_cli.py)."""

from __future__ import annotations

import socket
import time
import typing

import pytest

from httptransport._cli import (
    AsyncPinnedBackend,
    PinnedBackend,
    choose_backend,
    list_backends,
    lookup_host,
)
from httptransport._cli_args import (
    EXIT_BACKEND,
    EXIT_BAD_URL,
    EXIT_CODES,
    EXIT_READ_FILE,
    EXIT_USAGE,
    CLIError,
    Options,
    build_parser,
    options_from,
)
from netbackend_base import (
    AsyncNetworkBackend,
    BackendNotFoundError,
    ConnectError,
    NetworkBackend,
    find_backend,
    installed_backends,
)


def _options(*argv: str) -> Options:
    return options_from(build_parser().parse_args(list(argv)))


def _error(*argv: str) -> CLIError:
    with pytest.raises(CLIError) as info:
        _options(*argv)
    return info.value


def test_options_from_a_full_command_line(tmp_path: typing.Any) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(b"\x00\x01payload")
    options = _options(
        "-X",
        "put",
        "-H",
        "X-One: 1",
        "-H",
        "User-Agent:",
        "--data-file",
        str(body),
        "--timeout",
        "2.5",
        "http://127.0.0.1:8080/path",
    )
    assert options.method == "put"  # sent as given, as curl does
    assert (b"X-One", b"1") in options.headers
    assert not any(name.lower() == b"user-agent" for name, _ in options.headers)
    assert options.body == b"\x00\x01payload"
    assert (b"Accept", b"*/*") in options.headers  # the other default stays
    assert options.timeout == 2.5
    assert options.connect_timeout is None
    assert options.url == "http://127.0.0.1:8080/path"


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (("-H", "no colon", "http://h/"), EXIT_USAGE, "bad header"),
        (("-H", "bad name: x", "http://h/"), EXIT_USAGE, "bad header name"),
        (("-X", "GE T", "http://h/"), EXIT_USAGE, "bad method"),
        (("ftp://h/",), EXIT_BAD_URL, "ftp"),
        (("http:///nohost",), EXIT_BAD_URL, "no host"),
        (("--proxy", "gopher://p:1", "http://h/"), EXIT_BAD_URL, "--proxy"),
        (("--data-file", "/nonexistent/body", "http://h/"), EXIT_READ_FILE, "body"),
    ],
)
def test_bad_arguments_are_cli_errors(argv: tuple[str, ...], code: int, words: str) -> None:
    error = _error(*argv)
    assert error.code == code
    assert words in error.message


def test_bad_timeout_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--timeout", "-1", "http://h/"])
    assert info.value.code == EXIT_USAGE


def test_unknown_backend_names_what_is_installed() -> None:
    with pytest.raises(CLIError) as info:
        choose_backend("nosuch")
    assert info.value.code == EXIT_BACKEND
    assert "unknown backend 'nosuch'" in info.value.message


def test_unknown_loop_is_a_usage_error() -> None:
    if not installed_backends():
        pytest.skip("no backend installed")
    name = installed_backends()[0].name
    with pytest.raises(CLIError) as info:
        choose_backend(f"{name}:gevent")
    assert info.value.code == EXIT_USAGE


def test_backend_choice_and_listing() -> None:
    names = {info.name for info in installed_backends()}
    listing = list_backends()
    if not names:
        assert "pip install netbackend-sync" in listing
        with pytest.raises(CLIError):
            choose_backend(None)
        return
    for name in names:
        assert name in listing
    if "sync" in names:
        choice = choose_backend(None)
        assert (choice.name, choice.loop) == (None, "sync")
        assert choose_backend("sync").loop == "sync"
        with pytest.raises(CLIError) as info:
            choose_backend("sync:trio")
        assert info.value.code == EXIT_BACKEND
        assert "does not run on trio" in info.value.message


def test_parser_lists_every_exit_status() -> None:
    """--help ends with a line per exit status, its number and its meaning."""
    text = build_parser().format_help()
    for code, meaning in EXIT_CODES:
        assert f"  {code:>3}  {meaning}" in text


def _sync_backend() -> NetworkBackend:
    try:
        return typing.cast(NetworkBackend, find_backend("sync")())
    except BackendNotFoundError as exc:
        pytest.skip(str(exc))


def test_pinned_backend_connects_to_the_next_address_on_refusal() -> None:
    """--trace's backend connects the pinned name to its looked-up addresses in order,
    past one that refuses; other hosts go to the backend as they are."""
    backend = PinnedBackend(_sync_backend(), "pinned.invalid")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        backend.addresses = ["127.0.0.2", "127.0.0.1"]  # nothing listens on the first
        stream = backend.connect_tcp("pinned.invalid", port, timeout=5.0)
        try:
            assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
        finally:
            stream.close()
        stream = backend.connect_tcp("127.0.0.1", port, timeout=5.0)
        stream.close()
    backend.addresses = ["127.0.0.2", "127.0.0.1"]
    with pytest.raises(ConnectError):  # every address refuses: the last error
        backend.connect_tcp("pinned.invalid", port, timeout=5.0)
    assert backend.resolve("127.0.0.1") == ["127.0.0.1"]
    backend.sleep(0)
    with pytest.raises(ConnectError):
        backend.connect_unix_socket("/nonexistent/socket", timeout=5.0)


def test_attempts_share_one_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each address gets what is left of the one timeout, never less than zero."""
    from httptransport import _cli

    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    given = []
    for address, left in _cli._attempts(["a", "b", "c"], 5.0):
        given.append((address, left))
        now[0] += 3.0
    assert given == [("a", 5.0), ("b", 2.0), ("c", 0.0)]
    assert list(_cli._attempts(["a", "b"], None)) == [("a", None), ("b", None)]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["http://example.org/"], "example.org"),
        (["--proxy", "http://proxy.example:3128", "http://example.org/"], "proxy.example"),
        (["http://127.0.0.1:8000/"], None),  # an address: nothing to look up
        (["http://[::1]:8000/"], None),
        (["--uds", "/tmp/sock", "http://example.org/"], None),  # a Unix socket
    ],
)
def test_lookup_host_names_what_the_pool_will_resolve(
    argv: list[str], expected: str | None
) -> None:
    """--trace looks up the proxy's name when there is one, else the URL's; never an
    IP address or the host of a Unix-socket request."""
    assert lookup_host(_options(*argv)) == expected


@pytest.mark.anyio
async def test_async_pinned_backend_connects_to_the_next_address_on_refusal(
    anyio_backend: str,
) -> None:
    """The async twin of the pinned backend: the looked-up addresses in order, past one
    that refuses; other hosts, Unix sockets, lookups and sleeps go to the backend."""
    try:
        inner = typing.cast(AsyncNetworkBackend, find_backend(anyio_backend)())
    except BackendNotFoundError as exc:
        pytest.skip(str(exc))
    backend = AsyncPinnedBackend(inner, "pinned.invalid")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        backend.addresses = ["127.0.0.2", "127.0.0.1"]  # nothing listens on the first
        stream = await backend.connect_tcp("pinned.invalid", port, timeout=5.0)
        try:
            assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
        finally:
            await stream.aclose()
        stream = await backend.connect_tcp("127.0.0.1", port, timeout=5.0)
        await stream.aclose()
    assert await backend.resolve("127.0.0.1") == ["127.0.0.1"]
    await backend.sleep(0)
    with pytest.raises(ConnectError):  # every address refuses: the last error
        await backend.connect_tcp("pinned.invalid", port, timeout=5.0)
    with pytest.raises(ConnectError):
        await backend.connect_unix_socket("/nonexistent/socket", timeout=5.0)
