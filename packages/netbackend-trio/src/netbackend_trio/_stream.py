"""The stream returned by :class:`~netbackend_trio.TrioBackend`."""

from __future__ import annotations

import errno
import socket
import ssl
import types
import typing
from collections.abc import Generator

import trio

from netbackend_base import (
    AsyncNetworkStream,
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
    poll_readable,
    socket_info,
    tls_failure_message,
)

__all__ = ("LIBRARY_ERRORS", "TrioStream", "describe")

# Everything trio (or the OS, or the TLS layer) may raise for a broken or closed
# stream. ssl.SSLError is an OSError.
LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.BusyResourceError,
)


def describe(exc: BaseException) -> str:
    """Render an exception as ``"Type: text"`` for the message of the mapped one."""
    text = str(exc)
    if not text and exc.__cause__ is not None:
        # trio wraps TLS failures in BrokenResourceError; the cause says what happened.
        return f"{type(exc).__name__}: {describe(exc.__cause__)}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# The trio calls of the plain-socket path, bound once (each is a public trio function).
_checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled
_cancel_shielded_checkpoint = trio.lowlevel.cancel_shielded_checkpoint
_wait_readable = trio.lowlevel.wait_readable
_wait_writable = trio.lowlevel.wait_writable


# The plain path's cancellation check and schedule point are the two functions above,
# written out: checkpoint_if_cancelled()'s test as a plain function (_must_check: the
# task's cancel status, then the count trio.testing.assert_checkpoints reads), and
# cancel_shielded_checkpoint() as a trap of our own that drops the Value(None) the
# scheduler resumes it with instead of unwrapping it. No coroutine of trio's, no
# current_task() call, no outcome bookkeeping: about 5% fewer instructions per pooled
# HTTP/1.1 request (trio, 100 tasks on 10 connections). This reads trio internals (the
# run context, a task's cancel status and checkpoint count, the scheduler's message), so
# it is on only while trio's own three functions are written in exactly those terms
# (their code's names, checked once at import); otherwise every check and schedule point
# goes through the public functions.
_CHECK_NAMES = {
    "current_task": {"GLOBAL_RUN_CONTEXT", "task", "AttributeError", "RuntimeError"},
    "checkpoint_if_cancelled": {
        "current_task",
        "_cancel_status",
        "effectively_cancelled",
        "_runner",
        "main_task",
        "ki_pending",
        "_core",
        "checkpoint",
        "AssertionError",
        "_cancel_points",
    },
    "cancel_shielded_checkpoint": {"_async_yield", "CancelShieldedCheckpoint", "unwrap"},
}


def _trio_internals() -> tuple[typing.Any, typing.Any, type] | None:
    """trio's run context, schedule-point message and the outcome type its scheduler
    sends back, if its checkpoint functions are still written in the terms the plain
    path copies; ``None`` if not."""
    try:
        from trio._core import _run
        from trio._core._run import GLOBAL_RUN_CONTEXT
        from trio._core._traps import CancelShieldedCheckpoint
    except ImportError:
        return None
    # What Runner.reschedule sends back by default (outcome's Value, trio's dependency).
    value = getattr(_run, "Value", None)
    for name, names in _CHECK_NAMES.items():
        code = getattr(getattr(trio.lowlevel, name), "__code__", None)
        if code is None or set(code.co_names) != names:
            return None
    globals_ = trio.lowlevel.current_task.__globals__
    traps = trio.lowlevel.cancel_shielded_checkpoint.__globals__
    if (
        globals_.get("GLOBAL_RUN_CONTEXT") is not GLOBAL_RUN_CONTEXT
        or traps.get("CancelShieldedCheckpoint") is not CancelShieldedCheckpoint
        or not isinstance(value, type)
        or (value.__module__, value.__qualname__) != ("outcome", "Value")
    ):
        return None
    return GLOBAL_RUN_CONTEXT, CancelShieldedCheckpoint, value


_internals = _trio_internals()
# Where the plain path finds the current task (``.task``, as current_task() does); None
# while the lean check is off, so that _must_check() always sends the check to trio.
_run_context: typing.Any = None if _internals is None else _internals[0]
_SCHEDULE_MESSAGE: typing.Any = None if _internals is None else _internals[1]
_VALUE: type = type(None) if _internals is None else _internals[2]


def _must_check() -> bool:
    """``checkpoint_if_cancelled()``'s test, without a coroutine: ``True`` when trio's own
    call must run (the task is cancelled or a KeyboardInterrupt is pending, or the
    check is off or there is no trio run here: it then does what trio does); otherwise
    the cancel point is counted, as trio counts it, and ``False``."""
    try:
        task = _run_context.task
    except AttributeError:  # (off, or no trio run in this thread: trio's call says so)
        return True
    if task._cancel_status.effectively_cancelled or task._runner.ki_pending:
        return True
    task._cancel_points += 1
    return False


