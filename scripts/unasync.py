"""Generate the sync code of httptransport from its async source.

The async modules under ``packages/httptransport/src/httptransport/_async/`` and the
async tests under ``tests/httptransport/_async/`` are the hand-written source. This
script rewrites each into its blocking twin under the matching ``_sync/`` directory by
a fixed list of substitutions (``AsyncX`` -> ``X``, ``await`` dropped, ``aclose`` ->
``close``...), sorts the imports and formats the result with ruff, and puts a banner
on top saying where it came from.

Code with no I/O (sans-IO protocol logic, shared by both) lives outside ``_async/``,
so everything inside it is I/O plumbing and is generated; the substitutions are a plain
list of names. A source file whose first lines contain ``# unasync: async-only`` is not
generated at all (for tests of cancellation, say). A line ending in
``# unasync: no cover in sync`` (the first line of a function or branch that only
async code ever reaches) ends in ``# pragma: no cover`` in the sync twin instead, so
the sync code's coverage does not count what it can never run.

Usage::

    python scripts/unasync.py           # (re)write the _sync directories
    python scripts/unasync.py --check   # exit 1 if anything in them is out of date

``--check`` compares whole files and the set of files: a missing, stale, or extra
file in a ``_sync`` directory fails.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from pathlib import Path

__all__ = ("DIRS", "SUBSTITUTIONS", "generate", "main", "unasync_source")

ROOT = Path(__file__).resolve().parent.parent
DIRS = (
    (
        Path("packages/httptransport/src/httptransport/_async"),
        Path("packages/httptransport/src/httptransport/_sync"),
    ),
    (Path("tests/httptransport/_async"), Path("tests/httptransport/_sync")),
)
ASYNC_ONLY = "# unasync: async-only"
BANNER = "# Generated from {path} by scripts/unasync.py: do not edit."
LINE_LENGTH = 100

# Applied in order; each pattern is a regular expression.
SUBSTITUTIONS: tuple[tuple[str, str], ...] = (
    (r"^\s*@pytest\.mark\.anyio\n", ""),
    (r"^pytestmark = pytest\.mark\.anyio\n", ""),
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (r"\basync_shielded\b", "shielded"),
    (r"\bdefault_async_backend\b", "default_backend"),
    (r"\basync_sleep\b", "sleep"),
    (r"\bhandle_async_request\b", "handle_request"),
    (r"\basynccontextmanager\b", "contextmanager"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\baiter_stream\b", "iter_stream"),
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\basync iterable\b", "iterable"),
    (r"\ban async\b", "a sync"),
    # Code only async code reaches (see the module docstring).
    (r"# unasync: no cover in sync$", "# pragma: no cover (only async code gets here)"),
    # The package folder itself, as the tests name it.
    (r"\b_async\b", "_sync"),
)
_COMPILED = tuple((re.compile(p, re.MULTILINE), r) for p, r in SUBSTITUTIONS)


def unasync_source(text: str) -> str:
    """Apply :data:`SUBSTITUTIONS` to one file's text (before formatting)."""
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return text


def _ruff(args: list[str], text: str, filename: str) -> str:
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--stdin-filename", filename, "-"],
            input=text,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
    except FileNotFoundError:  # pragma: no cover - no interpreter
        raise SystemExit("unasync: cannot run ruff") from None
    if result.returncode == 0 or (args[0] == "check" and result.stdout):
        return result.stdout
    if "No module named ruff" in result.stderr:
        raise SystemExit(
            "unasync: ruff is not installed in this environment; "
            "install it (pip install ruff) and run again."
        )
    raise SystemExit(f"unasync: ruff {args[0]} failed on {filename}:\n{result.stderr}")


def _format(text: str, filename: str) -> str:
    # Renaming changes the sort order of imports and may merge duplicates: let ruff
    # fix the import block, then format.
    text = _ruff(["check", "--select", "I,F401", "--fix", "--exit-zero", "-q"], text, filename)
    return _ruff(["format", "-q"], text, filename)


def _outputs() -> dict[Path, str]:
    """Every file the _sync directories should hold, relative to the root."""
    expected: dict[Path, str] = {}
    for source_dir, target_dir in DIRS:
        for source in sorted((ROOT / source_dir).rglob("*.py")):
            relative = source.relative_to(ROOT / source_dir)
            text = source.read_text(encoding="utf-8")
            if ASYNC_ONLY in "".join(text.splitlines(keepends=True)[:5]):
                continue
            target = target_dir / relative
            body = _format(unasync_source(text), str(target))
            banner = BANNER.format(path=(source_dir / relative).as_posix())
            if len(banner) > LINE_LENGTH:
                banner += "  # noqa: E501"
            expected[target] = banner + "\n" + body
    return expected


def generate(check: bool) -> int:
    """Write (or, with ``check``, compare) the generated files.

    Returns:
        The exit status: 1 when ``check`` found differences, else 0.
    """
    expected = _outputs()
    present: set[Path] = set()
    for _, target_dir in DIRS:
        directory = ROOT / target_dir
        if directory.exists():
            present.update(p.relative_to(ROOT) for p in directory.rglob("*.py"))
    problems: list[str] = []
    for path, text in sorted(expected.items()):
        full = ROOT / path
        current = full.read_text(encoding="utf-8") if full.exists() else None
        if current == text:
            continue
        if check:
            if current is None:
                problems.append(f"missing: {path}")
            else:
                diff = difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    f"{path} (on disk)",
                    f"{path} (generated)",
                    n=1,
                )
                problems.append(f"stale: {path}\n" + "".join(list(diff)[:40]))
        else:
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    for path in sorted(present - set(expected)):
        if check:
            problems.append(f"extra: {path} (no async source generates it)")
        else:
            (ROOT / path).unlink()
            print(f"removed {path}")
    if problems:
        print("unasync --check: the generated sync code is out of date:", file=sys.stderr)
        for problem in problems:
            print(problem, file=sys.stderr)
        print("Run: python scripts/unasync.py", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on any change"
    )
    args = parser.parse_args(argv)
    return generate(check=args.check)


if __name__ == "__main__":
    sys.exit(main())
