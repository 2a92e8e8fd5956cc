"""Side-by-side HTTP client benchmark: httptransport vs httpcore, httpcore2, urllib3, aiohttp,
pyreqwest, pycurl and a bare socket loop (raw-socket).

    python3 benchmarks/run.py [--short] [--scenario a,e] [--clients httptransport,urllib3]

Starts nginx on 127.0.0.1, builds benchmarks/.work/venv (and venv-pyreqwest, venv-pycurl
when those clients run), then runs every (scenario, client) measurement in a fresh worker
process started with that client's venv, interleaving the clients within each repetition.
Reports requests (or MB) per second and the worker's CPU time per request.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchenv
from scenarios import (
    CLIENT_MODULES,
    CLIENT_VENVS,
    CLIENTS,
    NEW_CONNECTION,
    Scenario,
    select_scenarios,
)
from server import Nginx, ensure_nginx

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Timing:
    reps: int
    warmup: float
    duration: float


SHORT = Timing(reps=5, warmup=0.1, duration=0.25)
FULL = Timing(reps=7, warmup=0.5, duration=1.5)


@dataclass
class Cell:
    """All repetitions of one client in one scenario."""

    values: list[float | None] = field(default_factory=list)  # per rep; None = no score
    failures: int = 0
    first_error: str | None = None
    unavailable: str | None = None
    notes: set[str] = field(default_factory=set)
    conns: list[int] = field(default_factory=list)
    requests: int = 0
    cpu: list[float | None] = field(default_factory=list)  # per rep: CPU us per request


# -- setup ------------------------------------------------------------------------------------

_PROBE = """
import importlib, json, sys
out = {}
for name in sys.argv[1:]:
    try:
        mod = importlib.import_module(name)
        if name in ("httptransport", "httpcore", "httpcore2"):
            for attr in ("ConnectionPool", "AsyncConnectionPool"):
                if not hasattr(mod, attr):
                    raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        out[name] = None
    except Exception as exc:
        out[name] = f"{type(exc).__name__}: {exc}"[:200]
print(json.dumps(out))
"""


def venv_of(client: str) -> str:
    return CLIENT_VENVS.get(client, "main")


def probe_clients(names: list[str], broken: dict[str, str]) -> dict[str, str | None]:
    """Import each client's module in its venv: None if it imports, else why not.
    ``broken`` maps venvs that could not be built to the reason."""
    out: dict[str, str | None] = {}
    for venv in sorted({venv_of(n) for n in names}):
        group = [n for n in names if venv_of(n) == venv]
        if venv in broken:
            out.update(dict.fromkeys(group, broken[venv]))
            continue
        modules = {name: CLIENT_MODULES.get(name, name) for name in group}
        done = subprocess.run(
            [str(benchenv.python(venv)), "-c", _PROBE, *sorted(set(modules.values()))],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            out.update(dict.fromkeys(group, f"probe crashed: {done.stderr.strip()[-200:]}"))
            continue
        by_module: dict[str, str | None] = json.loads(done.stdout)
        out.update({name: by_module[module] for name, module in modules.items()})
    return {name: out[name] for name in names}


def cpu_layout() -> tuple[int | None, int | None]:
    """(nginx cpu, client cpu): pin them apart when there are at least 2 cores."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


# -- one measurement --------------------------------------------------------------------------


