"""The exception hierarchy matches httpcore 1.0's and shares netbackend_base's classes."""

from __future__ import annotations

import pytest

import httptransport
import netbackend_base

NETWORK_NAMES = (
    "ConnectError",
    "ConnectTimeout",
    "NetworkError",
    "ReadError",
    "ReadTimeout",
    "TimeoutException",
    "WriteError",
    "WriteTimeout",
)


@pytest.mark.parametrize("name", NETWORK_NAMES)
def test_network_exceptions_are_netbackend_base_classes(name: str) -> None:
    """Each network exception is the very class netbackend_base defines."""
    assert getattr(httptransport, name) is getattr(netbackend_base, name)


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (httptransport.PoolTimeout, httptransport.TimeoutException),
        (httptransport.ConnectTimeout, httptransport.TimeoutException),
        (httptransport.ReadTimeout, httptransport.TimeoutException),
        (httptransport.WriteTimeout, httptransport.TimeoutException),
        (httptransport.ConnectError, httptransport.NetworkError),
        (httptransport.ReadError, httptransport.NetworkError),
        (httptransport.WriteError, httptransport.NetworkError),
        (httptransport.LocalProtocolError, httptransport.ProtocolError),
        (httptransport.RemoteProtocolError, httptransport.ProtocolError),
    ],
)
def test_subclasses(child: type[Exception], parent: type[Exception]) -> None:
    """Each specific exception derives from its family, as in httpcore."""
    assert issubclass(child, parent)


@pytest.mark.parametrize(
    "cls",
    [
        httptransport.ConnectionNotAvailable,
        httptransport.ProxyError,
        httptransport.UnsupportedProtocol,
        httptransport.ProtocolError,
        httptransport.TimeoutException,
        httptransport.NetworkError,
    ],
)
def test_families_derive_directly_from_exception(cls: type[Exception]) -> None:
    """The top-level families are plain Exception subclasses, unrelated to each other."""
    assert cls.__bases__ == (Exception,)


def test_families_are_disjoint() -> None:
    """A protocol error is not a network error and a pool timeout is not a network error."""
    assert not issubclass(httptransport.RemoteProtocolError, httptransport.NetworkError)
    assert not issubclass(httptransport.PoolTimeout, httptransport.NetworkError)
    assert not issubclass(httptransport.ProxyError, httptransport.ProtocolError)


def test_map_exceptions_keeps_the_message() -> None:
    """map_exceptions maps to httptransport's classes and keeps the message as it is
    (httpcore's str(exc) is the original text, with no class name in front)."""
    from httptransport._exceptions import map_exceptions

    with (
        pytest.raises(httptransport.RemoteProtocolError) as info,
        map_exceptions({ValueError: httptransport.RemoteProtocolError}),
    ):
        raise ValueError("bad")
    assert str(info.value) == "bad"
    assert isinstance(info.value.__cause__, ValueError)
