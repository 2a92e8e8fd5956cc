"""The benchmark venv: pinned peers plus this repo's packages from ``packages/*``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
VENV = WORK / "venv"
STAMP = VENV / ".bench-stamp"

PEERS = (
    "httpcore==1.0.9",
    "httpcore2",
    "urllib3>=2,<3",
    "aiohttp>=3,<4",
    "httpx==0.29.0",
    "anyio",
    "trio",
    "h11",
    "h2",
    "certifi",
    "trustme",
)


def python() -> Path:
    return VENV / "bin" / "python"


def _our_packages() -> list[Path]:
    return sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())


def _fingerprint() -> str:
    """Changes when the peer list or any of our pyproject.toml files change."""
    digest = hashlib.sha256("\n".join(PEERS).encode())
    for pkg in _our_packages():
        digest.update(pkg.name.encode())
        digest.update((pkg / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def _pip(*args: str) -> int:
    cmd = [str(python()), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # pip's own warnings about absent local index folders are noise; show only failures.
        print((done.stdout + done.stderr)[-3000:], file=sys.stderr)
    return done.returncode


def ensure_venv(force: bool = False) -> list[str]:
    """Create/refresh the venv; return notes about our packages that failed to install.

    Our packages are installed editable, so source edits need no reinstall; the venv is
    refreshed only when a pyproject.toml (dependencies, entry points) changes.
    """
    fingerprint = _fingerprint()
    if not force and STAMP.is_file() and STAMP.read_text() == fingerprint:
        return []
    WORK.mkdir(parents=True, exist_ok=True)
    if not python().exists():
        print(f"creating venv {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print("installing pinned peers into the venv", flush=True)
    if _pip("--upgrade", *PEERS) != 0:
        raise SystemExit("pip could not install the peer clients")
    notes: list[str] = []
    ours = _our_packages()
    print(f"installing repo packages (editable): {', '.join(p.name for p in ours)}", flush=True)
    editable = [arg for pkg in ours for arg in ("-e", str(pkg))]
    if _pip(*editable) != 0:
        # One broken package must not keep the others (and the peers) out.
        for pkg in ours:
            if _pip("-e", str(pkg)) != 0:
                notes.append(f"pip install -e {pkg.relative_to(ROOT)} failed")
    if not notes:
        STAMP.write_text(fingerprint)
    return notes


def pinned_versions() -> dict[str, str]:
    """Installed versions of the clients (for the report header)."""
    code = (
        "import importlib.metadata as m, json\n"
        "names = ['httptransport', 'httpcore', 'httpcore2', 'urllib3', 'aiohttp', 'httpx',"
        " 'anyio', 'trio', 'h11', 'h2']\n"
        "out = {}\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = 'missing'\n"
        "print(json.dumps(out))\n"
    )
    import json

    done = subprocess.run([str(python()), "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, str] = json.loads(done.stdout)
    return result
