"""The exception hierarchy and map_exceptions."""

from __future__ import annotations

import pytest

from netbackend_base import (
    BackendNotFoundError,
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ReadError,
    ReadTimeout,
    TimeoutException,
    WriteError,
    WriteTimeout,
    map_exceptions,
)


@pytest.mark.parametrize(
    ("exc", "base"),
    [
        (ConnectTimeout, TimeoutException),
        (ReadTimeout, TimeoutException),
        (WriteTimeout, TimeoutException),
        (ConnectError, NetworkError),
        (ReadError, NetworkError),
        (WriteError, NetworkError),
        (TimeoutException, Exception),
        (NetworkError, Exception),
        (BackendNotFoundError, ImportError),
    ],
)
def test_hierarchy(exc: type[Exception], base: type[Exception]) -> None:
    """Each exception derives from the family a caller catches it by."""
    assert issubclass(exc, base)


@pytest.mark.parametrize("exc", [ConnectTimeout, ReadTimeout, WriteTimeout])
def test_timeouts_are_not_network_errors(exc: type[Exception]) -> None:
    """Timeouts and network errors are separate families, as in httpcore."""
    assert not issubclass(exc, NetworkError)


@pytest.mark.parametrize("exc", [ConnectError, ReadError, WriteError])
def test_network_errors_are_not_timeouts(exc: type[Exception]) -> None:
    """A network error is never caught by ``except TimeoutException``."""
    assert not issubclass(exc, TimeoutException)


def test_map_exceptions_maps_and_chains() -> None:
    """A matching exception is re-raised as the mapped type with the original as __cause__."""
    original = ConnectionResetError(104, "Connection reset by peer")
    with pytest.raises(ReadError) as info, map_exceptions({OSError: ReadError}):
        raise original
    assert info.value.__cause__ is original
    assert "ConnectionResetError" in str(info.value)
    assert "Connection reset by peer" in str(info.value)


def test_map_exceptions_message_without_text_names_the_type() -> None:
    """An original exception with an empty message still yields a message: its type name."""
    with (
        pytest.raises(WriteError, match=r"^BrokenPipeError$"),
        map_exceptions({OSError: WriteError}),
    ):
        raise BrokenPipeError()


def test_map_exceptions_matches_subclasses() -> None:
    """A key matches instances of its subclasses too (isinstance, not type equality)."""
    with pytest.raises(ConnectError), map_exceptions({OSError: ConnectError}):
        raise ConnectionRefusedError()


def test_map_exceptions_keeps_unmatched_exceptions() -> None:
    """An exception matching no key propagates unchanged, the very same object."""
    original = KeyError("not a network problem")
    with pytest.raises(KeyError) as info, map_exceptions({OSError: ReadError}):
        raise original
    assert info.value is original


def test_map_exceptions_first_key_wins() -> None:
    """When several keys match, the first in the mapping decides."""
    mapping: dict[type[BaseException], type[Exception]]
    mapping = {TimeoutError: ReadTimeout, OSError: ReadError}
    with pytest.raises(ReadTimeout), map_exceptions(mapping):
        raise TimeoutError()
    reversed_mapping: dict[type[BaseException], type[Exception]]
    reversed_mapping = {OSError: ReadError, TimeoutError: ReadTimeout}
    with pytest.raises(ReadError) as info, map_exceptions(reversed_mapping):
        raise TimeoutError()
    assert not isinstance(info.value, ReadTimeout)


def test_map_exceptions_passes_through_when_nothing_is_raised() -> None:
    """Without an exception the block runs to completion and nothing is raised."""
    ran = []
    with map_exceptions({OSError: ReadError}):
        ran.append(True)
    assert ran == [True]


def test_map_exceptions_leaves_base_exceptions_alone() -> None:
    """Cancellation-style BaseExceptions (here KeyboardInterrupt) are never mapped."""
    with pytest.raises(KeyboardInterrupt), map_exceptions({BaseException: ReadError}):
        raise KeyboardInterrupt()


def test_map_exceptions_empty_mapping() -> None:
    """An empty mapping maps nothing."""
    with pytest.raises(OSError), map_exceptions({}):
        raise OSError("x")
