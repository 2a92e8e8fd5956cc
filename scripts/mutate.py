"""Mutation testing of one sans-IO module of httptransport, stdlib only.

Each *mutant* is the module with ONE classic change, made on its syntax tree:

* a comparison operator swapped (``==``/``!=``, ``<``/``<=``/``>``/``>=``, ``is``/``is
  not``, ``in``/``not in``);
* ``and``/``or`` swapped; a ``not`` removed;
* an integer constant moved by +1 and by -1; ``True``/``False`` swapped;
* ``+``/``-`` swapped (also ``+=``/``-=``);
* a statement (an assignment, a call, a ``return``, a ``raise``, a ``del``, a whole
  ``if`` or loop...) replaced by ``pass``.

Docstrings, ``__all__``/``__slots__`` and ``if typing.TYPE_CHECKING:`` blocks are not
mutated. The source tree (``packages/httptransport/src`` by default) is never written
to: it is copied once per worker into a temporary directory, the copy's module is
overwritten with each mutant in turn, and the tests run in a child process whose
``sys.path`` starts with that copy, so ``import httptransport`` finds the mutant. The
tests are run with ``-x`` and a per-mutant timeout; a mutant is *killed* when they fail,
*survives* when they pass, and *timed out* when they run past the limit (an infinite
loop: counted as killed, and listed).

Children are forked from a process that has already imported pytest and the test
dependencies (not httptransport), which saves most of pytest's start-up per mutant;
``--no-fork`` runs each mutant as ``python -m pytest`` instead.

Known equivalent mutants (the change cannot be observed: see ``EQUIVALENT``) are
reported apart from the survivors.

Usage (from the repository root, with the test environment's interpreter)::

    $(hatch env find hatch-test.py3.11-all-latest)/bin/python scripts/mutate.py \\
        h1_head --jobs 2

``h1_head`` and ``pool_logic`` are presets (module and test selection); ``--module``
and ``--tests`` choose others; ``--list`` lists the mutants without running anything.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ("PRESETS", "Mutant", "apply", "main", "mutants")

ROOT = Path(__file__).resolve().parent.parent
SRC = Path("packages/httptransport/src")

# Module (relative to the source root) and the fast tests that guard it.
PRESETS: dict[str, tuple[str, list[str]]] = {
    "h1_head": (
        "httptransport/_h1_head.py",
        [
            "tests/httptransport/test_h1_head_refusals.py",
            "tests/httptransport/test_h1_head_against_h11.py",
            "tests/httptransport/_async/test_http11.py",
            "tests/httptransport/_sync/test_http11.py",
        ],
    ),
    "pool_logic": (
        "httptransport/_pool_logic.py",
        [
            "tests/httptransport/test_pool_logic.py",
            "tests/httptransport/test_pool_counts.py",
        ],
    ),
}

# Mutants that no test can kill because the program behaves the same: keyed by module
# (as in PRESETS), source line and the mutation's description; the value says why.
EQUIVALENT: dict[str, dict[tuple[int, str], str]] = {
    "httptransport/_h1_head.py": {
        (76, "1 -> 2"): "framing is only tested for truth: 2 is as true as 1",
        (81, "2 -> 3"): "framing is only tested for truth: 3 is as true as 2",
        (81, "2 -> 1"): "framing is only tested for truth: 1 is as true as 2",
        (105, "2 -> 3"): "_CLOSE is only told apart from 0 and _LENGTH (1): 3 is too",
        (106, "200 -> 199"): (
            "kinds are 0-2 and cached status codes 200-999: none lies between 199 and 200"
        ),
        (197, "1 -> 2"): "length -1 or -2: both only mean 'none yet' (< 0) to every test of it",
    },
    "httptransport/_pool_logic.py": {
        (170, "return statement -> pass"): "a function without return returns None too",
        (242, "> -> >="): "capacity == 1 returned just above: >= 1 and > 1 agree on the rest",
        (242, "1 -> 0"): "capacity == 1 returned just above: > 0 and > 1 agree on the rest",
        (381, "0 -> 1"): "pop()'s default is only compared with None: any non-None will do",
        (381, "0 -> -1"): "pop()'s default is only compared with None: any non-None will do",
        (432, "assign statement -> pass"): (
            "every ticket reaching _grant_slot already has connection None (fresh, queued, "
            "or reset by cancel/swap_for_slot)"
        ),
        (461, "return statement -> pass"): "a function without return returns None too",
        (478, "0 -> 1"): "pop()'s default is only compared with None: any non-None will do",
        (478, "0 -> -1"): "pop()'s default is only compared with None: any non-None will do",
        (493, "0 -> 1"): "pop()'s default is only compared with None: any non-None will do",
        (493, "0 -> -1"): "pop()'s default is only compared with None: any non-None will do",
        (509, "assign statement -> pass"): (
            "the re-read returns the same per-origin dict until _pop_waiter empties and "
            "deletes it, and the emptied local dict ends the loop just as None does"
        ),
    },
}

_SWAPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Lt: (ast.LtE, ast.Gt),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
}
_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.And: "and",
    ast.Or: "or",
    ast.Add: "+",
    ast.Sub: "-",
}


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One mutation: the ``index``-th node of ``ast.walk`` order, changed by ``kind``."""

    index: int
    kind: str
    line: int
    description: str


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _skipped(tree: ast.Module) -> set[int]:
    """ids of the nodes never mutated: docstrings, __all__/__slots__, TYPE_CHECKING."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        spare: list[ast.AST] = []
        if (
            _is_docstring(node)
            or (
                isinstance(node, ast.Assign)
                and any(
                    isinstance(t, ast.Name) and t.id in ("__all__", "__slots__")
                    for t in node.targets
                )
            )
            or (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))
        ):
            spare.append(node)
        elif isinstance(node, (ast.arg, ast.AnnAssign)) or hasattr(node, "returns"):
            # Annotations are not run (``from __future__ import annotations``).
            annotations = [getattr(node, "annotation", None), getattr(node, "returns", None)]
            spare.extend(a for a in annotations if a is not None)
        for part in spare:
            skipped.update(id(sub) for sub in ast.walk(part))
    return skipped


def _statement_lists(tree: ast.Module) -> dict[int, tuple[list[ast.stmt], int]]:
    """Each statement's id -> (the body list holding it, its position there)."""
    where: dict[int, tuple[list[ast.stmt], int]] = {}
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list):
                for position, statement in enumerate(body):
                    if isinstance(statement, ast.stmt):
                        where[id(statement)] = (body, position)
        for handler in getattr(node, "handlers", ()):
            for position, statement in enumerate(handler.body):
                where[id(statement)] = (handler.body, position)
    return where


