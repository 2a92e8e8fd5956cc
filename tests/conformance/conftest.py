"""The repository's run of the conformance kit (``netbackend_base.testing``).

The tests live in the ``netbackend-base`` distribution, where a third-party backend runs
them with ``python -m netbackend_base.testing MODULE:CLASS``. Here the ``test_*.py``
files import the kit's test modules, and this file gives them the kit's fixtures and
parametrization, scoped to this directory (so the kit's ``anyio_backend`` replaces the
one in ``tests/conftest.py``) and its command-line options.

Without ``--netbackend`` the kit runs every backend registered in the ``netbackend.*``
entry-point groups, in every context it registers: here ``sync``, ``anyio-asyncio``,
``anyio-trio`` and ``trio`` as far as the matrix cell installed them.
``test_kit.py::test_the_cell_tests_the_backends_it_installed`` fails when that set is
not the one ``NETBACKEND_TEST_SET`` promises.
"""

from __future__ import annotations

from netbackend_base.testing.fixtures import *  # noqa: F403
from netbackend_base.testing.plugin import pytest_addoption as pytest_addoption
