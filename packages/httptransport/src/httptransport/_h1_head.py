"""The lean path's HTTP/1.1 heads, with no I/O at all: request heads built straight into
bytes, response heads parsed in the plain case (see :mod:`._async.http11`).

Shared as is by the async and the sync connection (it is sans-IO, not generated), so the
caches below (of response lines and heads, and of request heads) exist once per process.

The lean parser accepts a subset of what RFC 9112 allows and hands everything else to
h11, untouched, so it only has to be right about what it accepts:

* the head is ``start-line *( field-line CRLF ) CRLF`` (section 2.1) with CRLF line
  endings only: a bare CR or LF anywhere sends the head to h11, which rejects or
  tolerates it as the RFC says (section 2.2);
* the status line is ``HTTP/1.1``, a 2xx-9xx code and a reason of visible characters
  (section 4);
* a field line is ``field-name ":" OWS field-value OWS`` (section 5) with a token for
  a name; obsolete line folding (section 5.2) goes to h11;
* the body is framed by exactly one all-digits ``Content-Length`` (section 6.3, rule
  5), or has none by rule (responses to HEAD, 204 and 304: rules 1 and 2); any
  ``Transfer-Encoding`` (rules 3 and 4), several ``Content-Length`` fields or none at
  all (a close-delimited body, rule 8) go to h11.
"""

from __future__ import annotations

import re

from ._headers import is_token, lower_name, valid_h1_value, valid_target
from ._models import Request

__all__ = ("parse_head", "prepare_head")

_NO_BODY_STATUS = frozenset((204, 304))
# h11 refuses a Content-Length of more digits (and int() of thousands of digits is
# slow, then raises ValueError): such a head goes to h11, which rejects it.
_MAX_LENGTH_DIGITS = 20

# A line of a head (status line or field line): visible characters, obs-text, spaces and
# tabs; no CR, LF or other control character (RFC 9112 sections 2.2 and 5.5).
_line_chars = re.compile(rb"[\t\x20-\x7e\x80-\xff]*").fullmatch
# status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 section 4);
# 1xx is left to h11, which skips informational responses.
_status_line = re.compile(rb"HTTP/1\.1 ([2-9][0-9][0-9]) ([\t\x20-\x7e\x80-\xff]*)").fullmatch


def _has_close(value: bytes) -> bool:
    return any(token.strip(b" \t").lower() == b"close" for token in value.split(b","))


def _build_head(request: Request) -> tuple[bytes, int, bool] | None:
    """Build the request head for the lean path (:func:`prepare_head`, uncached).

    Returns:
        ``(head, length, keep_alive)``: ``length`` is the declared Content-Length, or -1
        for chunked. ``None`` when the request must go through h11.
    """
    method = request.method
    if method == b"CONNECT" or is_token(method) is None:
        return None
    target = request.url.target
    if valid_target(target) is None:
        return None
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    length = 0
    framing = 0
    has_host = False
    keep_alive = True
    for name, value in request.headers:
        lowered = lower_name(name)
        if lowered is None or valid_h1_value(value) is None:
            return None
        if lowered == b"host":
            has_host = True
        elif lowered == b"content-length":
            if framing or not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
                return None
            framing = 1
            length = int(value)
        elif lowered == b"transfer-encoding":
            if framing or value.lower() != b"chunked":
                return None
            framing = 2
            length = -1
        elif lowered == b"connection":
            if _has_close(value):
                keep_alive = False
        elif lowered == b"upgrade":
            return None
        parts += (name, b": ", value, b"\r\n")
    if not has_host:
        return None
    parts.append(b"\r\n")
    return b"".join(parts), length, keep_alive


# Lines seen before, parsed: servers repeat most lines word for word across responses
# (the status line, Server, Content-Type, Content-Length, ETag...), so a line is split,
# checked and classified once. Short lines only; emptied when full (Date lines change
# each second). A field line maps to its ``(name, value)`` and what it means for the
# framing (a kind below); a status line to ``(b"HTTP/1.1", reason)`` and its status code
# (200-999, so never taken for a kind).
_lines: dict[bytes, tuple[tuple[bytes, bytes], int]] = {}
_LINES_MAX = 1024
_LINE_CACHED_MAX = 200
# What a header line means for the framing of the response.
_PLAIN, _LENGTH, _CLOSE = 0, 1, 2
_FIRST_STATUS = 200
# Whole heads seen before, parsed (before the request's method is applied): a server
# sends the same head word for word for each response of a kind until its Date line
# changes, each second. Short heads only; emptied when full.
_heads: dict[bytes, tuple[int, bytes, tuple[tuple[bytes, bytes], ...], int, bool]] = {}
_HEADS_MAX = 64
_HEAD_CACHED_MAX = 1024


def _cache(line: bytes, parsed: tuple[tuple[bytes, bytes], int]) -> None:
    if len(line) <= _LINE_CACHED_MAX:
        if len(_lines) >= _LINES_MAX:
            _lines.clear()
        _lines[line] = parsed


