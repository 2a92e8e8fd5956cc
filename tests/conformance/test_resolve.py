"""The kit's ``netbackend_base.testing.test_resolve``, run here on every installed backend."""

from __future__ import annotations

from netbackend_base.testing.test_resolve import *  # noqa: F403
