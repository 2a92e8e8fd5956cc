"""The conformance kit's pytest plugin: its command-line options.

Load it with ``-p netbackend_base.testing.plugin`` (``python -m netbackend_base.testing``
does), so that pytest knows the options before it parses the command line:

* ``--netbackend=MODULE:CLASS``: run the suite against that backend class (or ``NAME``:
  the backend registered under that entry-point name); without it the suite runs
  against every backend registered in the ``netbackend.*`` entry-point groups;
* ``--netbackend-loops=asyncio,trio``: the event loops an async backend runs on.

Both also come from the environment (``NETBACKEND_CONFORMANCE``,
``NETBACKEND_CONFORMANCE_LOOPS``), which works without this plugin.

This module adds the options and checks them as pytest starts (a ``--netbackend`` that
does not import is a usage error, reported once). The fixtures and the parametrization
live in :mod:`netbackend_base.testing.fixtures`, which the kit's ``conftest.py``
imports: as conftest fixtures they take precedence over a plugin's (anyio's own
``anyio_backend`` among them, which would run every test on asyncio).

The plugin is deliberately not registered in the ``pytest11`` entry-point group: it
would load in every pytest run of every project that installs ``netbackend-base``, and
fail there without the ``testing`` extra. It loads only when asked for.
"""

from __future__ import annotations

import pytest

from netbackend_base.testing.harness import select_variants

__all__ = ("pytest_addoption", "pytest_configure")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netbackend", "network backend conformance kit")
    group.addoption(
        "--netbackend",
        default=None,
        metavar="MODULE:CLASS",
        help=(
            "run the conformance suite against this backend class (or the backend "
            "registered under this entry-point name) instead of every registered one "
            "(also read from $NETBACKEND_CONFORMANCE)"
        ),
    )
    group.addoption(
        "--netbackend-loops",
        default=None,
        metavar="LOOPS",
        help=(
            "comma-separated event loops for async backends: asyncio, trio (default: "
            "those the backend is registered for, else both; also read from "
            "$NETBACKEND_CONFORMANCE_LOOPS)"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    # Chooses the variants now, so that a wrong --netbackend or --netbackend-loops stops
    # the run with one usage error instead of an error per test module.
    select_variants(config)
