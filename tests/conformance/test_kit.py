"""The conformance kit as a backend author meets it, and this directory's hold on it.

The kit's own tests run in the other ``test_*.py`` files here; these check what those
cannot: the documented one-command forms work from outside the repository (no
``tests/conftest.py``, no ``pytest.toml``), importing ``netbackend_base`` loads none of the
kit's tools, every kit module runs here, and this matrix cell tests exactly the backends
it installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import netbackend_base.testing
from netbackend_base.testing.harness import ENV_LOOPS, ENV_TARGET, select_variants

HERE = Path(__file__).resolve().parent
KIT = Path(netbackend_base.testing.__file__).resolve().parent
# What each NETBACKEND_TEST_SET of the matrix installs, as the kit names the variants.
PROMISED = {
    "all": {"sync", "anyio-asyncio", "anyio-trio", "trio"},
    "none": set(),
    "sync": {"sync"},
    "anyio": {"anyio-asyncio", "anyio-trio"},
    "trio": {"trio"},
}
# Far above the few seconds a run takes; only there so a hang cannot eat the CI budget.
GUARD = 300


def run(args: list[str], cwd: Path, pythonpath: Path | None = None) -> str:
    """Run ``python args`` in ``cwd`` as a backend author would; return its output."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV_TARGET, ENV_LOOPS)}
    env.pop("PYTEST_ADDOPTS", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def loops(collected: str) -> set[str]:
    """The contexts named in the test ids of a ``--collect-only -q`` listing."""
    ids = re.findall(r"^\S+::test_\w+\[([^]]+)\]$", collected, re.MULTILINE)
    assert ids, collected
    return {part for id_ in ids for part in id_.split("-")} & {"sync", "asyncio", "trio"}


@pytest.mark.heavy
def test_the_one_command_runs_the_kit(tmp_path: Path) -> None:
    """``python -m netbackend_base.testing netbackend_sync:SyncBackend``, run outside the
    repository, passes the whole suite but its 16 MiB transfers."""
    if importlib.util.find_spec("netbackend_sync") is None:
        if "sync" in PROMISED.get(os.environ.get("NETBACKEND_TEST_SET", ""), set()):
            pytest.fail("NETBACKEND_TEST_SET promises netbackend_sync, but it is not installed")
        pytest.skip("netbackend_sync is not installed")
    command = ["-m", "netbackend_base.testing", "netbackend_sync:SyncBackend"]
    output = run([*command, "-p", "no:randomly", "-W", "error", "-m", "not slow"], tmp_path)
    passed = re.search(r"(\d+) passed", output)
    assert passed is not None, output
    # Every test of the kit but the slow ones and the cancellation ones (async only).
    assert int(passed.group(1)) >= 60, output
    assert not re.search(r"\d+ (failed|errors?)\b", output), output
    assert "tests/conformance" not in output, output


@pytest.mark.heavy
def test_the_pytest_form_detects_an_async_backend(tmp_path: Path) -> None:
    """``pytest -p netbackend_base.testing.plugin --pyargs netbackend_base.testing
    --netbackend=MODULE:CLASS`` collects an unregistered async backend on asyncio and trio,
    and ``--netbackend-loops`` narrows that."""
    (tmp_path / "dummy_backend.py").write_text(
        textwrap.dedent(
            """
            from netbackend_base import AsyncNetworkBackend

            class DummyBackend(AsyncNetworkBackend):
                pass
            """
        ),
        encoding="utf-8",
    )
    command = [
        "-m",
        "pytest",
        "-p",
        "netbackend_base.testing.plugin",
        "--pyargs",
        "netbackend_base.testing",
        "--netbackend=dummy_backend:DummyBackend",
        "--collect-only",
        "-q",
    ]
    assert loops(run(command, tmp_path, pythonpath=tmp_path)) == {"asyncio", "trio"}
    only_trio = run([*command, "--netbackend-loops=trio"], tmp_path, pythonpath=tmp_path)
    assert loops(only_trio) == {"trio"}


def test_importing_netbackend_base_loads_no_test_tools(tmp_path: Path) -> None:
    """The kit is only imported when a test run asks for it: ``import netbackend_base``
    loads neither it nor pytest, anyio, trio or trustme."""
    probe = (
        "import sys, netbackend_base\n"
        "tools = ('netbackend_base.testing', 'pytest', 'anyio', 'trio', 'trustme')\n"
        "print(sorted(name for name in sys.modules if name.startswith(tools)))\n"
    )
    assert run(["-c", probe], tmp_path).strip() == "[]"


def test_every_kit_module_runs_here() -> None:
    """Each of the kit's test modules has its twin in this directory importing it."""
    kit = sorted(path.name for path in KIT.glob("test_*.py"))
    assert kit, f"no test modules found in {KIT}"
    for name in kit:
        twin = HERE / name
        assert twin.is_file(), f"{name} of the kit does not run here: add tests/conformance/{name}"
        line = f"from netbackend_base.testing.{name[:-3]} import *"
        assert line in twin.read_text(encoding="utf-8"), f"{twin} must contain {line!r}"


def test_the_cell_tests_the_backends_it_installed(pytestconfig: pytest.Config) -> None:
    """The variants the kit found here are exactly those this matrix cell installed."""
    chosen = os.environ.get("NETBACKEND_TEST_SET")
    if chosen is None:
        pytest.skip("NETBACKEND_TEST_SET is not set (not a matrix cell)")
    if os.environ.get(ENV_TARGET) or pytestconfig.getoption("netbackend", default=None):
        pytest.skip("a --netbackend replaces the installed backends")
    assert {variant.id for variant in select_variants(pytestconfig)} == PROMISED[chosen]
