"""The default TLS context verifies certificates and host names against certifi."""

from __future__ import annotations

import ssl

import certifi

import httptransport


def test_verifies_certificates_and_hostnames() -> None:
    """Verification is required and host names are checked."""
    context = httptransport.default_ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_loads_certifi_bundle() -> None:
    """The context trusts CA certificates from certifi's bundle."""
    context = httptransport.default_ssl_context()
    reference = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    reference.load_verify_locations(certifi.where())
    assert context.cert_store_stats()["x509_ca"] == reference.cert_store_stats()["x509_ca"] > 0


def test_fresh_context_each_call() -> None:
    """Every call returns a new context, so changing one leaves the next alone."""
    first = httptransport.default_ssl_context()
    first.check_hostname = False
    second = httptransport.default_ssl_context()
    assert second is not first
    assert second.check_hostname is True


def test_client_side_context() -> None:
    """The context is for clients and speaks at least TLS 1.2."""
    context = httptransport.default_ssl_context()
    assert context.protocol is ssl.PROTOCOL_TLS_CLIENT
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
