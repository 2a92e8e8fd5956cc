"""The kit's ``netbackend_base.testing.test_streams``, run here on every installed backend."""

from __future__ import annotations

from netbackend_base.testing.test_streams import *  # noqa: F403
