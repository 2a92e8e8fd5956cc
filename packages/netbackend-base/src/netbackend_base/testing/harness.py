"""The conformance kit's harness: which backends run, and one async face for all of them.

Every test of the kit is written once, as an ``async`` function against :class:`Net`
(the backend under test) and :class:`Stream` (one of its streams). For a blocking
backend each call runs in a worker thread (``anyio.to_thread.run_sync``), so the same
test body drives it; an async backend's calls are awaited on the event loop its variant
names.

A *variant* is one backend in one calling context (``sync``, ``asyncio`` or ``trio``).
:func:`select_variants` picks them: the backend named by ``--netbackend`` (or
``$NETBACKEND_CONFORMANCE``) in each context it serves, or else every backend registered
in the ``netbackend.sync`` / ``netbackend.asyncio`` / ``netbackend.trio`` entry-point
groups.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import inspect
import os
import socket
import ssl
import typing
from collections.abc import Callable, Iterable, Iterator

import anyio
import anyio.to_thread
import pytest

from netbackend_base import (
    SOCKET_OPTION,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    NetworkBackend,
    NetworkStream,
    installed_backends,
)

__all__ = (
    "ENV_LOOPS",
    "ENV_TARGET",
    "LOOPS",
    "BackendCase",
    "Caught",
    "Net",
    "Stream",
    "Variant",
    "is_async_backend",
    "load_case",
    "load_target",
    "option",
    "select_variants",
)

ENV_TARGET = "NETBACKEND_CONFORMANCE"
ENV_LOOPS = "NETBACKEND_CONFORMANCE_LOOPS"
LOOPS = ("asyncio", "trio")
_GROUPS = "the netbackend.sync, netbackend.asyncio and netbackend.trio entry-point groups"


# ------------------------------------------------------------------------- variants


@dataclasses.dataclass(frozen=True)
class Variant:
    """One backend in one calling context, chosen at collection time.

    Attributes:
        id: The test id suffix: the context alone for ``--netbackend`` (``"sync"``,
            ``"asyncio"``, ``"trio"``); for a discovered backend its entry-point name,
            followed by ``-context`` when the two differ (``"sync"``, ``"anyio-trio"``).
        target: ``"module:Class"``.
        context: ``"sync"``, ``"asyncio"`` or ``"trio"``.
    """

    id: str
    target: str
    context: str


@dataclasses.dataclass(frozen=True)
class BackendCase:
    """A variant ready to run: the backend class and the loop that drives the test body.

    Attributes:
        name: The variant id shown in test names.
        factory: Makes a fresh backend instance.
        is_async: Whether the backend's methods are coroutines.
        loop: ``"asyncio"`` or ``"trio"``: what anyio runs the test body on (asyncio for
            a blocking backend, whose calls then go to a worker thread).
    """

    name: str
    factory: Callable[[], typing.Any]
    is_async: bool
    loop: str


def option(config: pytest.Config, name: str, env: str) -> str | None:
    """A kit option from the command line, else from the environment variable ``env``.

    The command-line option only exists when the plugin was loaded at start-up (``-p
    netbackend_base.testing.plugin``, or a conftest.py that pytest loads before parsing
    the command line); the variable works however pytest was started.
    """
    value = config.getoption(name, default=None)
    if value is None:
        value = os.environ.get(env) or None
    return typing.cast("str | None", value)


def load_target(target: str) -> type[typing.Any]:
    """Import ``"module:Class"`` (the class part may be dotted) and return the class."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise pytest.UsageError(f"--netbackend wants MODULE:CLASS, got {target!r}")
    try:
        obj: typing.Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise pytest.UsageError(f"--netbackend={target}: {exc}") from exc
    if not isinstance(obj, type):
        raise pytest.UsageError(f"--netbackend={target}: {obj!r} is not a class")
    return obj


