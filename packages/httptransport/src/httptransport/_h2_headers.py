"""HTTP/2 header sections, checked and built with no I/O (RFC 9113 section 8.2).

h2's own validation and normalisation of headers is turned off (see
:func:`~httptransport._h2_adapter.new_client_connection`) because it was the largest
cost of a request after HPACK; the two functions here do the same work once per
section: :func:`request_headers` for what we send, :func:`response_fields` for what we
receive. The grammar itself is :mod:`._headers`'.

Both results are pure functions of their input, and a client sees the same sections
over and over (its own requests, sent again; a server's response heads, which from
nginx are even the same decoded block, differing only when its ``date`` ticks), so
each function remembers the sections it accepted in a small table, bounded in entries
and in bytes, keyed by the input itself (compared by equality: names and values are
``bytes``): a section seen before is taken from the table, checked already; anything
it refused is never kept, so malformed input is checked (and refused) every time.
"""

from __future__ import annotations

import typing

from ._exceptions import LocalProtocolError, RemoteProtocolError
from ._h2_adapter import H2
from ._headers import is_token, lower_name, unsafe_h2_value
from ._models import Request

__all__ = (
    "CACHED_SECTION_MAX",
    "SECTIONS_MAX",
    "declared_length",
    "request_headers",
    "reset_error",
    "response_fields",
)

# Request headers that are connection-specific and must not appear in HTTP/2 (RFC 9113
# section 8.2.2); "te" is allowed with the value "trailers" only.
_CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
_SENSITIVE = frozenset((b"authorization", b"proxy-authorization"))

# Sections accepted before, for each function (see the module docstring): at most
# SECTIONS_MAX of them per table (then it starts over), each of at most
# CACHED_SECTION_MAX bytes counted as RFC 7541 counts a header list (name + value + 32
# per field; for a request, its method, scheme, host and target as well), so at most
# 128 fields each. A result holds the bytes of its key (a request's lower-cased names
# come from ``lower_name``'s own table), so a table holds at most
# SECTIONS_MAX * CACHED_SECTION_MAX bytes of names and values, 512 KiB, twice over
# at worst counting key and result apart.
SECTIONS_MAX = 128
CACHED_SECTION_MAX = 4096
_requests: dict[tuple[typing.Any, ...], tuple[tuple[bytes, bytes], ...]] = {}
_heads: dict[tuple[typing.Any, ...], tuple[int, tuple[tuple[bytes, bytes], ...]]] = {}


def reset_error(event: typing.Any) -> RemoteProtocolError:
    """The error a request sees when the server resets its stream (RST_STREAM)."""
    return RemoteProtocolError(f"The server reset the stream ({event.error_code!r}).")


def request_headers(request: Request) -> list[tuple[bytes, bytes]]:
    """The request's HTTP/2 header list: pseudo-headers first, ``:authority`` from Host.

    Does what h2's outbound validation and normalisation would (RFC 9113 section 8.2):
    names lower-cased and checked as tokens, values free of CR, LF, NUL and surrounding
    whitespace, connection-specific fields dropped, and credentials marked never to be
    indexed by HPACK (RFC 7541 section 7.1.3).

    Raises:
        LocalProtocolError: A name or value HTTP/2 cannot carry.
    """
    url = request.url
    fields = request.headers
    if type(fields) is list:
        key = (request.method, url.scheme, url.host, url.port, url.target, *fields)
        try:
            cached = _requests.get(key)
        except TypeError:  # an unhashable name or value: never kept, checked below
            cached = None
        if cached is not None:
            return list(cached)
        result = _request_headers(request)
        if _cacheable(key, 5):
            if len(_requests) >= SECTIONS_MAX:
                _requests.clear()
            _requests[key] = tuple(result)
        return result
    return _request_headers(request)


def _cacheable(key: tuple[typing.Any, ...], start: int) -> bool:
    """Whether a section accepted may be kept: ``key[start:]`` are its fields, the
    items before are the request's other parts (bytes, the port an int or ``None``);
    all of them ``bytes`` and within :data:`CACHED_SECTION_MAX`."""
    size = 0
    for index in range(start):
        part = key[index]
        if type(part) is bytes:
            size += len(part)
        elif part is not None and type(part) is not int:
            return False
    for field in key[start:]:
        if not isinstance(field, tuple) or len(field) != 2:
            return False
        name, value = field
        if type(name) is not bytes or type(value) is not bytes:
            return False
        size += len(name) + len(value) + 32
    return size <= CACHED_SECTION_MAX


