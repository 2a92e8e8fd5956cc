"""Lazy access to the backend classes of whichever backend packages are installed.

``httptransport.SyncBackend``, ``httptransport.AnyIOBackend`` and the others are not
imported by httptransport itself: it must work with any subset of backends installed
and never depends on one by name (nor on anyio or trio). The package's module-level
``__getattr__`` is :func:`lazy_getattr`, which resolves these names through
:func:`netbackend_base.load_class` on first access and caches the class.

Semantics:

* A known name whose package is installed returns that package's class.
* A known name whose package is missing raises
  :class:`netbackend_base.BackendNotFoundError` (an ``ImportError``) whose message
  names the ``pip install`` command. Since that is not an ``AttributeError``,
  ``hasattr(httptransport, "TrioBackend")`` raises too rather than returning
  ``False``: a missing backend is an installation problem worth reporting, not an
  absent feature. Use :func:`netbackend_base.installed_backends` to probe.
* Any other unknown name raises ``AttributeError`` as usual.

These names are not in ``httptransport.__all__``, so ``from httptransport import *``
never fails because of a backend that is not installed.
"""

from __future__ import annotations

import sys
import typing

from netbackend_base import load_class

__all__ = ("BACKEND_CLASSES", "lazy_dir", "lazy_getattr")

BACKEND_CLASSES = (
    "AnyIOBackend",
    "AsyncMockBackend",
    "AsyncMockStream",
    "MockBackend",
    "MockStream",
    "SyncBackend",
    "TrioBackend",
)
"""The backend classes reachable as ``httptransport.<name>``."""

_loaded: dict[str, type[typing.Any]] = {}


def lazy_getattr(name: str) -> type[typing.Any]:
    """Resolve a backend class name for the package's module ``__getattr__``.

    Raises:
        BackendNotFoundError: ``name`` is a known backend class whose package is not
            installed; the message names the package.
        AttributeError: ``name`` is no backend class.
    """
    try:
        return _loaded[name]
    except KeyError:
        pass
    if name not in BACKEND_CLASSES:
        raise AttributeError(f"module {__name__.rpartition('.')[0]!r} has no attribute {name!r}")
    cls = load_class(name)
    _loaded[name] = cls
    return cls


def lazy_dir() -> list[str]:
    """List the package's attributes, the lazy backend class names included."""
    package = sys.modules[__name__.rpartition(".")[0]]
    return sorted(set(vars(package)) | set(BACKEND_CLASSES))