def is_async_backend(cls: type[typing.Any]) -> bool:
    """Whether ``cls`` implements the async interface (by base class, else by its
    ``connect_tcp`` being a coroutine function)."""
    if issubclass(cls, AsyncNetworkBackend):
        return True
    if issubclass(cls, NetworkBackend):
        return False
    return inspect.iscoroutinefunction(getattr(cls, "connect_tcp", None))


def _loops(config: pytest.Config) -> tuple[str, ...] | None:
    chosen = option(config, "netbackend_loops", ENV_LOOPS)
    if chosen is None:
        return None
    loops = tuple(loop.strip() for loop in chosen.split(",") if loop.strip())
    if not loops:
        raise pytest.UsageError("--netbackend-loops names no event loop: use asyncio and/or trio")
    for loop in loops:
        if loop not in LOOPS:
            raise pytest.UsageError(f"unknown event loop {loop!r}: use asyncio and/or trio")
    return loops


def _registered_contexts(target: str, cls: type[typing.Any]) -> tuple[str, ...]:
    """The contexts ``cls`` is registered for in the entry-point groups, if any."""
    names = {target, f"{cls.__module__}:{cls.__qualname__}"}
    found: list[str] = []
    for info in installed_backends():
        if info.target in names:
            found.extend(context for context in info.contexts if context not in found)
    return tuple(found)


def _target_variants(target: str, loops: tuple[str, ...] | None) -> list[Variant]:
    if ":" not in target:
        # An entry-point name: that backend in the contexts it registers.
        infos = [info for info in installed_backends() if info.name == target]
        if not infos:
            known = ", ".join(info.name for info in installed_backends()) or "none"
            raise pytest.UsageError(
                f"--netbackend={target}: no backend of that name in {_GROUPS} "
                f"(registered: {known}); give MODULE:CLASS instead"
            )
        contexts = [context for info in infos for context in info.contexts]
        target = infos[0].target
        if loops is not None and any(context != "sync" for context in contexts):
            contexts = [context for context in contexts if context == "sync"] + list(loops)
        return [Variant(context, target, context) for context in dict.fromkeys(contexts)]
    cls = load_target(target)
    if not is_async_backend(cls):
        return [Variant("sync", target, "sync")]
    if loops is None:
        loops = tuple(c for c in _registered_contexts(target, cls) if c in LOOPS) or LOOPS
    return [Variant(loop, target, loop) for loop in loops]


def _discovered_variants(loops: tuple[str, ...] | None) -> list[Variant]:
    variants = []
    for info in installed_backends():
        for context in info.contexts:
            if loops is not None and context != "sync" and context not in loops:
                continue
            name = info.name if info.name == context else f"{info.name}-{context}"
            variants.append(Variant(name, info.target, context))
    return variants


_VARIANTS = pytest.StashKey[list[Variant]]()


def select_variants(config: pytest.Config) -> list[Variant]:
    """The variants this run covers.

    * ``--netbackend=MODULE:CLASS``: that class, in ``sync`` when it is blocking, else on
      the loops of ``--netbackend-loops``, or those it is registered for in the
      entry-point groups, or both asyncio and trio;
    * ``--netbackend=NAME``: the registered backend of that entry-point name, in the
      contexts it registers (``--netbackend-loops`` replaces its async ones);
    * neither: every registered backend in every context it registers, its async ones
      restricted by ``--netbackend-loops`` when given.

    The choice is made once per run (the first call raises ``pytest.UsageError`` for a
    target that does not load or an unknown loop) and kept in ``config.stash``.
    """
    cached = config.stash.get(_VARIANTS, None)
    if cached is not None:
        return list(cached)
    loops = _loops(config)
    target = option(config, "netbackend", ENV_TARGET)
    variants = _discovered_variants(loops) if target is None else _target_variants(target, loops)
    config.stash[_VARIANTS] = variants
    return list(variants)


