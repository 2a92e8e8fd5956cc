"""Every package's ``__all__`` matches its public namespace, and private modules declare one."""

from __future__ import annotations
import __future__

import importlib
import pkgutil
import types

import pytest

PACKAGES = [
    "netbackend_base",
    "netbackend_sync",
    "netbackend_anyio",
    "netbackend_trio",
    "netbackend_mock",
    "httptransport",
]


def _public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        # ``from __future__ import annotations`` leaves this feature object behind.
        and value is not __future__.annotations
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_a_tuple_of_existing_names(package: str) -> None:
    """``__all__`` is a tuple without duplicates, and every name in it exists."""
    module = pytest.importorskip(package)
    exported = module.__all__
    assert isinstance(exported, tuple)
    assert len(set(exported)) == len(exported)
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_attribute_is_in_all(package: str) -> None:
    """No public, non-module attribute of the package is left out of ``__all__``."""
    module = pytest.importorskip(package)
    assert _public_names(module) - set(module.__all__) == set()


@pytest.mark.parametrize("package", PACKAGES)
def test_all_exports_version(package: str) -> None:
    """Each package exports ``__version__`` as a string."""
    module = pytest.importorskip(package)
    assert "__version__" in module.__all__
    assert isinstance(module.__version__, str)


@pytest.mark.parametrize("package", PACKAGES)
def test_private_modules_declare_all(package: str) -> None:
    """Each private module ``_name`` has a tuple ``__all__`` whose names all exist."""
    module = pytest.importorskip(package)
    checked = 0
    for info in pkgutil.iter_modules(module.__path__):
        if not info.name.startswith("_") or info.name.startswith("__"):
            continue
        submodule = importlib.import_module(f"{package}.{info.name}")
        exported = getattr(submodule, "__all__", None)
        assert isinstance(exported, tuple), f"{submodule.__name__} lacks a tuple __all__"
        assert [name for name in exported if not hasattr(submodule, name)] == []
        checked += 1
    if package != "httptransport":
        assert checked > 0
