"""The request/response models: ``URL``, ``Origin``, ``Request`` and ``Response``.

They follow httpcore 1.0's models attribute for attribute. Everything on the wire is
``bytes``: methods, URL parts and header names/values given as ``str`` are encoded as
ASCII once, at construction.

A model is built for every request, so construction is kept cheap: classes use
``__slots__``, input that is already in its final form (a ``list`` of ``(bytes, bytes)``
headers, a ``URL`` instance, a ``bytes`` method) is taken as is without a copy, and the
slower conversions only run for other input.

The ``enforce_*`` helpers and :func:`include_request_headers` are what a pool's
``request()``/``stream()`` use to turn loose user input into a :class:`Request`.
"""

from __future__ import annotations

import typing
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from urllib.parse import urlparse

from ._streams import EMPTY_STREAM as _EMPTY_STREAM
from ._streams import AsyncWholeBody, ByteStream, WholeBody
from ._timeouts import head_deadline, time_left, timeouts

__all__ = (
    "DEFAULT_PORTS",
    "URL",
    "AsyncWholeBody",
    "ByteStream",
    "Extensions",
    "HeaderTypes",
    "HeadersAsMapping",
    "HeadersAsSequence",
    "Origin",
    "Request",
    "Response",
    "WholeBody",
    "build_request",
    "enforce_bytes",
    "enforce_headers",
    "enforce_stream",
    "enforce_url",
    "head_deadline",
    "include_request_headers",
    "new_response",
    "time_left",
    "timeouts",
)

HeadersAsSequence = Sequence[tuple[bytes | str, bytes | str]]
HeadersAsMapping = Mapping[bytes | str, bytes | str]
HeaderTypes = HeadersAsSequence | HeadersAsMapping | None
Extensions = MutableMapping[str, typing.Any]

DEFAULT_PORTS: dict[bytes, int] = {
    b"http": 80,
    b"https": 443,
    b"ws": 80,
    b"wss": 443,
    b"socks5": 1080,
    b"socks5h": 1080,
}
"""The port each known scheme implies when a URL names none."""


_TEXT_TYPES: tuple[type[object], ...] = (str, bytes, bytearray)


def enforce_bytes(value: bytes | str, *, name: str) -> bytes:
    """Return ``value`` as bytes, encoding a ``str`` as ASCII.

    Args:
        value: The bytes or text to convert.
        name: What the value is, for the error message (``"method"``, ``"header name"``).

    Raises:
        TypeError: ``value`` is neither bytes nor str, or is text that is not ASCII.
    """
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        try:
            return value.encode("ascii")
        except UnicodeEncodeError:
            raise TypeError(f"{name} strings may not include unicode characters.") from None
    if isinstance(value, bytes):  # a bytes subclass
        return bytes(value)
    raise TypeError(f"{name} must be bytes or str, but got {type(value).__name__}.")


def enforce_url(value: URL | bytes | str, *, name: str) -> URL:
    """Return ``value`` as a :class:`URL`, parsing bytes or text.

    Raises:
        TypeError: ``value`` is not a URL, bytes or str.
    """
    if isinstance(value, URL):
        return value
    if isinstance(value, (bytes, str)):
        return URL(value)
    raise TypeError(f"{name} must be a URL, bytes, or str, but got {type(value).__name__}.")


def enforce_headers(value: HeaderTypes = None, *, name: str) -> list[tuple[bytes, bytes]]:
    """Return headers as a list of ``(name, value)`` byte pairs.

    A ``list`` whose items are already ``(bytes, bytes)`` pairs is returned as is (not
    copied): that is the form pools and clients pass on every request.

    Args:
        value: A mapping, a sequence of two-item pairs, or ``None`` for no headers.
        name: What the value is, for the error message.

    Raises:
        TypeError: ``value`` is of another type, or a name or value is not bytes/str.
        ValueError: An item of a sequence is not a pair.
    """
    if value is None:
        return []
    if type(value) is list:
        # Unpacking checks the pair shape more cheaply than len() and indexing would.
        for k, v in value:
            if type(k) is not bytes or type(v) is not bytes:
                break
        else:
            return typing.cast("list[tuple[bytes, bytes]]", value)
    if isinstance(value, Mapping):
        return [
            (enforce_bytes(k, name="header name"), enforce_bytes(v, name="header value"))
            for k, v in value.items()
        ]
    # Text is a sequence too, but never a header list: reject it with a clear message.
    if isinstance(value, Sequence) and not isinstance(value, _TEXT_TYPES):
        return [
            (enforce_bytes(k, name="header name"), enforce_bytes(v, name="header value"))
            for k, v in value
        ]
    raise TypeError(
        f"{name} must be a mapping or sequence of two-tuples, but got {type(value).__name__}."
    )