def _header_line(line: bytes) -> tuple[tuple[bytes, bytes], int] | None:
    """Split and check one header line: ``((name, value), kind)``, or ``None`` for h11."""
    # field-line = field-name ":" OWS field-value OWS (RFC 9112 section 5); a line that
    # starts with whitespace is obsolete folding (section 5.2) and fails the token check.
    if _line_chars(line) is None:
        return None
    name, colon, value = line.partition(b":")
    if not colon:
        return None
    lowered = lower_name(name)
    if lowered is None:
        return None
    value = value.strip(b" \t")
    kind = _PLAIN
    if lowered == b"content-length":
        if not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
            return None
        kind = _LENGTH
    elif lowered == b"transfer-encoding":
        # Transfer codings (RFC 9112 section 6.1, and section 6.3 rules 3 and 4): h11.
        return None
    elif lowered == b"connection" and _has_close(value):
        kind = _CLOSE
    return (name, value), kind


def parse_head(
    head: bytes, method: bytes
) -> tuple[int, bytes, list[tuple[bytes, bytes]], int, bool] | None:
    """Parse a response head (without its final blank line) on the lean path.

    Returns:
        ``(status, reason, headers, body_length, keep_alive)``, or ``None`` when h11
        must handle this response. ``headers`` is a new list on every call.
    """
    parsed = _heads.get(head)
    if parsed is None:
        parsed = _parse_lines(head)
        if parsed is None:
            return None
        if len(head) <= _HEAD_CACHED_MAX:
            if len(_heads) >= _HEADS_MAX:
                _heads.clear()
            _heads[head] = parsed
    status, reason, headers, length, keep_alive = parsed
    # RFC 9112 section 6.3: a response to HEAD, and 204 and 304, end at the head (rules
    # 1 and 2); otherwise, without a Content-Length the body runs to the close (rule 8),
    # which h11 reads.
    if method == b"HEAD" or status in _NO_BODY_STATUS:
        length = 0
    elif length < 0:
        return None
    return status, reason, list(headers), length, keep_alive


def _parse_lines(
    head: bytes,
) -> tuple[int, bytes, tuple[tuple[bytes, bytes], ...], int, bool] | None:
    """Parse a head line by line: ``(status, reason, headers, length, keep_alive)`` with
    ``length`` -1 when there is no Content-Length, or ``None`` for h11."""
    # Lines end in CRLF only (RFC 9112 section 2.1): a bare CR or LF, or a control
    # character, is left in a line by the split and fails its check, and h11, which
    # applies section 2.2's leniencies or refuses, gets the head. Lines come from the
    # cache already checked.
    lines = head.split(b"\r\n")
    first = lines[0]
    parsed = _lines.get(first)
    if parsed is None or parsed[1] < _FIRST_STATUS:
        match = _status_line(first)
        if match is None:
            return None
        parsed = (b"HTTP/1.1", match.group(2)), int(match.group(1))
        _cache(first, parsed)
    (_, reason), status = parsed
    headers: list[tuple[bytes, bytes]] = []
    length = -1
    keep_alive = True
    for line in lines[1:]:
        parsed = _lines.get(line)
        if parsed is None:
            parsed = _header_line(line)
            if parsed is None:
                return None
            _cache(line, parsed)
        header, kind = parsed
        if kind:
            if kind == _LENGTH:
                # Several Content-Length fields (RFC 9112 section 6.3, rule 5): h11's call.
                if length >= 0:
                    return None
                length = int(header[1])
            elif kind == _CLOSE:
                keep_alive = False
            else:  # a status line where a field line belongs
                return None
        headers.append(header)
    return status, reason, tuple(headers), length, keep_alive


# Request heads built before: a client sends the same head for every request to one URL
# with the same headers, so a head is checked and joined once. Keyed by the method, the
# target and the header pairs, which hold no more bytes than the head itself; heads up
# to _PREPARED_HEAD_MAX bytes only. Emptied when full.
_prepared: dict[tuple[object, ...], tuple[bytes, int, bool]] = {}
_PREPARED_MAX = 64
_PREPARED_HEAD_MAX = 1024


def prepare_head(request: Request) -> tuple[bytes, int, bool] | None:
    """Build the request head for the lean path.

    Returns:
        ``(head, length, keep_alive)``: ``length`` is the declared Content-Length, or -1
        for chunked. ``None`` when the request must go through h11.
    """
    headers = request.headers
    if type(headers) is not list:
        return _build_head(request)
    key = (request.method, request.url.target, *headers)
    try:
        prepared = _prepared.get(key)
    except TypeError:  # a header pair that is not a tuple of bytes (a list, say)
        return _build_head(request)
    if prepared is None:
        prepared = _build_head(request)
        if prepared is not None and len(prepared[0]) <= _PREPARED_HEAD_MAX:
            if len(_prepared) >= _PREPARED_MAX:
                _prepared.clear()
            _prepared[key] = prepared
    return prepared
