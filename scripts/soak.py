"""Soak: many requests through long-lived pools, watching RSS and open file descriptors.

Starts a loopback server in a child process (hypercorn, serving HTTP/1.1 and h2c on one
port, so none of its sockets count against this process), then runs ``--requests``
requests through one pool per mode:

* ``sync-h1`` / ``sync-h2``: :class:`httptransport.ConnectionPool` from ``--threads``
  threads (netbackend-sync);
* ``async-h1`` / ``async-h2``: :class:`httptransport.AsyncConnectionPool` from
  ``--tasks`` tasks on asyncio (``--loop trio`` for trio).

``-h2`` modes speak HTTP/2 with prior knowledge (h2c). Requests mix small bodies, 64 KiB
bodies, POSTed bodies, responses closed after the head and (async) requests cancelled
at random points, so the error paths are soaked too. RSS (``VmRSS`` of
``/proc/self/status``) and the number of open file descriptors (``/proc/self/fd``) are
printed at the start, every ``--every`` requests and at the end, and a summary line::

    python scripts/soak.py                       # 100,000 requests per mode
    python scripts/soak.py --requests 2000 --json

The start figures are taken after a short warm-up (imports, first connections), so
that what follows measures steady state. With ``--json`` the last line is a JSON
object of the measurements (for tests). Exit status 1 if fds were not back to their
start value or a request that should have succeeded failed.

``python scripts/soak.py --serve`` only runs the server: it prints ``PORT <n>`` and
serves until its standard input closes (the storm tests use it).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import typing

MODES = ("sync-h1", "sync-h2", "async-h1", "async-h2")
CHUNK = 16 * 1024


# -- the server (child process) ---------------------------------------------------------


async def _app(scope: dict[str, typing.Any], receive: typing.Any, send: typing.Any) -> None:
    """``/`` hello; ``/bytes/N`` N bytes in 16 KiB chunks; ``/delay/MS`` the head after
    MS milliseconds; ``/echo`` the request body."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    path: str = scope["path"]
    if path.startswith("/delay/"):
        await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
    if path.startswith("/bytes/"):
        remaining = int(path.rsplit("/", 1)[1])
        headers = [(b"content-length", b"%d" % remaining)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        while remaining > 0:
            size = min(remaining, CHUNK)
            remaining -= size
            await send(
                {"type": "http.response.body", "body": b"x" * size, "more_body": remaining > 0}
            )
        return
    content = body if path == "/echo" else b"Hello, world!"
    headers = [(b"content-length", b"%d" % len(content))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def serve() -> None:
    """Run hypercorn on 127.0.0.1 until standard input closes; print ``PORT <n>`` first."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.accesslog = None
    config.errorlog = None
    config.loglevel = "CRITICAL"
    config.backlog = 1024
    config.keep_alive_timeout = 600
    # hypercorn ends an HTTP/2 connection after this many requests with a GOAWAY that
    # still lists the streams in flight as processed, and then never answers them (its
    # h2 state is closed): those requests would wait for their read timeout. Unbounded.
    config.keep_alive_max_requests = 2**62

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def watch_stdin() -> None:
            sys.stdin.buffer.read()
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=watch_stdin, daemon=True).start()
        print(f"PORT {listener.getsockname()[1]}", flush=True)
        await hypercorn_serve(_app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:  # pragma: no cover - uvloop is optional
        asyncio.run(main())
    else:
        uvloop.run(main())


class ServerProcess:
    """``soak.py --serve`` in a child process; ``stop()`` (or ``with``) ends it."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the soak server did not start: {line!r}")
        self.port = int(line.split()[1])

    def url(self, path: str = "/") -> str:
        """The URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        """Close its standard input and wait for it to exit."""
        process = self._process
        if process.stdin is not None and not process.stdin.closed:
            process.stdin.close()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *args: object) -> None:
        self.stop()


# -- measurements -------------------------------------------------------------------------


def rss_kib() -> int:
    """This process's resident set size in KiB (``VmRSS``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")  # pragma: no cover


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


class Recorder:
    """Prints and keeps the measurements."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.rows: list[dict[str, typing.Any]] = []

    def sample(self, mode: str, label: str, done: int) -> dict[str, typing.Any]:
        row: dict[str, typing.Any] = {
            "mode": mode,
            "at": label,
            "requests": done,
            "rss_kib": rss_kib(),
        }
        row["fds"] = open_fds()
        self.rows.append(row)
        if not self.quiet:
            print(
                f"{mode:9} {label:6} requests={done:>7} rss={row['rss_kib'] / 1024:8.1f} MiB"
                f" fds={row['fds']}",
                flush=True,
            )
        return row


# -- what each request does -----------------------------------------------------------------

# (kind, weight): get a small body; read 64 KiB; POST a body and read the echo; close the
# response after its head; (async only) cancel the request at a random point.
KINDS = (("small", 50), ("bytes", 20), ("post", 10), ("close-early", 10), ("cancel", 10))


def _plan(rng: random.Random, cancels: bool) -> str:
    kinds = [k for k, _ in KINDS if cancels or k != "cancel"]
    weights = [w for k, w in KINDS if cancels or k != "cancel"]
    return rng.choices(kinds, weights)[0]


class Failures:
    """Requests that should have succeeded and did not (kept: the first few)."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []
        self._lock = threading.Lock()

    def add(self, exc: BaseException) -> None:
        with self._lock:
            self.count += 1
            if len(self.examples) < 5:
                self.examples.append(repr(exc))


EXTENSIONS = {"timeout": {"connect": 10.0, "read": 10.0, "write": 10.0, "pool": 30.0}}


def _sync_one(pool: typing.Any, server: ServerProcess, kind: str) -> None:
    if kind == "small":
        response = pool.request("GET", server.url("/"), extensions=EXTENSIONS)
        assert response.status == 200
        assert response.content == b"Hello, world!"
    elif kind == "bytes":
        response = pool.request("GET", server.url("/bytes/65536"), extensions=EXTENSIONS)
        assert len(response.content) == 65536
    elif kind == "post":
        response = pool.request(
            "POST", server.url("/echo"), content=b"p" * 3000, extensions=EXTENSIONS
        )
        assert response.content == b"p" * 3000
    else:  # close-early
        with pool.stream("GET", server.url("/"), extensions=EXTENSIONS) as response:
            assert response.status == 200


def run_sync(
    mode: str, server: ServerProcess, count: int, threads: int, every: int, rec: Recorder
) -> Failures:
    import httptransport

    http2 = mode.endswith("h2")
    failures = Failures()
    rng = random.Random(f"{mode}-plan")
    plans = [_plan(rng, cancels=False) for _ in range(count)]
    warm = [_plan(rng, cancels=False) for _ in range(200)]
    next_index = 0
    lock = threading.Lock()
    done = 0
    rec.sample(mode, "before", 0)  # no pool yet: what "end" must come back to
    with httptransport.ConnectionPool(http1=not http2, http2=http2, max_connections=8) as pool:

        def worker(work: list[str], report: bool) -> None:
            nonlocal next_index, done
            while True:
                with lock:
                    if next_index >= len(work):
                        return
                    kind = work[next_index]
                    next_index += 1
                try:
                    _sync_one(pool, server, kind)
                except Exception as exc:
                    failures.add(exc)
                with lock:
                    done += 1
                    if report and done % every == 0:
                        rec.sample(mode, "after", done)

        def run(work: list[str], report: bool) -> None:
            workers = [threading.Thread(target=worker, args=(work, report)) for _ in range(threads)]
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join()

        run(warm, False)
        next_index = done = 0
        rec.sample(mode, "start", 0)
        run(plans, True)
    rec.sample(mode, "end", done)
    return failures


async def _async_one(
    pool: typing.Any, server: ServerProcess, kind: str, rng: random.Random, loop: str
) -> None:
    if kind != "cancel":
        response: typing.Any
        if kind == "small":
            response = await pool.request("GET", server.url("/"), extensions=EXTENSIONS)
            assert response.content == b"Hello, world!"
        elif kind == "bytes":
            response = await pool.request("GET", server.url("/bytes/65536"), extensions=EXTENSIONS)
            assert len(response.content) == 65536
        elif kind == "post":
            response = await pool.request(
                "POST", server.url("/echo"), content=b"p" * 3000, extensions=EXTENSIONS
            )
            assert response.content == b"p" * 3000
        else:  # close-early
            async with pool.stream("GET", server.url("/"), extensions=EXTENSIONS) as response:
                assert response.status == 200
        return
    # Cancelled after a random number of scheduling points (the point it lands on
    # varies: queued, connecting, sending, waiting for the head, reading the body).
    import anyio

    steps = rng.randrange(0, 12)
    async with anyio.create_task_group() as tg:

        async def request() -> None:
            response = await pool.request("GET", server.url("/bytes/65536"), extensions=EXTENSIONS)
            assert len(response.content) == 65536

        async def cancel() -> None:
            for _ in range(steps):
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()

        tg.start_soon(request)
        tg.start_soon(cancel)


async def run_async(
    mode: str, server: ServerProcess, count: int, tasks: int, every: int, rec: Recorder, loop: str
) -> Failures:
    import anyio

    import httptransport

    http2 = mode.endswith("h2")
    failures = Failures()
    rng = random.Random(f"{mode}-plan")
    plans = [_plan(rng, cancels=True) for _ in range(count)]
    warm = [_plan(rng, cancels=True) for _ in range(200)]
    done = 0
    rec.sample(mode, "before", 0)  # no pool yet: what "end" must come back to
    async with httptransport.AsyncConnectionPool(
        http1=not http2, http2=http2, max_connections=8
    ) as pool:

        async def run(work: list[str], report: bool) -> None:
            nonlocal done
            queue = iter(work)

            async def worker() -> None:
                nonlocal done
                for kind in queue:
                    try:
                        await _async_one(pool, server, kind, rng, loop)
                    except Exception as exc:
                        failures.add(exc)
                    done += 1
                    if report and done % every == 0:
                        rec.sample(mode, "after", done)

            async with anyio.create_task_group() as tg:
                for _ in range(tasks):
                    tg.start_soon(worker)

        await run(warm, False)
        done = 0
        rec.sample(mode, "start", 0)
        await run(plans, True)
    rec.sample(mode, "end", done)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="only run the server")
    parser.add_argument("--requests", type=int, default=100_000, help="per mode")
    parser.add_argument("--every", type=int, default=10_000, help="sample every N requests")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated")
    parser.add_argument("--threads", type=int, default=8, help="sync modes")
    parser.add_argument("--tasks", type=int, default=32, help="async modes")
    parser.add_argument("--loop", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--json", action="store_true", help="end with a JSON summary line")
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    modes = [m for m in args.modes.split(",") if m]
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    # Import what the modes use before the first measurement.
    import anyio
    import h2.connection  # noqa: F401

    import httptransport  # noqa: F401

    rec = Recorder(quiet=False)
    failed = False
    with ServerProcess() as server:
        first = rec.sample("all", "start", 0)
        summary: dict[str, typing.Any] = {"modes": {}}
        for mode in modes:
            started = time.monotonic()
            if mode.startswith("sync"):
                failures = run_sync(mode, server, args.requests, args.threads, args.every, rec)
            else:
                failures = anyio.run(
                    run_async,
                    mode,
                    server,
                    args.requests,
                    args.tasks,
                    args.every,
                    rec,
                    args.loop,
                    backend=args.loop,
                )
            elapsed = time.monotonic() - started
            start = next(r for r in rec.rows if r["mode"] == mode and r["at"] == "start")
            before = next(r for r in rec.rows if r["mode"] == mode and r["at"] == "before")
            end = rec.rows[-1]
            summary["modes"][mode] = {
                "seconds": round(elapsed, 2),
                "failures": failures.count,
                "failure_examples": failures.examples,
                "before": before,
                "start": start,
                "end": end,
            }
            print(
                f"{mode:9} done   {args.requests} requests in {elapsed:.1f} s;"
                f" rss {start['rss_kib'] / 1024:.1f} -> {end['rss_kib'] / 1024:.1f} MiB,"
                f" fds {start['fds']} (pool open) -> {end['fds']} (closed; {before['fds']} before"
                f" it opened), failures {failures.count}"
                + (f" {failures.examples}" if failures.examples else ""),
                flush=True,
            )
            failed = failed or failures.count > 0 or end["fds"] != before["fds"]
        last = rec.sample("all", "end", 0)
    summary["start"] = first
    summary["end"] = last
    failed = failed or last["fds"] != first["fds"]
    if args.json:
        print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
