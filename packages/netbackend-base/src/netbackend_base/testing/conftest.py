"""Gives the kit's fixtures and parametrization the scope of this directory.

pytest loads this file when it collects the kit (``pytest --pyargs
netbackend_base.testing``). As conftest fixtures they take precedence over any plugin's
fixture of the same name (anyio's ``anyio_backend``, which would run every test on
asyncio). The command-line options come from :mod:`netbackend_base.testing.plugin`.
"""

from __future__ import annotations

from netbackend_base.testing.fixtures import *  # noqa: F403
