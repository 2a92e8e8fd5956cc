"""The grammar of header fields, shared by HTTP/1.1, HTTP/2 and the proxies (no I/O).

Names (RFC 9110 section 5.1) are tokens (section 5.6.2). Values are checked against
one of three rules, each named for where it applies:

* :func:`valid_h1_value`: what h11 accepts in a request it sends (RFC 9110 section
  5.5): visible characters and obs-text, with spaces and tabs only between them;
* :func:`unsafe_h2_value`: what HTTP/2 forbids in any value (RFC 9113 section 8.2.1):
  CR, LF or NUL anywhere, or whitespace at either end;
* :func:`breaks_line`: what would break a head written by hand (a proxy's
  ``CONNECT``): CR, LF or NUL anywhere.

Header names repeat from message to message, so :func:`lower_name` remembers the
lower-case form of the names it has checked. The cache is bounded in entries and in
bytes: only names up to :data:`CACHED_NAME_MAX` bytes are kept, at most
:data:`NAMES_MAX` of them, so it never holds more than about 400 KiB (each name and
its lower-case copy) however hostile the peer. A name that fails the check is never cached.
"""

from __future__ import annotations

import re

__all__ = (
    "CACHED_NAME_MAX",
    "NAMES_MAX",
    "breaks_line",
    "is_lower_token",
    "is_token",
    "length_mismatch",
    "lower_name",
    "unsafe_h2_value",
    "valid_h1_value",
    "valid_target",
)

# tchar (RFC 9110 section 5.6.2).
is_token = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+").fullmatch
is_lower_token = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-z]+").fullmatch
valid_h1_value = re.compile(rb"(?:[\x21-\x7e\x80-\xff](?:[ \t]*[\x21-\x7e\x80-\xff])*)?").fullmatch
unsafe_h2_value = re.compile(rb"[\r\n\x00]|^[ \t]|[ \t]$").search
breaks_line = re.compile(rb"[\r\n\x00]").search
# A request target as h11 sends it: visible ASCII only, no whitespace, control
# characters or obs-text (RFC 9112 section 3.2; RFC 3986 has no raw bytes above 0x7e).
valid_target = re.compile(rb"[\x21-\x7e]+").fullmatch

NAMES_MAX = 2048
CACHED_NAME_MAX = 100
# Header names checked before, mapped to their lower-case form.
_names: dict[bytes, bytes] = {}


def lower_name(name: bytes) -> bytes | None:
    """The lower-case form of a header name, or ``None`` if it is not a token."""
    lowered = _names.get(name)
    if lowered is None:
        if is_token(name) is None:
            return None
        lowered = name.lower()
        if len(_names) < NAMES_MAX and len(name) <= CACHED_NAME_MAX:
            _names[name] = lowered
    return lowered


def length_mismatch(sent: int, declared: int) -> str:
    """The message for a request body that does not match its declared Content-Length
    (RFC 9112 section 6.3; RFC 9113 section 8.1.1), for HTTP/1.1 and HTTP/2 alike."""
    if sent > declared:
        return f"Too much data for declared Content-Length ({sent} > {declared} bytes)."
    return f"Too little data for declared Content-Length ({sent} < {declared} bytes)."
