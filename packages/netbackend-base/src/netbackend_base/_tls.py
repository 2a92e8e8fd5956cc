"""Messages for failed TLS handshakes, shared by every backend (sans-IO).

A backend catches whatever its library raises when a client handshake fails and raises
``ConnectError(tls_failure_message(exc, server_hostname))`` from it. The message says
in plain words which check failed (an expired or self-signed certificate, a host name
the certificate does not cover, an unknown authority, no common TLS version, ...) and
then quotes the ``ssl`` module's own exception, so OpenSSL's wording (the
``[SSL: CERTIFICATE_VERIFY_FAILED]`` people search for) stays in it::

    TLS handshake with 'example.org' failed: certificate has expired
    [SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify
    failed: certificate has expired (_ssl.c:1006)]

The cause is read from ``ssl.SSLCertVerificationError.verify_code`` (OpenSSL's
``X509_V_ERR_*`` numbers, stable across OpenSSL versions, unlike their wording) and from
``ssl.SSLError.reason``. Libraries that wrap the ``ssl`` error (trio's and anyio's
``BrokenResourceError``) are looked through: the first ``ssl.SSLError`` in the chain of
causes and contexts is the one described.

This module imports only the standard library.
"""

from __future__ import annotations

import ssl

__all__ = ("find_ssl_error", "tls_failure_message")

# OpenSSL's X509_V_ERR_* codes (include/openssl/x509_vfy.h), as verify_code reports them.
_UNABLE_TO_GET_ISSUER_CERT = 2
_CERT_NOT_YET_VALID = 9
_CERT_HAS_EXPIRED = 10
_DEPTH_ZERO_SELF_SIGNED_CERT = 18
_SELF_SIGNED_CERT_IN_CHAIN = 19
_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
_CERT_REVOKED = 23
_INVALID_PURPOSE = 26
_HOSTNAME_MISMATCH = 62
_IP_ADDRESS_MISMATCH = 64

_VERIFY_CAUSES = {
    _CERT_HAS_EXPIRED: "certificate has expired",
    _CERT_NOT_YET_VALID: "certificate is not yet valid",
    _DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
    _SELF_SIGNED_CERT_IN_CHAIN: (
        "certificate chain ends in a self-signed root the client does not trust"
    ),
    _CERT_REVOKED: "certificate has been revoked",
    _INVALID_PURPOSE: "certificate is not valid for a TLS server (wrong purpose)",
}
_UNKNOWN_AUTHORITY = frozenset(
    {
        _UNABLE_TO_GET_ISSUER_CERT,
        _UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        _UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    }
)

# ssl.SSLError.reason values: OpenSSL's reason codes, without the library prefix.
_PROTOCOL_MISMATCH = "protocol version mismatch (server and client share no TLS version)"
_REASON_CAUSES = {
    # The server's alert when it accepts none of the versions the client offers.
    "TLSV1_ALERT_PROTOCOL_VERSION": _PROTOCOL_MISMATCH,
    # The client's own errors when it accepts none of the server's versions.
    "UNSUPPORTED_PROTOCOL": _PROTOCOL_MISMATCH,
    "NO_PROTOCOLS_AVAILABLE": _PROTOCOL_MISMATCH,
    "VERSION_TOO_LOW": _PROTOCOL_MISMATCH,
    "VERSION_TOO_HIGH": _PROTOCOL_MISMATCH,
    "TLSV1_ALERT_INAPPROPRIATE_FALLBACK": _PROTOCOL_MISMATCH,
    "WRONG_VERSION_NUMBER": "the server did not answer in TLS (wrong version number)",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": (
        "the server refused the handshake (no cipher or parameters in common)"
    ),
    "NO_SHARED_CIPHER": "the server refused the handshake (no cipher in common)",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate",
    "UNEXPECTED_EOF_WHILE_READING": "the server closed the connection during the handshake",
}


def find_ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The first ``ssl.SSLError`` among ``exc``, its causes and its contexts, or ``None``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def tls_failure_message(exc: BaseException, server_hostname: str | None = None) -> str:
    """The message of the ``ConnectError`` for a client TLS handshake that raised ``exc``.

    ``"TLS handshake with '<server_hostname>' failed: <cause> [<the ssl error>]"``, where
    the cause names the failed check when it is known. ``exc`` may be the ``ssl`` error
    itself or a library's exception wrapping it; with no ``ssl.SSLError`` in its chain (a
    reset connection, an inner stream's error) the message quotes ``exc`` itself.

    Args:
        exc: What the handshake raised.
        server_hostname: The name the certificate was checked against (and sent as SNI),
            if any.
    """
    prefix = "TLS handshake failed"
    if server_hostname:
        prefix = f"TLS handshake with {server_hostname!r} failed"
    error = find_ssl_error(exc)
    if error is None:
        return f"{prefix}: {_describe(exc)}"
    cause = _cause(error, server_hostname)
    if cause is None:
        return f"{prefix}: {_describe(error)}"
    return f"{prefix}: {cause} [{_describe(error)}]"


def _cause(error: ssl.SSLError, server_hostname: str | None) -> str | None:
    if isinstance(error, ssl.SSLCertVerificationError):
        # Either may be missing on an error not raised by the ssl module itself.
        code: int | None = getattr(error, "verify_code", None)
        message: str | None = getattr(error, "verify_message", None)
        # OpenSSL's words, in parentheses after a cause that does not already say them.
        detail = f" ({str(message).rstrip('.')})" if message else ""
        known = _VERIFY_CAUSES.get(code) if code is not None else None
        if known is not None:
            return known
        if code in _UNKNOWN_AUTHORITY:
            return f"certificate signed by an unknown authority{detail}"
        if code in (_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH):
            kind = "hostname" if code == _HOSTNAME_MISMATCH else "IP address"
            if server_hostname:
                return f"certificate is not valid for {server_hostname!r} ({kind} mismatch)"
            return f"certificate is not valid for the server's name ({kind} mismatch)"
        return f"certificate verification failed{detail}"
    reason: str | None = getattr(error, "reason", None)
    if reason in _REASON_CAUSES:
        return _REASON_CAUSES[reason]
    if isinstance(error, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return "the server closed the connection during the handshake"
    return None


def _describe(exc: BaseException) -> str:
    """``"Type: text"``, or the cause's when ``exc`` has no text (a library's wrapper)."""
    text = str(exc)
    if not text and exc.__cause__ is not None:
        return f"{type(exc).__name__}: {_describe(exc.__cause__)}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
