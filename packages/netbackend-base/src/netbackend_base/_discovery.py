"""Finding the installed backends through entry points.

Each backend package registers its backend class in one entry-point group per calling
context it serves, without anything being imported to find out:

* ``netbackend.sync``: blocking code;
* ``netbackend.asyncio``: async code under asyncio;
* ``netbackend.trio``: async code under trio.

and every public class it offers (backends, mock streams) in ``netbackend.classes``,
keyed by class name, so a facade such as ``httptransport.SyncBackend`` can be resolved
without importing a backend package by name.

When several backends serve a context, the preference order below decides (under trio
the native trio backend beats anyio's); unknown third-party backends come after, by
name. Results are cached per context: the entry-point scan happens once per process.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from importlib.metadata import EntryPoint, entry_points

from ._concurrency import current_async_library
from ._exceptions import BackendNotFoundError

if typing.TYPE_CHECKING:
    from ._interfaces import AsyncNetworkBackend, NetworkBackend

__all__ = (
    "CONTEXTS",
    "BackendInfo",
    "default_async_backend",
    "default_backend",
    "find_backend",
    "installed_backends",
    "load_class",
)

CONTEXTS = ("sync", "asyncio", "trio")
_GROUP = "netbackend."
_CLASSES_GROUP = "netbackend.classes"

# Which of our own backends to prefer per context, and what to install when none is there.
_PREFERENCE = {"sync": ("sync",), "asyncio": ("anyio",), "trio": ("trio", "anyio")}
_INSTALL_HINT = {
    "sync": ("blocking code", "netbackend-sync"),
    "asyncio": ("asyncio", "netbackend-anyio"),
    "trio": ("trio", "netbackend-trio"),
}
_KNOWN_CLASSES = {
    "SyncBackend": "netbackend-sync",
    "AnyIOBackend": "netbackend-anyio",
    "TrioBackend": "netbackend-trio",
    "MockBackend": "netbackend-mock",
    "MockStream": "netbackend-mock",
    "AsyncMockBackend": "netbackend-mock",
    "AsyncMockStream": "netbackend-mock",
}


@dataclasses.dataclass(frozen=True)
class BackendInfo:
    """An installed backend, as registered by its package.

    Attributes:
        name: The entry-point name (``"sync"``, ``"anyio"``, ``"trio"``, ...).
        target: ``"module:Class"``.
        contexts: The calling contexts it serves, a subset of :data:`CONTEXTS`.
        distribution: The distribution that registered it, when known.
    """

    name: str
    target: str
    contexts: tuple[str, ...]
    distribution: str | None

    def load(self) -> type[typing.Any]:
        """Import and return the backend class."""
        return _import_target(self.target)


def _import_target(target: str) -> type[typing.Any]:
    module_name, _, attr = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return typing.cast(type, obj)


def _dist_name(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return None if dist is None else str(dist.metadata["Name"])


def _scan(group: str) -> list[EntryPoint]:
    return list(entry_points(group=group))


def installed_backends() -> tuple[BackendInfo, ...]:
    """List every registered backend with the contexts it serves, sorted by name."""
    found: dict[tuple[str, str], tuple[list[str], str | None]] = {}
    for context in CONTEXTS:
        for ep in _scan(_GROUP + context):
            contexts, _ = found.setdefault((ep.name, ep.value), ([], _dist_name(ep)))
            contexts.append(context)
    return tuple(
        BackendInfo(name, target, tuple(contexts), dist)
        for (name, target), (contexts, dist) in sorted(found.items())
    )


_cache: dict[str, type[typing.Any]] = {}


def find_backend(context: str) -> type[typing.Any]:
    """Return the preferred installed backend class for ``context``.

    Args:
        context: ``"sync"``, ``"asyncio"`` or ``"trio"``.

    Raises:
        BackendNotFoundError: Nothing installed serves ``context``; the message names
            the package to install.
        ValueError: ``context`` is not one of :data:`CONTEXTS`.
    """
    try:
        return _cache[context]
    except KeyError:
        pass
    if context not in CONTEXTS:
        raise ValueError(f"unknown context {context!r}: expected one of {CONTEXTS}")
    candidates = _scan(_GROUP + context)
    if not candidates:
        what, package = _INSTALL_HINT[context]
        raise BackendNotFoundError(
            f"No network backend for {what} is installed. Install one with: pip install {package}"
        )
    preference = _PREFERENCE[context]

    def rank(ep: EntryPoint) -> tuple[int, str]:
        index = preference.index(ep.name) if ep.name in preference else len(preference)
        return (index, ep.name)

    chosen = _import_target(min(candidates, key=rank).value)
    _cache[context] = chosen
    return chosen


def default_backend() -> NetworkBackend:
    """A new instance of the preferred blocking backend.

    Raises:
        BackendNotFoundError: None is installed (``pip install netbackend-sync``).
    """
    return typing.cast("NetworkBackend", find_backend("sync")())


def default_async_backend() -> AsyncNetworkBackend:
    """A new instance of the preferred backend for the running event loop.

    Raises:
        BackendNotFoundError: None is installed for this loop; the message names the
            package.
        RuntimeError: No asyncio or trio event loop is running.
    """
    return typing.cast("AsyncNetworkBackend", find_backend(current_async_library())())


def load_class(name: str) -> type[typing.Any]:
    """Return a public class that some backend package registered under ``name``.

    Used by facades to offer ``SyncBackend``, ``MockBackend`` and the like without
    importing their packages by name.

    Raises:
        BackendNotFoundError: No installed package registers ``name``; for our own
            classes the message names the package to install.
    """
    for ep in _scan(_CLASSES_GROUP):
        if ep.name == name:
            return _import_target(ep.value)
    package = _KNOWN_CLASSES.get(name)
    hint = f"; install it with: pip install {package}" if package else ""
    raise BackendNotFoundError(f"{name} is not available{hint}")


def _clear_cache() -> None:
    """Forget cached choices (for tests that change what is installed)."""
    _cache.clear()
