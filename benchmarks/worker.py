"""One measurement in a fresh process: ``python worker.py '<json job>'``.

Runs inside the client's venv.  Prints exactly one JSON object on the last stdout line:
either ``{"error": "..."}`` (the client could not be set up) or the counts of a warm-up
phase followed by a timed phase.  Every response's status and body length is checked.
Each phase also records the CPU time the process used during it (``time.process_time``:
user + system, every thread, so the tokio threads of pyreqwest count too).
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import clients

MAX_FAILURES = 200


@dataclass
class Tally:
    ok: int = 0
    failures: int = 0
    bytes: int = 0
    first_error: str | None = None
    elapsed: float = 0.0
    cpu: float = 0.0  # seconds of process CPU time (all threads) during the phase
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, status: int, size: int, expected: int) -> None:
        if status == 200 and size == expected:
            self.ok += 1
            self.bytes += size
        else:
            self.fail(f"status={status} body={size} bytes (expected 200 / {expected})")

    def fail(self, message: str) -> None:
        self.failures += 1
        if self.first_error is None:
            self.first_error = message


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _run_sync(job: dict[str, Any], client: clients.SyncClient) -> dict[str, Any]:
    expected: int = job["expected"]

    def phase(seconds: float, minimum: int) -> Tally:
        tally = Tally()
        fetch = client.fetch
        clock = time.perf_counter
        cpu_start = time.process_time()
        start = clock()
        deadline = start + seconds
        count = 0
        while True:
            try:
                status, size = fetch()
            except Exception as exc:
                tally.fail(_describe(exc))
            else:
                tally.record(status, size, expected)
            count += 1
            if tally.failures >= MAX_FAILURES:
                break
            if count >= minimum and clock() >= deadline:
                break
        tally.elapsed = clock() - start
        tally.cpu = time.process_time() - cpu_start
        return tally

    warm = phase(job["warmup"], job["min_warmup"])
    timed = phase(job["duration"], job["min_requests"])
    client.close()
    return {"warmup": asdict(warm), "timed": asdict(timed)}


async def _run_async(job: dict[str, Any], ctx: ssl.SSLContext, runner: str) -> dict[str, Any]:
    expected: int = job["expected"]
    client = await clients.open_async(
        *_adapter_args(job, ctx),
        job.get("http2"),
        ca_file=job["ca_file"],
        timeouts=job.get("timeouts"),
        runner=runner,
    )

    # raw-socket runs one task per connection (the limit: no hand-over between tasks).
    tasks: int = getattr(client, "tasks", None) or job["tasks"]

    async def gather(n: int, task: Callable[[], Awaitable[None]]) -> None:
        if runner == "trio":
            import trio

            async with trio.open_nursery() as nursery:
                for _ in range(n):
                    nursery.start_soon(task)
        else:
            import asyncio

            await asyncio.gather(*(task() for _ in range(n)))

    async def phase(seconds: float, minimum: int) -> Tally:
        tally = Tally()
        clock = time.perf_counter
        cpu_start = time.process_time()
        start = clock()
        deadline = start + seconds
        started = 0

        async def task() -> None:
            nonlocal started
            while tally.failures < MAX_FAILURES and (started < minimum or clock() < deadline):
                started += 1
                try:
                    status, size = await client.fetch()
                except Exception as exc:
                    tally.fail(_describe(exc))
                else:
                    tally.record(status, size, expected)

        await gather(tasks, task)
        tally.elapsed = clock() - start
        tally.cpu = time.process_time() - cpu_start
        return tally

    try:
        warm = await phase(job["warmup"], job["min_warmup"])
        timed = await phase(job["duration"], job["min_requests"])
    finally:
        await client.close()
    return {"warmup": asdict(warm), "timed": asdict(timed)}


def _adapter_args(
    job: dict[str, Any], ctx: ssl.SSLContext
) -> tuple[str, str, int, bool, list[tuple[bytes, bytes]], ssl.SSLContext]:
    """The leading arguments of ``clients.open_sync`` and ``clients.open_async``."""
    headers = [(k.encode(), v.encode()) for k, v in job["headers"]]
    return job["client"], job["url"], job["pool"], job["stream"], headers, ctx


def main() -> int:
    job: dict[str, Any] = json.loads(sys.argv[1])
    cpu = job.get("cpu")
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    ctx = ssl.create_default_context(cafile=job["ca_file"])
    if job.get("http2"):
        # Offer h2 on our own context, as a caller must: httptransport never edits a
        # caller's context (httpcore would set this itself).
        ctx.set_alpn_protocols(["h2", "http/1.1"])
    runner = job["runner"]
    try:
        if runner == "sync":
            client = clients.open_sync(
                *_adapter_args(job, ctx),
                ca_file=job["ca_file"],
                timeouts=job.get("timeouts"),
            )
            result = _run_sync(job, client)
        elif runner == "asyncio":
            import asyncio

            result = asyncio.run(_run_async(job, ctx, runner))
        elif runner == "trio":
            import trio

            result = trio.run(_run_async, job, ctx, runner)
        else:
            raise ValueError(f"unknown runner {runner!r}")
    except Exception as exc:
        tb = traceback.format_exc(limit=6)
        print(json.dumps({"error": _describe(exc), "traceback": tb}))
        return 0
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
