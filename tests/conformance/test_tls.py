"""The kit's ``netbackend_base.testing.test_tls``, run here on every installed backend."""

from __future__ import annotations

from netbackend_base.testing.test_tls import *  # noqa: F403