@types.coroutine
def _lean_schedule_point() -> Generator[typing.Any, typing.Any, None]:
    """``cancel_shielded_checkpoint()`` as one trap: trio puts the task straight back
    on its run queue, and resumes it with ``outcome.Value(None)``."""
    result = yield _SCHEDULE_MESSAGE
    if type(result) is not _VALUE:
        # Never, from trio as it is. Unwrapping the Value(None) would only mark it used
        # before it is dropped: two calls, about 2% of a pooled request.
        result.unwrap()


# A schedule point that is not a cancel point (after a call that moved bytes).
_schedule_point: typing.Callable[[], typing.Awaitable[None]] = (
    _cancel_shielded_checkpoint if _internals is None else _lean_schedule_point
)

# What trio.SocketStream reports for an OSError of a closed socket (EBADF; Windows:
# ENOTSOCK) and for a second task sending while one waits; the plain path reports the same.
_CLOSED_ERRNOS = frozenset({errno.EBADF, errno.ENOTSOCK})
_SEND_CONFLICT = "another task is currently sending data on this SocketStream"


def _socket_error(exc: OSError) -> str:
    """The message for ``exc`` from a plain socket, as trio.SocketStream words it."""
    if exc.errno in _CLOSED_ERRNOS:
        return "ClosedResourceError: this socket was already closed"
    return f"BrokenResourceError: socket connection broken: {exc}"