def run_worker(
    sc: Scenario, client: str, server: Nginx, timing: Timing, cpu: int | None
) -> dict[str, Any]:
    job = {
        "client": client,
        "runner": sc.runner,
        "url": server.url(sc.kind),
        "expected": sc.expected_size,
        "stream": sc.kind == "download",
        "headers": [["Connection", "close"]] if sc.kind in NEW_CONNECTION else [],
        "http2": {"h2-tls": "tls", "h2c": "h2c"}.get(sc.kind),
        "timeouts": sc.timeouts,
        "tasks": sc.tasks,
        "pool": sc.pool,
        "warmup": timing.warmup,
        "duration": timing.duration,
        "min_warmup": 1 if sc.kind == "download" else min(sc.tasks * 2, 20),
        "min_requests": 2 if sc.kind == "download" else 10,
        "ca_file": server.ca_file,
        "cpu": cpu,
    }
    before = server.accepted_connections()
    try:
        done = subprocess.run(
            [str(benchenv.python(venv_of(client))), str(HERE / "worker.py"), json.dumps(job)],
            capture_output=True,
            text=True,
            timeout=timing.warmup + timing.duration + 120,
            check=False,
            cwd=HERE,
        )
    except subprocess.TimeoutExpired:
        return {"error": "worker timed out"}
    after = server.accepted_connections()
    lines = done.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (done.stderr.strip() or done.stdout.strip())[-300:]
        return {"error": f"worker exited {done.returncode}: {tail}"}
    result["conns"] = after - before - 1  # minus the second stub_status request itself
    return result


def score(sc: Scenario, timed: dict[str, Any]) -> float:
    if sc.unit == "MB/s":
        return float(timed["bytes"] / timed["elapsed"] / 1e6)
    return float(timed["ok"] / timed["elapsed"])


def record(sc: Scenario, cell: Cell, result: dict[str, Any]) -> str:
    """Fold one worker result into ``cell``; return a short progress string."""
    if "error" in result:
        cell.values.append(None)
        cell.cpu.append(None)
        if any(v is not None for v in cell.values) or cell.requests:
            # It worked in an earlier repetition: a crash or hang now is a failure.
            cell.failures += 1
            cell.first_error = cell.first_error or result["error"]
            return "worker FAILED"
        cell.unavailable = result["error"]
        return "unavailable"
    warm, timed = result["warmup"], result["timed"]
    failures = warm["failures"] + timed["failures"]
    total = warm["ok"] + warm["failures"] + timed["ok"] + timed["failures"]
    conns = int(result["conns"])
    cell.conns.append(conns)
    cell.requests += total
    cell.failures += failures
    cell.first_error = cell.first_error or warm["first_error"] or timed["first_error"]
    if sc.kind in NEW_CONNECTION and conns < total:
        # Reusing connections here would skip the handshakes this scenario measures.
        cell.notes.add(f"reused connections ({conns} conns for {total} requests)")
        cell.failures += total - conns
        failures += total - conns
    elif sc.kind not in NEW_CONNECTION and conns > sc.pool:
        cell.notes.add(f"opened {conns} connections, pool is {sc.pool}")
    if failures:
        cell.values.append(None)
        cell.cpu.append(None)
        return f"{failures} FAILED"
    value = score(sc, timed)
    cell.values.append(value)
    # CPU time of the whole worker process (every thread) over the timed phase, per request.
    cpu_us = timed["cpu"] / timed["ok"] * 1e6 if timed["ok"] else None
    cell.cpu.append(cpu_us)
    cpu_s = "" if cpu_us is None else f" ({cpu_us:,.0f} us)"
    return (f"{value:,.0f}" if value >= 100 else f"{value:,.1f}") + cpu_s


# -- statistics and report -------------------------------------------------------------------


def summarize(sc: Scenario, cells: dict[str, Cell]) -> list[dict[str, Any]]:
    base = cells.get(sc.baseline)
    rows = []
    for client, cell in cells.items():
        row: dict[str, Any] = {"scenario": sc.key, "client": client, "unit": sc.unit}
        row["failures"] = cell.failures
        row["notes"] = sorted(cell.notes)
        row["conns"] = cell.conns
        row["values"] = cell.values
        row["cpu_values"] = cell.cpu
        row["median"] = None
        row["ratio"] = None
        # CPU microseconds per request: the median over the repetitions that scored.
        row["cpu_us"] = None
        row["status"] = "ok"
        if cell.unavailable is not None and not any(v is not None for v in cell.values):
            row["status"] = f"unavailable: {cell.unavailable}"
        elif cell.failures:
            row["status"] = f"FAILED: {cell.first_error or ', '.join(row['notes'])}"
        else:
            good = [v for v in cell.values if v is not None]
            row["median"] = statistics.median(good) if good else None
            cpu = [c for c in cell.cpu if c is not None]
            row["cpu_us"] = statistics.median(cpu) if cpu else None
            if base is not None and not base.failures:
                ratios = rep_ratios(cell, base)
                row["ratio"] = statistics.median(ratios) if ratios else None
                row["ratio_range"] = (min(ratios), max(ratios)) if ratios else None
        # The targets against urllib3 and aiohttp are read from this: the subject's result
        # over this client's, repetition by repetition, like the ratios to httpcore.
        ours = cells.get(sc.subject)
        row["ours"] = None
        if client != sc.subject and ours is not None and not ours.failures and not cell.failures:
            ratios = rep_ratios(ours, cell)
            row["ours"] = statistics.median(ratios) if ratios else None
        rows.append(row)
    return rows