def enforce_stream(
    value: bytes | Iterable[bytes] | AsyncIterable[bytes] | None, *, name: str
) -> Iterable[bytes] | AsyncIterable[bytes]:
    """Return a body as a stream: bytes (or nothing) become a :class:`ByteStream`.

    Iterables and async iterables are returned unchanged.

    Args:
        value: The body.
        name: What the value is (unused; kept for symmetry with the other helpers).
    """
    if value is None:
        return _EMPTY_STREAM
    if isinstance(value, bytes):
        return ByteStream(value) if value else _EMPTY_STREAM
    return value


def _host_for_authority(host: bytes) -> bytes:
    # A bare IPv6 address needs brackets before a port can follow it.
    return b"[" + host + b"]" if b":" in host and not host.startswith(b"[") else host


def include_request_headers(
    headers: list[tuple[bytes, bytes]],
    *,
    url: URL,
    content: bytes | Iterable[bytes] | AsyncIterable[bytes] | None,
) -> list[tuple[bytes, bytes]]:
    """Add the headers HTTP/1.1 requires that the caller left out.

    * ``Host`` (first), from the URL; the port only when it is not the scheme's default.
    * With a body: ``Content-Length`` when the body is bytes, else
      ``Transfer-Encoding: chunked``, unless either header is already present.

    Returns:
        A new list when something was added, else ``headers`` itself.
    """
    has_host = has_framing = False
    for key, _ in headers:
        lowered = key.lower()
        if lowered == b"host":
            has_host = True
        elif lowered == b"content-length" or lowered == b"transfer-encoding":
            has_framing = True
    if not has_host:
        headers = [(b"Host", _host_value(url)), *headers]
    if content is not None and not has_framing:
        if isinstance(content, bytes):
            headers = [*headers, (b"Content-Length", b"%d" % len(content))]
        else:
            headers = [*headers, (b"Transfer-Encoding", b"chunked")]
    return headers


class Origin:
    """Where a connection goes: scheme, host and port. Pools key connections by it.

    Equal origins hash equally; ``str()`` gives ``"https://example.com:443"``.
    """

    __slots__ = ("_hash", "host", "port", "scheme")

    def __init__(self, scheme: bytes, host: bytes, port: int) -> None:
        """Create an origin.

        Args:
            scheme: ``b"http"``, ``b"https"``, ...
            host: The host name or IP address, without brackets.
            port: The port, always explicit.
        """
        self.scheme = scheme
        self.host = host
        self.port = port
        self._hash: int | None = None

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Origin)
            and self.scheme == other.scheme
            and self.host == other.host
            and self.port == other.port
        )

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = self._hash = hash((self.scheme, self.host, self.port))
        return h

    def __str__(self) -> str:
        host = _host_for_authority(self.host).decode("ascii")
        return f"{self.scheme.decode('ascii')}://{host}:{self.port}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(scheme={self.scheme!r}, host={self.host!r}, port={self.port!r})"
        )


class URL:
    """A URL split into the parts a request needs: scheme, host, port and target.

    Build it from a whole URL (``URL("https://example.com/path?q=1")``) or from its
    parts (``URL(scheme=b"https", host=b"example.com", port=None, target=b"/")``).
    ``port`` is ``None`` when the URL names none; ``target`` is the path plus query
    (``b"/"`` for an empty path). The fragment and any user info are dropped.
    """

    __slots__ = ("host", "port", "scheme", "target")

    def __init__(
        self,
        url: bytes | str = "",
        *,
        scheme: bytes | str = b"",
        host: bytes | str = b"",
        port: int | None = None,
        target: bytes | str = b"",
    ) -> None:
        """Parse ``url``, or take the parts when ``url`` is empty.

        Raises:
            TypeError: A part is neither bytes nor str, or is non-ASCII text.
            ValueError: The URL's port is not a valid number.
        """
        if url:
            parsed = urlparse(enforce_bytes(url, name="url"))
            self.scheme: bytes = parsed.scheme
            self.host: bytes = parsed.hostname or b""
            self.port: int | None = parsed.port
            path = parsed.path or b"/"
            self.target: bytes = path + b"?" + parsed.query if parsed.query else path
        else:
            self.scheme = enforce_bytes(scheme, name="scheme")
            self.host = enforce_bytes(host, name="host")
            self.port = port
            self.target = enforce_bytes(target, name="target")

    @property
    def origin(self) -> Origin:
        """The URL's origin, with the scheme's default port filled in.

        Raises:
            KeyError: The URL has no port and its scheme has no known default.
        """
        port = self.port
        if port is None:
            port = DEFAULT_PORTS[self.scheme]
        return Origin(self.scheme, self.host, port)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, URL)
            and self.scheme == other.scheme
            and self.host == other.host
            and self.port == other.port
            and self.target == other.target
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like httpcore's

    def __bytes__(self) -> bytes:
        host = _host_for_authority(self.host)
        if self.port is None:
            return b"%b://%b%b" % (self.scheme, host, self.target)
        return b"%b://%b:%d%b" % (self.scheme, host, self.port, self.target)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(scheme={self.scheme!r}, host={self.host!r}, "
            f"port={self.port!r}, target={self.target!r})"
        )


