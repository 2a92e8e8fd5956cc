"""The repository's packages import and agree on their versions."""

from __future__ import annotations

import netbackend_base


def test_base_version() -> None:
    """netbackend-base reports the version in its __about__ module."""
    assert netbackend_base.__version__ == "0.1.0"