def load_case(variant: Variant) -> BackendCase:
    """Import what ``variant`` needs; skip when its event loop's library is missing.

    A backend that does not load, or whose kind (blocking or async) is not the one its
    context needs, fails the test: that is a broken backend, not a missing one.
    """
    if variant.context == "trio":
        # anyio can only drive the trio loop when trio itself is installed.
        try:
            importlib.import_module("trio")
        except ImportError:
            pytest.skip(f"{variant.id}: trio is not installed")
    try:
        cls = load_target(variant.target)
    except Exception as exc:
        pytest.fail(f"{variant.id}: cannot load {variant.target}: {exc!r}")
    is_async = is_async_backend(cls)
    if is_async != (variant.context != "sync"):
        kind = "an async" if is_async else "a blocking"
        pytest.fail(f"{variant.target} is {kind} backend, used in the {variant.context} context")
    loop = "asyncio" if variant.context == "sync" else variant.context
    return BackendCase(variant.id, cls, is_async, loop)


# -------------------------------------------------------------------------- adapter

Raw = NetworkStream | AsyncNetworkStream


class Stream:
    """One stream of the backend under test, with an async face whatever its kind."""

    def __init__(self, raw: Raw, is_async: bool, registry: list[Stream]) -> None:
        self.raw = raw
        self._is_async = is_async
        self._registry = registry
        registry.append(self)

    async def _call(self, name: str, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        method = getattr(self.raw, name)
        if self._is_async:
            return await method(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self._call("read", max_bytes, timeout=timeout)
        assert isinstance(data, bytes), f"read() returned {type(data).__name__}, not bytes"
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._call("write", buffer, timeout=timeout)

    async def close(self) -> None:
        await self._call("aclose" if self._is_async else "close")

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> Stream:
        raw = await self._call(
            "start_tls", ssl_context, server_hostname=server_hostname, timeout=timeout
        )
        return Stream(raw, self._is_async, self._registry)

    def get_extra_info(self, info: str) -> typing.Any:
        return self.raw.get_extra_info(info)

    async def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        chunks: list[bytes] = []
        remaining = n
        while remaining:
            chunk = await self.read(min(remaining, 65536), timeout=timeout)
            if not chunk:
                raise AssertionError(f"EOF after {n - remaining} of {n} bytes")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


@dataclasses.dataclass
class Caught:
    """What :meth:`Net.raises_exactly` caught."""

    value: Exception | None = None


class Net:
    """The backend under test behind one async interface, plus test helpers."""

    def __init__(self, case: BackendCase) -> None:
        self.case = case
        self.is_async = case.is_async
        self.backend: typing.Any = case.factory()
        self.streams: list[Stream] = []

    async def _call(self, name: str, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        method = getattr(self.backend, name)
        if self.is_async:
            return await method(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> Stream:
        raw = await self._call(
            "connect_tcp",
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )
        return Stream(raw, self.is_async, self.streams)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> Stream:
        raw = await self._call(
            "connect_unix_socket", path, timeout=timeout, socket_options=socket_options
        )
        return Stream(raw, self.is_async, self.streams)

    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        addresses = await self._call("resolve", host, family=family, timeout=timeout)
        assert isinstance(addresses, list), f"resolve() returned {type(addresses).__name__}"
        assert all(isinstance(address, str) for address in addresses), addresses
        return addresses

    def require_async(self) -> None:
        if not self.is_async:
            pytest.skip("cancellation only exists for async backends")

    @contextlib.contextmanager
    def raises_exactly(self, expected: type[Exception]) -> Iterator[Caught]:
        """Expect exactly ``expected`` (not a subclass, not an ``OSError``, not a group).

        The ``with`` target receives the exception as ``.value`` once the block is left.
        """
        caught = Caught()
        try:
            yield caught
        except Exception as exc:
            if type(exc) is not expected:
                kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
                pytest.fail(f"expected exactly {expected.__name__}, got {kind}: {exc!r}")
            caught.value = exc
            return
        pytest.fail(f"{expected.__name__} was not raised")

    async def close_all(self) -> None:
        # Newest first: a TLS stream before the stream it wraps.
        for stream in reversed(self.streams):
            with contextlib.suppress(Exception):
                await stream.close()