class Request:
    """An HTTP request.

    Attributes:
        method: The method, as bytes (``b"GET"``).
        url: The :class:`URL`.
        headers: A list of ``(name, value)`` byte pairs, in order.
        stream: The body: an iterable and/or async iterable of bytes.
        extensions: Per-request options (``"timeout"``, ``"trace"``, ``"sni_hostname"``,
            ``"target"``).
    """

    __slots__ = ("_deadline", "_whole", "extensions", "headers", "method", "stream", "url")

    def __init__(
        self,
        method: bytes | str,
        url: URL | bytes | str,
        *,
        headers: HeaderTypes = None,
        content: bytes | Iterable[bytes] | AsyncIterable[bytes] | None = None,
        extensions: Extensions | None = None,
    ) -> None:
        """Create a request.

        Headers are taken as given: nothing (not even ``Host``) is added here; see
        :func:`include_request_headers`.

        Args:
            method: The method.
            url: A :class:`URL`, or a whole URL as bytes or str.
            headers: A mapping or a sequence of ``(name, value)`` pairs.
            content: The body: bytes, an iterable or an async iterable of bytes.
            extensions: Per-request options. The ``"target"`` extension replaces the
                URL's target (for ``OPTIONS *`` or absolute-form targets).

        Raises:
            TypeError: An argument has the wrong type.
        """
        self.method: bytes = (
            method if type(method) is bytes else enforce_bytes(method, name="method")
        )
        self.url: URL = url if type(url) is URL else enforce_url(url, name="url")
        self.headers: list[tuple[bytes, bytes]] = enforce_headers(headers, name="headers")
        self.stream: Iterable[bytes] | AsyncIterable[bytes] = enforce_stream(
            content, name="content"
        )
        self.extensions: Extensions = {} if extensions is None else extensions
        # When its ``total`` timeout runs out (time.monotonic()), fixed by timeouts().
        self._deadline: float | None = None
        # Whether its whole body is read at once (``request()``): a body that came whole
        # with the head may then be taken at once (the response is complete).
        self._whole = False
        if "target" in self.extensions:
            self.url = _retargeted(self.url, self.extensions["target"])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.method!r}]>"


def _retargeted(url: URL, target: bytes | str) -> URL:
    """``url`` with the ``target`` extension's target instead of its own."""
    return URL(scheme=url.scheme, host=url.host, port=url.port, target=target)


