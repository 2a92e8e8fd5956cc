"""``python -m netbackend_base.testing [MODULE:CLASS | NAME] [pytest options]``.

Runs the conformance kit under pytest against the backend given first (every registered
backend when none is), passing any further arguments on to pytest, and exits with
pytest's status.
"""

from __future__ import annotations

import sys

import pytest

USAGE = """\
usage: python -m netbackend_base.testing [MODULE:CLASS | NAME] [pytest options]

Runs the netbackend conformance suite against the backend class MODULE:CLASS (or the
backend registered under the entry-point name NAME; every registered backend when
neither is given). Further arguments go to pytest, for example:

  --netbackend-loops=asyncio   event loops for an async backend (asyncio, trio)
  -m "not slow"                leave out the 16 MiB transfers
  -k tls -x -v                 the usual pytest selection and reporting options
"""


def pytest_args(argv: list[str]) -> list[str]:
    """The pytest command line for ``argv`` (the arguments after the module name)."""
    args = [
        "-p",
        "netbackend_base.testing.plugin",
        "--pyargs",
        "netbackend_base.testing",
        # The kit's file and function names, whatever the project's pytest settings say.
        "-o",
        "python_files=test_*.py",
        "-o",
        "python_functions=test",
    ]
    if argv and not argv[0].startswith("-"):
        args.append(f"--netbackend={argv[0]}")
        argv = argv[1:]
    return args + argv


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    return int(pytest.main(pytest_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
