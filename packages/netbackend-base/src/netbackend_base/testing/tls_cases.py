"""The TLS failure cases of the kit, shared with any suite that checks them end to end.

Each :class:`Failure` is one way for a client handshake to fail (expired, self-signed,
wrong host, unknown authority, no common TLS version) with what the ``ConnectError``
must say; :func:`server_context` builds the server side of each case.
"""

from __future__ import annotations

import dataclasses
import datetime
import ssl
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ("FAILURES", "Failure", "self_signed_pem", "server_context")


@dataclasses.dataclass(frozen=True)
class Failure:
    """One way for a handshake to fail, and what the ConnectError must say.

    Attributes:
        name: The test id.
        hostname: The client's ``server_hostname``.
        cause: The plain-words cause that must follow ``"TLS handshake with ... failed: "``.
        openssl: A pattern for the ``ssl`` error quoted after the cause (OpenSSL's words).
        verify_code: The ``verify_code`` of the chained ``SSLCertVerificationError``, or
            ``None`` when the chained error is a plain ``ssl.SSLError``.
    """

    name: str
    hostname: str
    cause: str
    openssl: str
    verify_code: int | None


_VERIFY = (
    r"\[SSLCertVerificationError: \[SSL: CERTIFICATE_VERIFY_FAILED\] certificate verify failed: "
)
FAILURES = [
    Failure(
        "expired",
        "localhost",
        "certificate has expired",
        _VERIFY + r"certificate has expired",
        10,
    ),
    Failure(
        "self-signed",
        "localhost",
        "self-signed certificate",
        # OpenSSL 1.1 spells it "self signed", 3.0 "self-signed".
        _VERIFY + r"self[ -]signed certificate",
        18,
    ),
    Failure(
        "wrong-host",
        "wrong.example",
        "certificate is not valid for 'wrong.example' (hostname mismatch)",
        _VERIFY + r"Hostname mismatch, certificate is not valid for 'wrong\.example'",
        62,
    ),
    Failure(
        "untrusted-ca",
        "localhost",
        "certificate signed by an unknown authority (unable to get local issuer certificate)",
        _VERIFY + r"unable to get local issuer certificate",
        20,
    ),
    Failure(
        "protocol-mismatch",
        "localhost",
        "protocol version mismatch (server and client share no TLS version)",
        r"\[SSLError: \[SSL: TLSV1_ALERT_PROTOCOL_VERSION\] tlsv1 alert protocol version",
        None,
    ),
]


# ------------------------------------------------------------------------ certificates


def self_signed_pem(hostname: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for ``hostname`` and its key, both PEM (no CA involved)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def server_context(case: str, ca: trustme.CA, directory: Path) -> ssl.SSLContext:
    """The server side of ``case``; the client trusts ``ca`` (and nothing else)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if case == "expired":
        # trustme 1.1 has no not_before (it is always 2000-01-01); 2020 is after it.
        ca.issue_cert("localhost", not_after=datetime.datetime(2020, 1, 1)).configure_cert(context)
    elif case == "self-signed":
        cert_pem, key_pem = self_signed_pem("localhost")
        cert_file, key_file = directory / "self-signed.pem", directory / "self-signed.key"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        context.load_cert_chain(cert_file, key_file)
    elif case == "untrusted-ca":
        trustme.CA().issue_cert("localhost").configure_cert(context)
    else:
        # wrong-host (the client asks for another name) and protocol-mismatch.
        ca.issue_cert("localhost").configure_cert(context)
    if case == "protocol-mismatch":
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    return context
