"""Run httpcore 1.0.9's own test suite against httptransport, with a ratchet.

What it does, in order:

1. Fetches the httpcore 1.0.9 sdist from the package index (the file URL the simple
   index gives for it, as pip resolves it), or reuses the copy in ``.cache/`` beside this
   file. Either way the archive must match the pinned SHA-256, or nothing runs.
2. Extracts only the sdist's ``tests/`` into a temporary folder, and writes there a
   ``pyproject.toml`` holding just the sdist's own ``[tool.pytest.ini_options]``
   (``filterwarnings = ["error"]``, strict markers and config...), plus
   ``suite_conftest.py`` as ``conftest.py``: it runs every ``@pytest.mark.anyio`` test on
   asyncio and on trio (httpcore itself runs them on anyio's default, asyncio only).
3. Puts ``alias/`` first on ``sys.path``, so ``import httpcore`` gives the test-only alias
   whose names are httptransport's objects, and runs pytest in this process.
4. Prints the counts and the failing test ids, and compares the failures with
   ``expected_failures.txt``. Exit status 1 if a test failed that is not listed, or a
   listed test did not fail (its line must go: the list only shrinks), or, on a full run,
   the list names a test that does not exist.

Usage: ``hatch run httpcore-suite:run [--prune] [PYTEST ARGS...]``. Extra arguments go to
pytest (``-k http11``, ``--tb=short``, ``-x``); with any of them, listed tests that did not
run are not reported as stale. ``--prune`` deletes the lines of listed tests that passed
instead of failing the run (a new failure still fails it).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import pytest

VERSION = "1.0.9"
SDIST = f"httpcore-{VERSION}.tar.gz"
SHA256 = "6e34463af53fd2ab5d807f399a9b45ea31c3dfa2276f15a2c3f00afff6e176e8"
INDEX_URL = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
ALIAS = HERE / "alias"
CONFTEST = HERE / "suite_conftest.py"
EXPECTED = HERE / "expected_failures.txt"

# Our additions to httpcore's own pytest settings: no cache folder left behind, a hung test
# fails instead of eating the CI budget, and one line per failure (the expected ones would
# bury a new one; pass --tb=short or --tb=long, after the rest, to see tracebacks).
PYTEST_ARGS = ["-p", "no:cacheprovider", "--timeout=30", "--tb=line", "-q"]


# --- the sdist -------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _sdist_url() -> str:
    """The sdist's file URL, from the index's JSON simple API (PEP 691)."""
    request = urllib.request.Request(
        f"{INDEX_URL}/httpcore/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        page = json.load(response)
    for entry in page["files"]:
        if entry["filename"] == SDIST:
            return urllib.parse.urljoin(f"{INDEX_URL}/httpcore/", str(entry["url"]))
    raise SystemExit(f"{SDIST} is not on {INDEX_URL}")


def sdist() -> Path:
    """The verified sdist: the cached copy if its hash matches, else a fresh download."""
    cached = CACHE / SDIST
    if cached.is_file() and _sha256(cached) == SHA256:
        return cached
    CACHE.mkdir(exist_ok=True)
    url = _sdist_url()
    print(f"downloading {url}", flush=True)
    partial = cached.with_suffix(".part")
    with urllib.request.urlopen(url, timeout=120) as response, partial.open("wb") as f:
        shutil.copyfileobj(response, f)
    got = _sha256(partial)
    if got != SHA256:
        partial.unlink()
        raise SystemExit(f"{SDIST}: sha256 {got}, expected {SHA256}; not used")
    partial.replace(cached)
    return cached


def unpack(archive: Path, into: Path) -> None:
    """Extract the sdist's ``tests/``; write its pytest settings and our conftest."""
    top = f"httpcore-{VERSION}/"
    with tarfile.open(archive) as tar:
        pyproject = tar.extractfile(f"{top}pyproject.toml")
        assert pyproject is not None
        settings = tomllib.load(pyproject)["tool"]["pytest"]["ini_options"]
        members = []
        for member in tar.getmembers():
            if not member.name.startswith(f"{top}tests/"):
                continue
            if not (member.isfile() or member.isdir()) or ".." in member.name.split("/"):
                raise SystemExit(f"{SDIST}: unexpected member {member.name!r}")
            member.name = member.name[len(top) :]
            members.append(member)
        tar.extractall(into, members=members, filter="data")
    # The values are strings and lists of strings, whose JSON spelling is valid TOML.
    lines = ["[tool.pytest.ini_options]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    (into / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copyfile(CONFTEST, into / "conftest.py")


# --- results ---------------------------------------------------------------------------


@dataclass(eq=False)
class Results:
    """Each test's outcome, filled in by pytest's hooks.

    ``outcome`` maps a test id to one of passed, failed, skipped, xfailed, xpassed; an
    error in setup or teardown counts as failed, and so does a module that fails to
    collect (under its own id).
    """

    outcome: dict[str, str] = field(default_factory=dict)
    message: dict[str, str] = field(default_factory=dict)
    loop: dict[str, str] = field(default_factory=dict)

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        """Note the event loop: an anyio parameter, pytest-trio's mark, or none (sync)."""
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "anyio_backend" in callspec.params:
            self.loop[item.nodeid] = str(callspec.params["anyio_backend"])
        elif item.get_closest_marker("trio") is not None:
            self.loop[item.nodeid] = "trio"
        else:
            self.loop[item.nodeid] = "sync"

    def _fail(self, nodeid: str, report: pytest.CollectReport | pytest.TestReport) -> None:
        self.outcome[nodeid] = "failed"
        crash = getattr(report.longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(report.longrepr)
        self.message.setdefault(nodeid, text.strip().splitlines()[0] if text.strip() else "")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._fail(report.nodeid, report)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        if report.failed:
            self._fail(nodeid, report)
        elif self.outcome.get(nodeid) == "failed":
            return
        elif hasattr(report, "wasxfail"):
            self.outcome[nodeid] = "xfailed" if report.skipped else "xpassed"
        elif report.skipped:
            self.outcome[nodeid] = "skipped"
        elif report.when == "call":
            self.outcome[nodeid] = "passed"

    def ids(self, *outcomes: str) -> list[str]:
        return sorted(nodeid for nodeid, got in self.outcome.items() if got in outcomes)


def _counts(outcomes: Iterable[str]) -> str:
    tally = Counter(outcomes)
    passed = tally["passed"] + tally["xpassed"]
    skipped = tally["skipped"] + tally["xfailed"]
    total = sum(tally.values())
    return f"{passed} passed, {tally['failed']} failed, {skipped} skipped (of {total})"


# --- the ratchet -----------------------------------------------------------------------


def expected_failures() -> dict[str, str]:
    """``expected_failures.txt``: test id -> reason. Blank lines and ``#`` lines skipped."""
    listed: dict[str, str] = {}
    for number, raw in enumerate(EXPECTED.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        nodeid, _, reason = (part.strip() for part in line.partition(" # "))
        if not reason:
            raise SystemExit(f"{EXPECTED.name}:{number}: no reason after ' # ': {line}")
        if nodeid in listed:
            raise SystemExit(f"{EXPECTED.name}:{number}: listed twice: {nodeid}")
        listed[nodeid] = reason
    return listed


def report(results: Results, listed: dict[str, str], full_run: bool, prune: bool) -> int:
    """Print the summary and the ratchet's verdict; return the exit status.

    With ``prune``, the lines of listed tests that no longer fail (and, on a full run,
    of tests that no longer exist) are deleted from the list instead of failing the run.
    """
    outcomes = results.outcome
    failed = results.ids("failed")
    print()
    print(f"httpcore {VERSION} test suite on httptransport: {_counts(outcomes.values())}")
    for loop in ("asyncio", "trio", "sync"):
        of_loop = (got for nodeid, got in outcomes.items() if results.loop.get(nodeid) == loop)
        print(f"  {loop:>7}: {_counts(of_loop)}")
    print(f"expected failures listed in {EXPECTED.name}: {len(listed)}")
    if failed:
        print(f"failing ({len(failed)}):")
        for nodeid in failed:
            print(f"  {nodeid}  # {listed.get(nodeid) or 'NEW: ' + results.message[nodeid]}")

    new = [nodeid for nodeid in failed if nodeid not in listed]
    fixed = [nodeid for nodeid in listed if outcomes.get(nodeid, "failed") != "failed"]
    stale = [nodeid for nodeid in listed if nodeid not in outcomes] if full_run else []
    if prune and (fixed or stale):
        _delete_lines(set(fixed) | set(stale))
        print(f"deleted {len(fixed) + len(stale)} lines from {EXPECTED.name}")
        fixed = stale = []
    for title, ids in (
        (f"FAILED, not in {EXPECTED.name} (fix it, or list it with the reason)", new),
        (f"did not fail: delete these lines from {EXPECTED.name} (or run with --prune)", fixed),
        (f"listed in {EXPECTED.name} but not in the suite: delete these lines", stale),
    ):
        if ids:
            print(f"{title}:")
            for nodeid in ids:
                print(f"  {nodeid}  # {results.message.get(nodeid) or listed.get(nodeid, '')}")
    if new or fixed or stale:
        print("httpcore suite ratchet: FAILED")
        return 1
    print(f"httpcore suite ratchet: OK ({len(failed)} failures, all listed)")
    return 0


def _delete_lines(nodeids: set[str]) -> None:
    lines = EXPECTED.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if line.partition(" # ")[0].strip() not in nodeids]
    EXPECTED.write_text("".join(kept), encoding="utf-8")


def main(argv: list[str]) -> int:
    prune = "--prune" in argv
    argv = [arg for arg in argv if arg != "--prune"]
    listed = expected_failures()
    archive = sdist()
    sys.path.insert(0, str(ALIAS))
    # Found, not imported: importing it here would import anyio before pytest can rewrite
    # its plugin's asserts, a warning that filterwarnings = error makes fatal. An installed
    # httpcore must not shadow the alias.
    spec = importlib.util.find_spec("httpcore")
    origin = Path(spec.origin or "") if spec is not None else None
    if origin is None or origin.resolve().parent != ALIAS / "httpcore":
        raise SystemExit(f"'import httpcore' would load {origin}, not the alias")

    results = Results()
    with tempfile.TemporaryDirectory(prefix="httpcore-suite-") as tmp:
        root = Path(tmp)
        unpack(archive, root)
        here = Path.cwd()
        os.chdir(root)
        try:
            args = ["-c", "pyproject.toml", "--rootdir", ".", *PYTEST_ARGS, *argv]
            if not any(arg.startswith("tests") for arg in argv):
                args.append("tests")
            code = pytest.main(args, plugins=[results])
        finally:
            os.chdir(here)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        print(f"pytest stopped: {pytest.ExitCode(code).name}")
        return int(code)
    return report(results, listed, full_run=not argv, prune=prune)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