def _sites(node: ast.AST, in_module_body: bool) -> Iterator[tuple[str, str]]:
    """The (kind, description) of every mutation of ``node`` itself."""
    if isinstance(node, ast.Compare):
        for position, op in enumerate(node.ops):
            for new in _SWAPS.get(type(op), ()):
                yield (
                    f"cmp:{position}:{new.__name__}",
                    f"{_SYMBOLS[type(op)]} -> {_SYMBOLS[new]}",
                )
    elif isinstance(node, ast.BoolOp):
        new_op = "or" if isinstance(node.op, ast.And) else "and"
        yield "boolop", f"{_SYMBOLS[type(node.op)]} -> {new_op}"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not", "not x -> x"
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            yield "bool", f"{node.value} -> {not node.value}"
        elif isinstance(node.value, int):
            yield "int:+1", f"{node.value} -> {node.value + 1}"
            yield "int:-1", f"{node.value} -> {node.value - 1}"
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, (ast.Add, ast.Sub)):
        new_sym = "-" if isinstance(node.op, ast.Add) else "+"
        suffix = "=" if isinstance(node, ast.AugAssign) else ""
        yield "arith", f"{_SYMBOLS[type(node.op)]}{suffix} -> {new_sym}{suffix}"
    if (
        isinstance(node, ast.stmt)
        and not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass, ast.Import)
        )
        and not isinstance(node, ast.ImportFrom)
        and not in_module_body
    ):
        yield "delete", f"{type(node).__name__.lower()} statement -> pass"


def _walk(source: str) -> tuple[ast.Module, list[ast.AST]]:
    tree = ast.parse(source)
    return tree, list(ast.walk(tree))


def mutants(source: str) -> list[Mutant]:
    """Every mutant of ``source``, in source order."""
    tree, nodes = _walk(source)
    skipped = _skipped(tree)
    module_level = {id(statement) for statement in tree.body}
    found: list[Mutant] = []
    for index, node in enumerate(nodes):
        if id(node) in skipped:
            continue
        for kind, description in _sites(node, id(node) in module_level):
            found.append(Mutant(index, kind, getattr(node, "lineno", 0), description))
    found.sort(key=lambda m: (m.line, m.index, m.kind))
    # The same change twice on one line is told apart by its occurrence: "1 -> 2 (#2)".
    seen: dict[tuple[int, str], int] = {}
    unique: list[Mutant] = []
    for m in found:
        count = seen[m.line, m.description] = seen.get((m.line, m.description), 0) + 1
        if count > 1:
            m = dataclasses.replace(m, description=f"{m.description} (#{count})")
        unique.append(m)
    return unique


