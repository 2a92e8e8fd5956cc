"""The kit's ``netbackend_base.testing.test_errors``, run here on every installed backend."""

from __future__ import annotations

from netbackend_base.testing.test_errors import *  # noqa: F403