def rep_ratios(cell: Cell, other: Cell) -> list[float]:
    """``cell``'s result divided by ``other``'s in the same repetition, for every
    repetition where both scored."""
    return [
        v / o
        for v, o in zip(cell.values, other.values, strict=False)
        if v is not None and o is not None and o > 0
    ]


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def fmt_times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def fmt_cpu(cpu_us: float | None) -> str:
    if cpu_us is None:
        return "-"
    return f"{cpu_us:,.0f} us" if cpu_us >= 100 else f"{cpu_us:,.1f} us"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| scenario | client | median | CPU per request | ratio to baseline | subject / client "
        "| failures |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        if row["status"].startswith("unavailable"):
            median = row["status"].replace("|", "/")
        elif row["status"].startswith("FAILED"):
            median = "FAILED (no score)"
        else:
            median = fmt_value(row["median"], row["unit"])
        failures = "-" if row["status"].startswith("unavailable") else str(row["failures"])
        out.append(
            f"| {row['scenario']} | {row['client']} | {median} | {fmt_cpu(row['cpu_us'])} "
            f"| {fmt_times(row['ratio'])} | {fmt_times(row['ours'])} | {failures} |"
        )
    return "\n".join(out)


def print_scenario_summary(sc: Scenario, rows: list[dict[str, Any]]) -> None:
    print(
        f"  {'client':<20} {'median':>16} {'CPU/req':>10} {'ratio':>7} {'ratio range':>13}"
        f" {'ours/it':>8}  conns  notes"
    )
    for row in rows:
        rr = row.get("ratio_range")
        rr_s = f"{rr[0]:.2f}-{rr[1]:.2f}" if rr else "-"
        conns = row["conns"]
        conns_s = f"{min(conns)}-{max(conns)}" if conns else "-"
        note = "" if row["status"] == "ok" else row["status"]
        if row["notes"]:
            note = "; ".join([note, *row["notes"]]).strip("; ")
        median = fmt_value(row["median"], sc.unit)
        print(
            f"  {row['client']:<20} {median:>16} {fmt_cpu(row['cpu_us']):>10} "
            f"{fmt_times(row['ratio']):>7} {rr_s:>13} {fmt_times(row['ours']):>8}  {conns_s:>5}"
            f"  {note[:160]}"
        )


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--short", action="store_true", help="about 2 minutes in all")
    p.add_argument("--scenario", help="comma-separated keys or prefixes, e.g. a,e (default: all)")
    p.add_argument("--clients", help=f"comma-separated subset of {','.join(CLIENTS)}")
    p.add_argument("--reps", type=int, help="repetitions (default 5 short, 7 full)")
    p.add_argument("--duration", type=float, help="seconds measured per run")
    p.add_argument("--warmup", type=float, help="seconds of warm-up per run")
    p.add_argument("--no-pin", action="store_true", help="don't pin nginx and clients to cores")
    p.add_argument("--reinstall", action="store_true", help="refresh the venv")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    p.add_argument(
        "--label",
        help="put this first in the header (and so in the charts' subtitles), e.g. 'dev run'",
    )
    args = p.parse_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = SHORT if args.short else FULL
    timing = Timing(
        reps=max(args.reps or base.reps, 1),
        warmup=args.warmup if args.warmup is not None else base.warmup,
        duration=args.duration if args.duration is not None else base.duration,
    )
    scenarios = select_scenarios(args.scenario)
    wanted = list(CLIENTS)
    if args.clients:
        wanted = [c.strip() for c in args.clients.split(",") if c.strip()]
        unknown = set(wanted) - set(CLIENTS)
        if unknown:
            raise SystemExit(f"unknown client(s) {sorted(unknown)}; known: {', '.join(CLIENTS)}")
        for sc in scenarios:
            if sc.baseline not in wanted:
                wanted.append(sc.baseline)  # ratios need the baseline in every repetition

    t0 = time.monotonic()
    nginx_bin = ensure_nginx()
    notes = benchenv.ensure_venv(force=args.reinstall)
    for note in notes:
        print(f"warning: {note}")
    # The separate peers' venvs, only for the clients that will run.
    in_use = {c for sc in scenarios for c in sc.clients if c in wanted}
    extra = sorted({venv_of(c) for c in in_use} - {"main"})
    broken: dict[str, str] = {}
    for venv in extra:
        try:
            benchenv.ensure_venv(force=args.reinstall, name=venv)
        except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            broken[venv] = f"venv-{venv}: {exc}"[:300]
    versions = benchenv.pinned_versions(("main", *(v for v in extra if v not in broken)))
    available = probe_clients(wanted, broken)
    nginx_cpu, client_cpu = (None, None) if args.no_pin else cpu_layout()

    header = (
        (f"{args.label}, " if args.label else "")
        + f"python {platform.python_version()}, {os.cpu_count()} cores, "
        f"nginx cpu={nginx_cpu} client cpu={client_cpu}; "
        f"{timing.reps} reps x ({timing.warmup}s warm-up + {timing.duration}s measured)"
    )
    print(header)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > 1.0:
        print(f"warning: load average {load:.1f} before starting: other work shares the cores,")
        print("         expect noisy absolute numbers (ratios are per repetition; see README)")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    for name, reason in available.items():
        if reason:
            print(f"{name}: unavailable: {reason}")

    all_rows: list[dict[str, Any]] = []
    with Nginx(nginx_bin, str(benchenv.python()), cpu=nginx_cpu) as server:
        print(f"nginx {'.'.join(map(str, server.version))} on 127.0.0.1: http={server.http_port}"
              f" tls={server.tls_port} h2c={server.h2c_port}"
              f" tls-resume={server.tls_resume_port}")  # fmt: skip
        for sc in scenarios:
            clients = [c for c in sc.clients if c in wanted]
            print(
                f"\n== {sc.key}: {sc.title} ({sc.unit}; baseline {sc.baseline}, "
                f"subject {sc.subject})",
                flush=True,
            )
            cells = {c: Cell() for c in clients}
            for c in clients:
                if available.get(c):
                    cells[c].unavailable = available[c]
            runnable = [c for c in clients if not available.get(c)]
            for rep in range(timing.reps):
                shift = rep % max(len(runnable), 1)
                order = runnable[shift:] + runnable[:shift]
                parts = []
                for client in order:
                    cell = cells[client]
                    if cell.unavailable is not None:
                        # Set up failed in an earlier repetition: don't retry it every time.
                        parts.append(f"{client}=unavailable")
                        continue
                    result = run_worker(sc, client, server, timing, client_cpu)
                    parts.append(f"{client}={record(sc, cell, result)}")
                print(f"  rep {rep + 1}: " + "  ".join(parts), flush=True)
            rows = summarize(sc, cells)
            print_scenario_summary(sc, rows)
            all_rows.extend(rows)

    elapsed = time.monotonic() - t0
    print(f"\nfinished in {elapsed:.0f}s; {header}\n")
    print(markdown_table(all_rows))
    if args.json:
        args.json.write_text(
            json.dumps({"header": header, "versions": versions, "rows": all_rows}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