class Response:
    """An HTTP response, whose body may still be streaming.

    Attributes:
        status: The status code.
        headers: A list of ``(name, value)`` byte pairs, in order.
        stream: The body: an iterable (sync pools) or async iterable (async pools).
        extensions: Extra information (``"http_version"``, ``"reason_phrase"``,
            ``"network_stream"``).
    """

    __slots__ = ("_content", "_stream_consumed", "extensions", "headers", "status", "stream")

    def __init__(
        self,
        status: int,
        *,
        headers: HeaderTypes = None,
        content: bytes | Iterable[bytes] | AsyncIterable[bytes] | None = None,
        extensions: Extensions | None = None,
    ) -> None:
        """Create a response.

        Args:
            status: The status code.
            headers: A mapping or a sequence of ``(name, value)`` pairs.
            content: The body: bytes, an iterable or an async iterable of bytes.
            extensions: Extra information about the response.

        Raises:
            TypeError: ``headers`` has the wrong type.
        """
        self.status: int = status
        self.headers: list[tuple[bytes, bytes]] = enforce_headers(headers, name="headers")
        self.stream: Iterable[bytes] | AsyncIterable[bytes] = enforce_stream(
            content, name="content"
        )
        self.extensions: Extensions = {} if extensions is None else extensions
        self._content: bytes | None = None
        self._stream_consumed = False

    @property
    def content(self) -> bytes:
        """The whole body, once :meth:`read` or :meth:`aread` has run.

        Raises:
            RuntimeError: The body has not been read yet.
        """
        content = self._content
        if content is None:
            if isinstance(self.stream, Iterable):
                raise RuntimeError(
                    "Attempted to access 'response.content' on a streaming response. "
                    "Call 'response.read()' first."
                )
            raise RuntimeError(
                "Attempted to access 'response.content' on a streaming response. "
                "Call 'await response.aread()' first."
            )
        return content

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.status}]>"

    # -- sync -----------------------------------------------------------------------

    def read(self) -> bytes:
        """Read the rest of the body and return all of it; later calls return it again.

        Raises:
            RuntimeError: The body is an async stream (use :meth:`aread`).
        """
        if self._content is None:
            stream = self.stream
            if not isinstance(stream, (WholeBody, Iterable)):
                raise RuntimeError(
                    "'response.read()' cannot read an async response body; "
                    "use 'await response.aread()'."
                )
            if self._stream_consumed:
                raise RuntimeError("'response.iter_stream()' may only be iterated once.")
            self._stream_consumed = True
            # As iter_stream() would, without a generator around the stream.
            self._content = stream.read() if isinstance(stream, WholeBody) else b"".join(stream)
        return self._content

    def iter_stream(self) -> Iterator[bytes]:
        """Yield the body chunk by chunk, as it arrives. Only once per response.

        Raises:
            RuntimeError: The body is an async stream, or was already iterated.
        """
        stream = self.stream
        if not isinstance(stream, Iterable):
            raise RuntimeError(
                "'response.iter_stream()' cannot stream an async response body; "
                "use 'async for ... in response.aiter_stream()'."
            )
        if self._stream_consumed:
            raise RuntimeError("'response.iter_stream()' may only be iterated once.")
        self._stream_consumed = True
        yield from stream

    def close(self) -> None:
        """Release the connection: call the stream's ``close()`` if it has one.

        Raises:
            RuntimeError: The body is an async stream (use :meth:`aclose`).
        """
        stream = self.stream
        if isinstance(stream, WholeBody):
            stream.close()
            return
        if not isinstance(stream, Iterable):
            raise RuntimeError(
                "'response.close()' cannot close an async response; use 'await response.aclose()'."
            )
        close = getattr(stream, "close", None)
        if close is not None:
            close()

    # -- async ----------------------------------------------------------------------

    async def aread(self) -> bytes:
        """Read the rest of the body and return all of it; later calls return it again.

        Raises:
            RuntimeError: The body is a sync-only stream (use :meth:`read`).
        """
        if self._content is None:
            stream = self.stream
            if not isinstance(stream, (AsyncWholeBody, AsyncIterable)):
                raise RuntimeError(
                    "'await response.aread()' cannot read a sync response body; "
                    "use 'response.read()'."
                )
            if self._stream_consumed:
                raise RuntimeError("'response.aiter_stream()' may only be iterated once.")
            self._stream_consumed = True
            # As aiter_stream() would, without an async generator around the stream.
            self._content = (
                await stream.aread()
                if isinstance(stream, AsyncWholeBody)
                else b"".join([chunk async for chunk in stream])
            )
        return self._content

    async def aiter_stream(self) -> AsyncIterator[bytes]:
        """Yield the body chunk by chunk, as it arrives. Only once per response.

        Raises:
            RuntimeError: The body is a sync-only stream, or was already iterated.
        """
        stream = self.stream
        if not isinstance(stream, AsyncIterable):
            raise RuntimeError(
                "'response.aiter_stream()' cannot stream a sync response body; "
                "use 'for ... in response.iter_stream()'."
            )
        if self._stream_consumed:
            raise RuntimeError("'response.aiter_stream()' may only be iterated once.")
        self._stream_consumed = True
        async for chunk in stream:
            yield chunk

    async def aclose(self) -> None:
        """Release the connection: await the stream's ``aclose()`` if it has one.

        Raises:
            RuntimeError: The body is a sync-only stream (use :meth:`close`).
        """
        stream = self.stream
        if isinstance(stream, AsyncWholeBody):
            await stream.aclose()
            return
        if not isinstance(stream, AsyncIterable):
            raise RuntimeError(
                "'await response.aclose()' cannot close a sync response; use 'response.close()'."
            )
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


