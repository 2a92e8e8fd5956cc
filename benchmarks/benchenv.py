"""The benchmark venvs.

``main`` (``benchmarks/.work/venv``): the pinned pure-Python peers plus this repo's packages
from ``packages/*``. Peers that bring compiled code of their own (pyreqwest's Rust, pycurl's
libcurl) get a venv each (``benchmarks/.work/venv-<name>``), holding that one peer and
nothing of ours, so that nothing else in the process can be imported by, or slow, them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"

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

MAIN_VERSIONS = (
    "httptransport",
    "httpcore",
    "httpcore2",
    "urllib3",
    "aiohttp",
    "httpx",
    "anyio",
    "trio",
    "h11",
    "h2",
)


@dataclass(frozen=True)
class Venv:
    name: str
    packages: tuple[str, ...]  # pip requirements
    ours: bool  # this repo's packages too (editable)
    versions: tuple[str, ...]  # distributions whose versions the report header shows

    @property
    def path(self) -> Path:
        return WORK / ("venv" if self.name == "main" else f"venv-{self.name}")

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def stamp(self) -> Path:
        return self.path / ".bench-stamp"


VENVS: dict[str, Venv] = {
    v.name: v
    for v in (
        Venv("main", PEERS, True, MAIN_VERSIONS),
        # pyreqwest: Rust's reqwest (hyper, tokio, rustls) behind a Python API; Python 3.11+.
        Venv("pyreqwest", ("pyreqwest>=0.15,<0.16",), False, ("pyreqwest",)),
        # pycurl: libcurl (bundled in the manylinux wheel) behind a thin C binding.
        Venv("pycurl", ("pycurl>=7.45,<8",), False, ("pycurl",)),
    )
}


def python(venv: str = "main") -> Path:
    return VENVS[venv].python


def _our_packages() -> list[Path]:
    return sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())


def _fingerprint(venv: Venv) -> str:
    """Changes when the venv's requirements or any of our pyproject.toml files change."""
    digest = hashlib.sha256("\n".join(venv.packages).encode())
    if venv.ours:
        for pkg in _our_packages():
            digest.update(pkg.name.encode())
            digest.update((pkg / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def _pip(venv: Venv, *args: str, quiet_failure: bool = False) -> tuple[int, str]:
    cmd = [str(venv.python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    output = (done.stdout + done.stderr)[-3000:]
    if done.returncode != 0 and not quiet_failure:
        # pip's own warnings about absent local index folders are noise; show only failures.
        print(output, file=sys.stderr)
    return done.returncode, output


def ensure_venv(force: bool = False, name: str = "main") -> list[str]:
    """Create/refresh one venv; return notes about packages of ours that failed to install.

    Our packages are installed editable, so source edits need no reinstall; the venv is
    refreshed only when a pyproject.toml (dependencies, entry points) or the requirement
    list changes. The main venv's peers must install (else this exits); a separate peer's
    venv that fails raises ``RuntimeError`` instead, so that only that peer is unavailable.
    """
    venv = VENVS[name]
    fingerprint = _fingerprint(venv)
    if not force and venv.stamp.is_file() and venv.stamp.read_text() == fingerprint:
        return []
    WORK.mkdir(parents=True, exist_ok=True)
    if not venv.python.exists():
        print(f"creating venv {venv.path}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv.path)], check=True)
    print(f"installing {', '.join(venv.packages)} into {venv.path.name}", flush=True)
    code, output = _pip(venv, "--upgrade", *venv.packages, quiet_failure=name != "main")
    if code != 0:
        if name == "main":
            raise SystemExit("pip could not install the peer clients")
        last = [line for line in output.strip().splitlines() if line.strip()][-1:]
        raise RuntimeError(f"pip install {' '.join(venv.packages)} failed: {' '.join(last)}")
    notes: list[str] = []
    if venv.ours:
        ours = _our_packages()
        print(f"installing repo packages (editable): {', '.join(p.name for p in ours)}")
        editable = [arg for pkg in ours for arg in ("-e", str(pkg))]
        if _pip(venv, *editable)[0] != 0:
            # One broken package must not keep the others (and the peers) out.
            for pkg in ours:
                if _pip(venv, "-e", str(pkg))[0] != 0:
                    notes.append(f"pip install -e {pkg.relative_to(ROOT)} failed")
    if not notes:
        venv.stamp.write_text(fingerprint)
    return notes


_VERSIONS = """
import importlib.metadata as m, json, sys
out = {}
for n in sys.argv[1:]:
    try: out[n] = m.version(n)
    except m.PackageNotFoundError: out[n] = 'missing'
print(json.dumps(out))
"""


def pinned_versions(venvs: tuple[str, ...] = ("main",)) -> dict[str, str]:
    """Installed versions of the clients in ``venvs`` (for the report header)."""
    result: dict[str, str] = {}
    for name in venvs:
        venv = VENVS[name]
        if not venv.python.exists():
            continue
        done = subprocess.run(
            [str(venv.python), "-c", _VERSIONS, *venv.versions],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            result.update(json.loads(done.stdout))
    return result