def apply(source: str, mutant: Mutant) -> str:
    """``source`` with ``mutant`` applied, as (reformatted) source text."""
    tree, nodes = _walk(source)
    node = nodes[mutant.index]
    kind = mutant.kind
    if kind.startswith("cmp:"):
        _, where, name = kind.split(":")
        assert isinstance(node, ast.Compare)
        node.ops[int(where)] = getattr(ast, name)()
    elif kind == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "not":
        assert isinstance(node, ast.UnaryOp)
        _replace(tree, node, node.operand)
    elif kind == "bool":
        assert isinstance(node, ast.Constant)
        node.value = not node.value
    elif kind in ("int:+1", "int:-1"):
        assert isinstance(node, ast.Constant)
        value = node.value
        assert isinstance(value, int)
        node.value = value + (1 if kind == "int:+1" else -1)
    elif kind == "arith":
        assert isinstance(node, (ast.BinOp, ast.AugAssign))
        node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
    elif kind == "delete":
        body, position = _statement_lists(tree)[id(node)]
        body[position] = ast.copy_location(ast.Pass(), node)
    else:  # pragma: no cover - a kind _sites never yields
        raise ValueError(kind)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for position, item in enumerate(value):
                    if item is old:
                        value[position] = new
                        return
    raise LookupError("node not found")  # pragma: no cover


# -- running ------------------------------------------------------------------------


@dataclasses.dataclass
class _Worker:
    copy: Path  # the copied source root
    target: Path  # the module inside it
    mutant: Mutant | None = None
    pid: int = 0
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0


def _preload() -> None:
    """Import, once, what every child needs (never the package under test, nor a
    pytest plugin: pytest refuses to rewrite the asserts of one already imported)."""
    for name in ("pytest", "_pytest.python", "trio", "h11", "h2.connection", "certifi"):
        try:
            __import__(name)
        except ImportError:
            pass


