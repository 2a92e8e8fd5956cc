"""The kit's ``netbackend_base.testing.test_tls_failures``, run here on every installed backend."""

from __future__ import annotations

from netbackend_base.testing.test_tls_failures import *  # noqa: F403