_new_object = object.__new__


def new_response(
    status: int,
    headers: list[tuple[bytes, bytes]],
    stream: Iterable[bytes] | AsyncIterable[bytes],
    extensions: Extensions,
) -> Response:
    """A :class:`Response` from parts already in their final form, taken as they are
    (no checks, no copies): what a connection builds for each response. (The HTTP/1.1
    connection's hot path repeats these lines inline: keep the two in step.)"""
    response: Response = _new_object(Response)
    response.status = status
    response.headers = headers
    response.stream = stream
    response.extensions = extensions
    response._content = None
    response._stream_consumed = False
    return response


# Parsed URL strings: clients send many requests to few URLs, and parsing costs more
# than everything else in building a request. Each hit still builds a new URL object.
# Bounded in entries and in bytes: only URLs up to _CACHED_URL_MAX characters are kept.
# Each entry also keeps the URL's ``Host`` header value (_host_value()), so a request
# with no headers of its own needs no formatting.
_parsed_urls: dict[bytes | str, tuple[bytes, bytes, int | None, bytes, bytes]] = {}
_PARSED_URLS_MAX = 512
_CACHED_URL_MAX = 2048


def _cached_url(url: URL | bytes | str) -> URL:
    if isinstance(url, (str, bytes)):
        parts = _parsed_urls.get(url)
        if parts is None:
            parsed = enforce_url(url, name="url")
            if len(url) > _CACHED_URL_MAX:
                return parsed
            if len(_parsed_urls) >= _PARSED_URLS_MAX:
                _parsed_urls.clear()
            _parsed_urls[url] = (
                parsed.scheme,
                parsed.host,
                parsed.port,
                parsed.target,
                _host_value(parsed),
            )
            return parsed
        # The parts were checked when cached: set them as they are.
        copy: URL = _new_object(URL)
        copy.scheme, copy.host, copy.port, copy.target, _ = parts
        return copy
    return enforce_url(url, name="url")


def _host_value(url: URL) -> bytes:
    """The ``Host`` header's value for ``url``: what include_request_headers() adds."""
    host = _host_for_authority(url.host)
    port = url.port
    if port is not None and port != DEFAULT_PORTS.get(url.scheme):
        host = b"%b:%d" % (host, port)
    return host


# The methods given as text that most requests use, already encoded.
_TEXT_METHODS: dict[str, bytes] = {
    method: method.encode("ascii")
    for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE")
}


def build_request(
    method: bytes | str,
    url: URL | bytes | str,
    headers: HeaderTypes,
    content: typing.Any,
    extensions: Extensions | None,
    whole: bool = False,
) -> Request:
    """The request a pool's ``request()`` (``whole``: its body is read at once) or
    ``stream()`` sends.

    Arguments are checked and coerced as :class:`Request` does; ``Host`` and the body's
    framing header are added when missing (:func:`include_request_headers`).
    """
    # (_cached_url(), with its hit inline)
    parts = _parsed_urls.get(url) if type(url) is str or type(url) is bytes else None
    if parts is None:
        url = _cached_url(url)
        host = None
    else:
        url = _new_object(URL)
        url.scheme, url.host, url.port, url.target, host = parts
    if headers is None and content is None:
        # What include_request_headers([], ...) returns: the Host header alone.
        header_list = [(b"Host", _host_value(url) if host is None else host)]
    else:
        header_list = include_request_headers(
            enforce_headers(headers, name="headers"), url=url, content=content
        )
    # As Request(...) would build it, without checking the checked parts again.
    request: Request = _new_object(Request)
    if type(method) is bytes:
        request.method = method
    else:
        request.method = (type(method) is str and _TEXT_METHODS.get(method)) or enforce_bytes(
            method, name="method"
        )
    request.url = url
    request.headers = header_list
    request.stream = _EMPTY_STREAM if content is None else enforce_stream(content, name="content")
    request.extensions = {} if extensions is None else extensions
    request._deadline = None
    request._whole = whole
    if "target" in request.extensions:
        request.url = _retargeted(url, request.extensions["target"])
    return request
