"""The conformance kit's servers, where the tests of other directories load them by path.

They moved into ``netbackend_base.testing.servers``; ``tests/netbackend_mock/conftest.py``
still loads this file. Import the kit's module directly instead.
"""

from __future__ import annotations

from netbackend_base.testing.servers import *  # noqa: F403
