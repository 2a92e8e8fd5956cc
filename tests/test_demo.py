"""The README's demo (scripts/demo.py) runs through every installed backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import netbackend_base

DEMO = Path(__file__).resolve().parent.parent / "scripts" / "demo.py"


def test_demo_requests_through_every_installed_backend() -> None:
    """Each installed backend and loop gets two HTTPS responses on one connection, or the
    demo names what to install when there is none."""
    result = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=60, check=False
    )
    expected = [
        (info.name, context)
        for info in netbackend_base.installed_backends()
        for context in info.contexts
    ]
    if not expected:
        assert result.returncode == 1
        assert "pip install netbackend-sync" in result.stdout
        return
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if " under " in line]
    assert len(lines) == len(expected)
    for (name, context), line in zip(expected, lines, strict=True):
        assert line.startswith(name)
        assert f"under {context}" in line
        assert "200 HTTP/1.1 over TLS" in line
        assert "2 requests on 1 connection" in line
