"""TLS session resumption: sessions remembered per SSL context and per server.

A resumed handshake skips the certificate exchange and its verification (the costliest
part of a new TLS connection on the client), as browsers and curl do. A session is
offered again only through the same ``SSLContext`` (Python refuses any other, and the
context carries the verification settings) and only to the same server: the key is the
server name the certificate was checked against plus the address and port connected to,
and the context's verification settings at the time (so a session made with checks off
is not resumed after they are turned on).
Nothing is sent early (no 0-RTT data).
"""

from __future__ import annotations

import collections
import itertools
import ssl
import threading
import time
import typing

__all__ = ("REFUSAL_MEMORY", "SESSIONS", "SessionCache", "SessionKey", "resumable")

# How long a server that did not resume an offered session is offered none (seconds).
REFUSAL_MEMORY = 600.0

# (server name, (address, port), (verify_mode, check_hostname))
SessionKey = tuple[str | None, typing.Any, tuple[ssl.VerifyMode, bool]]


_Sessions = collections.OrderedDict[SessionKey, "ssl.SSLSession | float"]
# The attribute of an SSLContext that holds its sessions, one table per cache.
_ATTRIBUTE = "_netbackend_sessions"
_cache_ids = itertools.count()


class SessionCache:
    """The latest resumable session per (context, server), a bounded number per context.

    Thread-safe. The sessions live on their context (in an attribute of its own), not in
    the cache: a session holds its context, so a table of the cache's own, even keyed
    weakly by context, would keep every context it ever saw alive. On the context they
    make a cycle with it that the garbage collector frees with the context.
    """

    def __init__(self, per_context: int = 256) -> None:
        self._limit = per_context
        self._lock = threading.Lock()
        self._id = next(_cache_ids)

    def _sessions(self, context: ssl.SSLContext, create: bool) -> _Sessions | None:
        """This cache's table on ``context``: key -> the session, or the time until
        which the server is taken to refuse resumption."""
        tables: dict[int, _Sessions] | None = context.__dict__.get(_ATTRIBUTE)
        if tables is None:
            if not create:
                return None
            tables = {}
            setattr(context, _ATTRIBUTE, tables)
        sessions = tables.get(self._id)
        if sessions is None and create:
            sessions = tables[self._id] = collections.OrderedDict()
        return sessions

    def get(
        self, context: ssl.SSLContext, key: SessionKey
    ) -> ssl.SSLSession | typing.Literal[False] | None:
        """The session to offer to ``key`` through ``context``.

        Returns ``None`` when none is remembered, and ``False`` while the server is
        known to refuse resumption (then there is nothing to offer or to remember).
        """
        with self._lock:
            sessions = self._sessions(context, create=False)
            if sessions is None:
                return None
            entry = sessions.get(key)
            if isinstance(entry, float):
                if time.monotonic() < entry:
                    return False
                del sessions[key]
                return None
            return entry

    def put(self, context: ssl.SSLContext, key: SessionKey, session: ssl.SSLSession) -> None:
        """Remember ``session`` for ``key``; the least recently stored one goes when full."""
        self._store(context, key, session)

    def refuse(self, context: ssl.SSLContext, key: SessionKey) -> None:
        """The server will not resume: offer no session and keep none for a while.

        Called when the server did not resume the session offered (offering a session
        the server will not take makes the handshake slower than offering none: seen
        with servers whose session cache and tickets are off), and when a connection's
        session could not be resumed at all (a TLS 1.3 server that sends no ticket):
        looking at a session copies it, so a server that gives none is not asked again.
        """
        self._store(context, key, time.monotonic() + REFUSAL_MEMORY)

    def _store(
        self, context: ssl.SSLContext, key: SessionKey, entry: ssl.SSLSession | float
    ) -> None:
        with self._lock:
            sessions = self._sessions(context, create=True)
            assert sessions is not None
            sessions[key] = entry
            sessions.move_to_end(key)
            if len(sessions) > self._limit:
                sessions.popitem(last=False)

    def discard(self, context: ssl.SSLContext, key: SessionKey) -> None:
        """Forget the session for ``key`` (say, after a handshake that offered it failed)."""
        with self._lock:
            sessions = self._sessions(context, create=False)
            if sessions is not None:
                sessions.pop(key, None)


def resumable(ssl_object: ssl.SSLObject) -> ssl.SSLSession | None:
    """The connection's session if a later handshake could resume it, else ``None``.

    TLS 1.3 sessions become resumable when the server's ticket arrives (after the
    handshake, with the first data); TLS 1.2 ones when the handshake ends, by ticket or
    by session id.
    """
    session = ssl_object.session
    if session is None:
        return None
    if session.has_ticket or (ssl_object.version() != "TLSv1.3" and session.id):
        return session
    return None


# The process-wide cache that SyncBackend streams use unless told not to.
SESSIONS = SessionCache()