def _start(worker: _Worker, pytest_args: list[str], fork: bool) -> None:
    worker.started = time.monotonic()
    if not fork:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(worker.copy), *filter(None, [env.get("PYTHONPATH")])]
        )
        worker.process = subprocess.Popen(
            [sys.executable, "-m", "pytest", *pytest_args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            sys.path.insert(0, str(worker.copy))
            import pytest

            code = int(pytest.main(pytest_args))
        finally:
            os._exit(code)
    worker.pid = pid


def _poll(worker: _Worker) -> int | None:
    if worker.process is not None:
        return worker.process.poll()
    pid, status = os.waitpid(worker.pid, os.WNOHANG)
    if pid == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def _kill(worker: _Worker) -> None:
    pid = worker.process.pid if worker.process is not None else worker.pid
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:  # pragma: no cover - already gone
        pass
    if worker.process is not None:
        worker.process.wait()
    else:
        os.waitpid(worker.pid, 0)


def _run(
    module: str,
    selected: list[Mutant],
    source: str,
    pytest_args: list[str],
    jobs: int,
    timeout: float,
    fork: bool,
) -> dict[Mutant, str]:
    """Run the tests against each mutant; its outcome: killed, survived or timeout."""
    outcomes: dict[Mutant, str] = {}
    with tempfile.TemporaryDirectory(prefix="mutate-") as scratch:
        workers = []
        for number in range(jobs):
            root = Path(scratch) / f"w{number}"
            shutil.copytree(ROOT / SRC, root, ignore=shutil.ignore_patterns("__pycache__"))
            workers.append(_Worker(root, root / module))
        pending = list(selected)
        busy: list[_Worker] = []
        idle = list(workers)
        while pending or busy:
            while pending and idle:
                worker = idle.pop()
                worker.mutant = pending.pop(0)
                worker.target.write_text(apply(source, worker.mutant), encoding="utf-8")
                _start(worker, pytest_args, fork)
                busy.append(worker)
            time.sleep(0.02)  # (polling children: no test timing depends on this)
            for worker in list(busy):
                code = _poll(worker)
                if code is None and time.monotonic() - worker.started > timeout:
                    _kill(worker)
                    code = -1
                if code is None:
                    continue
                assert worker.mutant is not None
                outcome = "timeout" if code == -1 else "survived" if code == 0 else "killed"
                if code in (2, 3, 4):  # interrupted, internal or usage error: not a kill
                    outcome = f"error (pytest exit {code})"
                outcomes[worker.mutant] = outcome
                done = len(outcomes)
                print(
                    f"[{done}/{len(selected)}] line {worker.mutant.line}: "
                    f"{worker.mutant.description}: {outcome}",
                    flush=True,
                )
                busy.remove(worker)
                idle.append(worker)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit status 1 when a non-equivalent mutant survives."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", nargs="?", choices=sorted(PRESETS), help="module + tests")
    parser.add_argument("--module", help="module path under the source root")
    parser.add_argument("--tests", nargs="+", help="test files or node ids to run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per mutant")
    parser.add_argument("--lines", help="only mutants on these lines: 10-20 or 15")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--no-fork", action="store_true", help="one `python -m pytest` each")
    args = parser.parse_args(argv)
    module, tests = PRESETS[args.preset] if args.preset else ("", [])
    module = args.module or module
    tests = args.tests or tests
    if not module or not tests:
        parser.error("give a preset, or --module and --tests")
    source = (ROOT / SRC / module).read_text(encoding="utf-8")
    selected = mutants(source)
    if args.lines:
        low, _, high = args.lines.partition("-")
        selected = [m for m in selected if int(low) <= m.line <= int(high or low)]
    equivalent = EQUIVALENT.get(module, {})
    if args.list:
        for m in selected:
            note = equivalent.get((m.line, m.description))
            print(f"line {m.line}: {m.description}" + (f"  [equivalent: {note}]" if note else ""))
        print(f"{len(selected)} mutants")
        return 0
    fork = hasattr(os, "fork") and not args.no_fork
    pytest_args = ["-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *tests]
    if fork:
        _preload()
    # The unmutated copy must pass, or every mutant would look killed.
    check = _check_baseline(module, source, pytest_args, args.timeout, fork)
    if check:
        print(check, file=sys.stderr)
        return 2
    started = time.monotonic()
    outcomes = _run(module, selected, source, pytest_args, args.jobs, args.timeout, fork)
    elapsed = time.monotonic() - started
    return _report(module, outcomes, equivalent, elapsed, tests)


def _check_baseline(
    module: str, source: str, pytest_args: list[str], timeout: float, fork: bool
) -> str:
    """Run the tests once against an unmutated (but unparsed) copy."""
    with tempfile.TemporaryDirectory(prefix="mutate-") as scratch:
        root = Path(scratch) / "base"
        shutil.copytree(ROOT / SRC, root, ignore=shutil.ignore_patterns("__pycache__"))
        (root / module).write_text(ast.unparse(ast.parse(source)) + "\n", encoding="utf-8")
        worker = _Worker(root, root / module)
        _start(worker, pytest_args, fork)
        while (code := _poll(worker)) is None:
            if time.monotonic() - worker.started > timeout:
                _kill(worker)
                return "the tests time out on the unmutated module"
            time.sleep(0.02)
    if code != 0:
        return f"the tests fail on the unmutated module (pytest exit {code}): fix them first"
    return ""


def _report(
    module: str,
    outcomes: dict[Mutant, str],
    equivalent: dict[tuple[int, str], str],
    elapsed: float,
    tests: list[str],
) -> int:
    survivors = [m for m, o in outcomes.items() if o == "survived"]
    known = [m for m in survivors if (m.line, m.description) in equivalent]
    alive = [m for m in survivors if (m.line, m.description) not in equivalent]
    timeouts = [m for m, o in outcomes.items() if o == "timeout"]
    errors = [m for m, o in outcomes.items() if o.startswith("error")]
    killed = len(outcomes) - len(survivors) - len(errors)
    relevant = len(outcomes) - len(known) - len(errors)
    score = 100.0 * killed / relevant if relevant else 100.0
    print()
    print(f"module:     {module}")
    print(f"tests:      {' '.join(tests)}")
    print(f"mutants:    {len(outcomes)} in {elapsed:.0f} s")
    print(f"killed:     {killed} (of which {len(timeouts)} by timeout)")
    print(f"survived:   {len(alive)}")
    print(f"equivalent: {len(known)}")
    if errors:
        print(f"errors:     {len(errors)}")
    print(f"score:      {score:.1f}% of the non-equivalent mutants killed")
    for title, group in (("timeouts", timeouts), ("errors", errors)):
        if group:
            print(f"\n{title}:")
            for m in sorted(group, key=lambda m: m.line):
                print(f"  line {m.line}: {m.description}")
    if known:
        print("\nequivalent (survived, as expected):")
        for m in sorted(known, key=lambda m: m.line):
            print(f"  line {m.line}: {m.description}: {equivalent[(m.line, m.description)]}")
    if alive:
        print("\nSURVIVED:")
        for m in sorted(alive, key=lambda m: m.line):
            print(f"  line {m.line}: {m.description}")
    stale = set(equivalent) - {(m.line, m.description) for m in known}
    if stale and len(outcomes) == len(mutants_cache(module)):
        print("\nlisted as equivalent but killed or gone (update EQUIVALENT):")
        for line, description in sorted(stale):
            print(f"  line {line}: {description}")
    return 1 if alive or errors else 0


def mutants_cache(module: str) -> list[Mutant]:
    """Every mutant of ``module`` as it is on disk."""
    return mutants((ROOT / SRC / module).read_text(encoding="utf-8"))


if __name__ == "__main__":
    sys.exit(main())
