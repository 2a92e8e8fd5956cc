"""The kit's ``netbackend_base.testing.test_cancellation``, run here on every installed backend."""

from __future__ import annotations

from netbackend_base.testing.test_cancellation import *  # noqa: F403
