"""The kit's ``netbackend_base.testing.test_connect``, run here on every installed backend."""

from __future__ import annotations

from netbackend_base.testing.test_connect import *  # noqa: F403
