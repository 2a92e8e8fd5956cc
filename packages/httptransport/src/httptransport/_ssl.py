"""The TLS contexts used when the caller supplies none (connections set their ALPN
list before each handshake: see :mod:`._async.connection`)."""

from __future__ import annotations

import ssl

import certifi

__all__ = ("default_ssl_context", "http11_ssl_context")


def default_ssl_context() -> ssl.SSLContext:
    """Return a new client TLS context that trusts certifi's CA bundle.

    Certificates are verified and host names checked. Each call builds a fresh context,
    so callers may adjust theirs (ALPN protocols, client certificates) without affecting
    anyone else.
    """
    # create_default_context already sets CERT_REQUIRED and check_hostname; loading
    # certifi's bundle makes trust independent of the operating system's store.
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=certifi.where())
    return context


def http11_ssl_context() -> ssl.SSLContext:
    """A new default TLS context that offers only ``http/1.1`` through ALPN."""
    context = default_ssl_context()
    context.set_alpn_protocols(["http/1.1"])
    return context