def _request_headers(request: Request) -> list[tuple[bytes, bytes]]:
    url = request.url
    authority: bytes | None = None
    fields: list[tuple[bytes, bytes]] = []
    for name, value in request.headers:
        lowered = lower_name(name)
        if lowered is None:
            raise LocalProtocolError(f"Invalid HTTP/2 header name {name!r}.")
        if value and unsafe_h2_value(value) is not None:
            raise LocalProtocolError(f"Invalid HTTP/2 header value for {name!r}.")
        if lowered == b"host":
            if authority is None:
                authority = value
        elif lowered in _CONNECTION_SPECIFIC or (
            lowered == b"te" and value.strip().lower() != b"trailers"
        ):
            continue
        elif lowered in _SENSITIVE:
            fields.append(H2.never_indexed(lowered, value))
        else:
            fields.append((lowered, value))
    if authority is None:
        authority = url.host if url.port is None else b"%b:%d" % (url.host, url.port)
    method = request.method
    if is_token(method) is None:
        raise LocalProtocolError(f"Invalid HTTP/2 method {method!r}.")
    target = url.target
    if not target or unsafe_h2_value(target) is not None or b" " in target:
        raise LocalProtocolError(f"Invalid HTTP/2 request target {target!r}.")
    if method == b"CONNECT":
        return [(b":method", method), (b":authority", authority), *fields]
    return [
        (b":method", method),
        (b":authority", authority),
        (b":scheme", url.scheme),
        (b":path", target),
        *fields,
    ]


def response_fields(
    fields: typing.Iterable[tuple[bytes, bytes]], *, head: bool
) -> tuple[int, list[tuple[bytes, bytes]]]:
    """Check a response head (``head``) or trailer section and split off ``:status``.

    A malformed one (RFC 9113 section 8.1.1) fails the request.

    Raises:
        RemoteProtocolError: The section is malformed.
    """
    if head and type(fields) is list:
        key = tuple(fields)
        try:
            cached = _heads.get(key)
        except TypeError:  # an unhashable name or value: never kept, checked below
            cached = None
        if cached is not None:
            return cached[0], list(cached[1])
        status, headers = _response_fields(key, head)
        if _cacheable(key, 0):
            if len(_heads) >= SECTIONS_MAX:
                _heads.clear()
            _heads[key] = (status, tuple(headers))
        return status, headers
    return _response_fields(fields, head)


def _response_fields(
    fields: typing.Iterable[tuple[bytes, bytes]], head: bool
) -> tuple[int, list[tuple[bytes, bytes]]]:
    status = 0
    headers: list[tuple[bytes, bytes]] = []
    for name, value in fields:
        # Names are lower-case tokens (RFC 9113 section 8.2); lower_name remembers them.
        if lower_name(name) != name:
            if name == b":status" and head and not headers and not status:
                if len(value) != 3 or not value.isdigit():
                    raise RemoteProtocolError(f"Malformed :status {value!r}.")
                status = int(value)
                continue
            raise RemoteProtocolError(f"Malformed response header name {name!r}.")
        if name in _CONNECTION_SPECIFIC:
            raise RemoteProtocolError(f"Malformed response header name {name!r}.")
        if value and unsafe_h2_value(value) is not None:
            raise RemoteProtocolError(f"Malformed value of response header {name!r}.")
        headers.append((name, value))
    if head and not status:
        raise RemoteProtocolError("Response without a :status.")
    return status, headers


def declared_length(fields: list[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length a request's HTTP/2 header list (from :func:`request_headers`)
    declares, or ``None``: the DATA sent must add up to it (RFC 9113 section 8.1.1).

    Raises:
        LocalProtocolError: The value is not a length.
    """
    for name, value in fields:
        if name == b"content-length":
            if not value.isdigit() or len(value) > 20:
                raise LocalProtocolError(f"Invalid Content-Length {value!r}.")
            return int(value)
    return None
