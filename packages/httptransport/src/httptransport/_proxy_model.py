"""The :class:`Proxy` model: where to send requests instead of their origin.

A pool given ``proxy=Proxy(...)`` routes every request through that proxy; the
``HTTPProxy`` and ``SOCKSProxy`` pools take the same settings as separate arguments.
Both go through :func:`parse_proxy_url`, so credentials written into the URL
(``http://user:secret@proxy:3128``) work everywhere, while the :class:`URL` model
itself keeps dropping user info as it does for request URLs.
"""

from __future__ import annotations

import base64
import ssl
from urllib.parse import unquote_to_bytes, urlsplit

from ._exceptions import LocalProtocolError
from ._headers import breaks_line, is_token
from ._models import URL, HeaderTypes, enforce_bytes, enforce_headers

__all__ = (
    "HTTP_PROXY_SCHEMES",
    "PROXY_AUTHORIZATION",
    "SOCKS_PROXY_SCHEMES",
    "Proxy",
    "RedactedHeaders",
    "authority",
    "basic_auth_header",
    "parse_proxy_url",
    "proxy_headers",
    "redact_headers",
)

HTTP_PROXY_SCHEMES = frozenset((b"http", b"https"))
SOCKS_PROXY_SCHEMES = frozenset((b"socks5", b"socks5h", b"socks4", b"socks4a"))
PROXY_AUTHORIZATION = b"proxy-authorization"

_Credentials = tuple[bytes, bytes]


def parse_proxy_url(
    url: URL | bytes | str, auth: tuple[bytes | str, bytes | str] | None
) -> tuple[URL, _Credentials | None]:
    """Split a proxy URL into the :class:`URL` and the credentials to use.

    Explicit ``auth`` wins over credentials in the URL; percent-escapes in the URL's
    user info are decoded (``p%40ss`` is ``p@ss``).

    Raises:
        TypeError: ``url`` or a credential has the wrong type.
        ValueError: The scheme is not a proxy scheme, or the URL has no host.
    """
    from_url: _Credentials | None = None
    if isinstance(url, (bytes, str)):
        text = url.decode("ascii") if isinstance(url, bytes) else url
        parts = urlsplit(text)
        if parts.username is not None:
            from_url = (
                unquote_to_bytes(parts.username),
                unquote_to_bytes(parts.password or ""),
            )
        parsed = URL(text)
    elif isinstance(url, URL):
        parsed = url
    else:
        raise TypeError(f"proxy url must be a URL, bytes or str, not {type(url).__name__}.")
    scheme = parsed.scheme.lower()
    if scheme not in HTTP_PROXY_SCHEMES and scheme not in SOCKS_PROXY_SCHEMES:
        raise ValueError(
            f"Unknown proxy scheme {scheme.decode('ascii', 'replace')!r}: use http, https, "
            "socks5, socks5h, socks4 or socks4a."
        )
    if not parsed.host:
        raise ValueError("The proxy URL has no host.")
    if scheme != parsed.scheme:
        parsed = URL(scheme=scheme, host=parsed.host, port=parsed.port, target=parsed.target)
    if auth is not None:
        username, password = auth
        return parsed, (
            enforce_bytes(username, name="proxy username"),
            enforce_bytes(password, name="proxy password"),
        )
    return parsed, from_url


def basic_auth_header(credentials: _Credentials) -> tuple[bytes, bytes]:
    """The ``Proxy-Authorization: Basic ...`` header for ``(username, password)``."""
    token = base64.b64encode(credentials[0] + b":" + credentials[1])
    return (b"Proxy-Authorization", b"Basic " + token)


def proxy_headers(
    headers: HeaderTypes, credentials: _Credentials | None
) -> list[tuple[bytes, bytes]]:
    """The headers for the proxy: Basic credentials first, then the caller's extras.

    Raises:
        LocalProtocolError: A header is not valid HTTP (checked here, once, because the
            ``CONNECT`` request is written by hand).
    """
    extra = list(enforce_headers(headers, name="proxy_headers"))
    for name, value in extra:
        if is_token(name) is None or breaks_line(value) is not None:
            raise LocalProtocolError(f"Invalid proxy header {name!r}.")
    if credentials is not None and not any(n.lower() == PROXY_AUTHORIZATION for n, _ in extra):
        extra.insert(0, basic_auth_header(credentials))
    return extra


def authority(host: bytes, port: int) -> bytes:
    """``host:port`` as a request target, with brackets around an IPv6 address."""
    if b":" in host:
        return b"[%b]:%d" % (host, port)
    return b"%b:%d" % (host, port)


def redact_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A copy of ``headers`` fit for logs: ``Proxy-Authorization`` values replaced."""
    return [
        (name, b"[secure]") if name.lower() == PROXY_AUTHORIZATION else (name, value)
        for name, value in headers
    ]


class Proxy:
    """A proxy to route a pool's requests through (``pool = ConnectionPool(proxy=...)``).

    Attributes:
        url: The proxy's URL; its scheme picks the protocol (``http``, ``https``,
            ``socks5``, ``socks5h``, ``socks4``, ``socks4a``).
        auth: ``(username, password)`` as bytes, or ``None``.
        headers: Headers sent to the proxy only (never through a tunnel): a
            ``Proxy-Authorization: Basic ...`` built from ``auth`` first (unless one
            was given), then the extra headers.
        ssl_context: The TLS context for an ``https://`` proxy itself (not the origin).
    """

    __slots__ = ("auth", "headers", "ssl_context", "url")

    def __init__(
        self,
        url: URL | bytes | str,
        auth: tuple[bytes | str, bytes | str] | None = None,
        headers: HeaderTypes = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Describe a proxy.

        Args:
            url: The proxy URL; credentials in it (``http://user:pw@host``) are used
                when ``auth`` is not given.
            auth: ``(username, password)`` for Basic (HTTP) or username/password
                (SOCKS5) authentication, or the user id (SOCKS4).
            headers: Extra headers for the proxy (HTTP proxies only).
            ssl_context: TLS settings for connecting to an ``https://`` proxy.

        Raises:
            TypeError: An argument has the wrong type.
            ValueError: The URL's scheme is not a proxy scheme.
        """
        self.url, self.auth = parse_proxy_url(url, auth)
        self.headers: list[tuple[bytes, bytes]] = list(enforce_headers(headers, name="headers"))
        if self.auth is not None and not any(
            name.lower() == PROXY_AUTHORIZATION for name, _ in self.headers
        ):
            # As httpcore's Proxy: the Basic credentials are a header for the proxy.
            self.headers.insert(0, basic_auth_header(self.auth))
        self.ssl_context = ssl_context

    def __repr__(self) -> str:
        # Never the credentials: reprs end up in logs.
        auth = "" if self.auth is None else ", auth=[secure]"
        return f"{type(self).__name__}(url={bytes(self.url).decode('ascii')!r}{auth})"


class RedactedHeaders(list[tuple[bytes, bytes]]):
    """A header list whose repr (in logs and traces) hides ``Proxy-Authorization``."""

    def __repr__(self) -> str:
        return repr(redact_headers(list(self)))