class TrioStream(AsyncNetworkStream):
    """A TCP, Unix or TLS byte stream driven by trio.

    Over a plain ``trio.SocketStream``, ``read`` and ``write`` call the OS socket
    directly, the way trio's own socket methods do: a cancellation check, the
    non-blocking call, and a schedule point when it succeeded at once; only a call that
    has to wait for the socket waits for it, and only such a wait opens a cancel scope
    for ``timeout``. Over TLS they go to the ``trio.SSLStream``, with a cancel scope per
    call when ``timeout`` is set. ``timeout=None`` never opens a cancel scope.

    One deliberate exception to "every call is a full checkpoint": a plain read that
    finds data at once, when the last call on this stream was a write that ended in a
    schedule point, is a cancel point but not a schedule point. That is a request
    followed by its response: the write already let every other task run (which is what
    gives the peer time to answer), and a second trip through trio's scheduler before
    the response is handed back costs time and nothing else (about a tenth of a pooled
    HTTP/1.1 request). Cancellation is unchanged: every read and write checks for it
    before any byte moves, and a read that has to wait still parks. A task still passes
    a schedule point in or between any two consecutive calls it makes on the stream (a
    write marks the stream only after its own; a read clears the mark; and if another
    task's write set it, this task had yielded for that write to run), so a loop of
    reads and writes lets other tasks run, and deadlines fire, at least every second call.
    """

    __slots__ = (
        "_closed",
        "_plain",
        "_raw",
        "_sending",
        "_ssl_object",
        "_stream",
        "_yielded",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        raw_socket: socket.socket,
        ssl_object: ssl.SSLObject | None = None,
    ) -> None:
        """Wrap ``stream``, whose innermost transport is ``raw_socket``.

        Args:
            stream: The trio stream to read from and write to; this object owns it.
            raw_socket: The OS socket under ``stream`` (also under every TLS layer).
            ssl_object: The outermost TLS layer's SSL object, if any.
        """
        self._stream = stream
        self._raw = raw_socket
        self._ssl_object = ssl_object
        self._closed = False
        # A trio.SocketStream straight over raw_socket: read and write use the socket.
        self._plain = isinstance(stream, trio.SocketStream)
        # A write of the plain path is waiting for the socket to take the rest.
        self._sending = False
        # The last call on this stream was a write that ended in a schedule point: the
        # next read need not be one too (see the class docstring).
        self._yielded = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Receive up to ``max_bytes`` bytes; ``b""`` at EOF.

        Raises:
            ReadTimeout: Nothing arrived within ``timeout``.
            ReadError: The connection broke, was closed, or the TLS layer failed.
        """
        if self._plain and (timeout is None or timeout > 0):
            if max_bytes < 1:
                raise ValueError("max_bytes must be >= 1")
            yielded = self._yielded
            self._yielded = False
            if _must_check():
                await _checkpoint_if_cancelled()
            try:
                data = self._raw.recv(max_bytes)
            except BlockingIOError:
                return await self._wait_and_recv(max_bytes, timeout)
            except OSError as exc:
                raise ReadError(_socket_error(exc)) from exc
            if not yielded:
                await _schedule_point()
            return data
        try:
            # Typed bytes | bytearray, but SocketStream and SSLStream both return bytes.
            if timeout is None:
                return await self._stream.receive_some(max_bytes)  # type: ignore[return-value]
            with trio.move_on_after(timeout):
                return await self._stream.receive_some(max_bytes)  # type: ignore[return-value]
        except LIBRARY_ERRORS as exc:
            raise ReadError(describe(exc)) from exc
        raise ReadTimeout(f"no data received within {timeout} seconds")

    async def _wait_and_recv(self, max_bytes: int, timeout: float | None) -> bytes:
        """The plain path once ``recv`` found nothing: wait until the socket has some."""
        try:
            if timeout is None:
                return await self._recv_when_readable(max_bytes)
            with trio.move_on_after(timeout):
                return await self._recv_when_readable(max_bytes)
        except OSError as exc:
            raise ReadError(_socket_error(exc)) from exc
        except LIBRARY_ERRORS as exc:  # closed by another task, or two readers
            raise ReadError(describe(exc)) from exc
        raise ReadTimeout(f"no data received within {timeout} seconds")

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer`` (an empty buffer is a no-op).

        Raises:
            WriteTimeout: Not all of it could be sent within ``timeout``.
            WriteError: The connection broke, was closed, or the TLS layer failed.
        """
        if not buffer:
            return
        if self._plain and (timeout is None or timeout > 0):
            if self._sending:
                raise WriteError(f"BusyResourceError: {_SEND_CONFLICT}")
            self._yielded = False
            if _must_check():
                await _checkpoint_if_cancelled()
            try:
                sent = self._raw.send(buffer)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise WriteError(_socket_error(exc)) from exc
            if sent == len(buffer):
                await _schedule_point()
                self._yielded = True
                return
            await self._wait_and_send(memoryview(buffer)[sent:], timeout)
            return
        try:
            if timeout is None:
                await self._stream.send_all(buffer)
                return
            with trio.move_on_after(timeout):
                await self._stream.send_all(buffer)
                return
        except LIBRARY_ERRORS as exc:
            raise WriteError(describe(exc)) from exc
        raise WriteTimeout(f"could not send within {timeout} seconds")

    async def _wait_and_send(self, rest: memoryview, timeout: float | None) -> None:
        """The plain path once the socket took only part: send the rest as it drains."""
        self._sending = True
        try:
            if timeout is None:
                await self._send_rest(rest)
                return
            with trio.move_on_after(timeout):
                await self._send_rest(rest)
                return
        except OSError as exc:
            raise WriteError(_socket_error(exc)) from exc
        except LIBRARY_ERRORS as exc:  # closed by another task
            raise WriteError(describe(exc)) from exc
        finally:
            self._sending = False
            rest.release()
        raise WriteTimeout(f"could not send within {timeout} seconds")

    async def _recv_when_readable(self, max_bytes: int) -> bytes:
        sock = self._raw
        while True:
            await _wait_readable(sock)
            try:
                return sock.recv(max_bytes)
            except BlockingIOError:
                pass

    async def _send_rest(self, rest: memoryview) -> None:
        sock = self._raw
        total = len(rest)
        done = 0
        while done < total:
            await _wait_writable(sock)
            # Each slice is released at once, so that a bytearray the caller passed can
            # be resized again as soon as write returns (or raises).
            with rest[done:] as remaining:
                try:
                    done += sock.send(remaining)
                except BlockingIOError:
                    pass

    async def aclose(self) -> None:
        """Close the stream (and every layer under it) and release the socket.

        Never raises and never waits for the peer; calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        try:
            # Forceful: no TLS closing handshake, and immediate even when the caller is
            # being cancelled.
            await trio.aclose_forcefully(self._stream)
        except Exception:
            # trio could not close it: release the descriptor directly.
            self._raw.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> TrioStream:
        """Run a TLS client handshake over this stream (TLS-in-TLS included).

        ``ssl_context`` is used as given (ALPN protocols, verification), never modified.
        The returned stream owns this one; on failure or cancellation this one is closed.

        Args:
            ssl_context: The client context.
            server_hostname: Sent as SNI and checked against the certificate when the
                context checks host names.
            timeout: Limit for the whole handshake.

        Returns:
            The TLS stream.

        Raises:
            ConnectTimeout: The handshake did not finish within ``timeout``.
            ConnectError: The handshake failed (certificate, host name, peer closed).
        """
        # HTTP detects truncation itself: a missing close_notify is a plain EOF.
        tls = trio.SSLStream(
            self._stream, ssl_context, server_hostname=server_hostname, https_compatible=True
        )
        done = False
        try:
            if timeout is None:
                await tls.do_handshake()
                done = True
            else:
                with trio.move_on_after(timeout):
                    await tls.do_handshake()
                    done = True
        except LIBRARY_ERRORS as exc:
            await self.aclose()
            raise ConnectError(tls_failure_message(exc, server_hostname)) from exc
        except BaseException:
            await self.aclose()
            raise
        if not done:
            await self.aclose()
            raise ConnectTimeout(f"TLS handshake did not finish within {timeout} seconds")
        # trio keeps its SSLObject private; it is the object the contract asks for.
        ssl_object: ssl.SSLObject = tls._ssl_object
        return TrioStream(tls, self._raw, ssl_object)

    def get_extra_info(self, info: str) -> typing.Any:
        """Return ``ssl_object``, ``client_addr``, ``server_addr``, ``socket`` or ``is_readable``.

        Any other key, or an address asked of a closed stream, returns ``None``.
        """
        if info == "ssl_object":
            return self._ssl_object
        if info == "is_readable":
            return self._is_readable()
        return socket_info(self._raw, info)

    def _is_readable(self) -> bool:
        if self._ssl_object is not None and self._ssl_object.pending():
            return True
        return poll_readable(self._raw)
