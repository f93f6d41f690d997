"""HTTPS on a single node: the certificate and key files of ``[server].tls_cert`` and
``tls_key`` (PEM), loaded before anything else starts so a mistake is one line at once."""

from __future__ import annotations

import errno
import ssl
from pathlib import Path

from ..config import Config


class TlsError(ValueError):
    """The certificate or key cannot be used; the message says which and why, in one line."""


def _readable(key: str, value: str) -> None:
    path = Path(value)
    try:
        with path.open("rb") as f:
            f.read(1)
    except FileNotFoundError:
        raise TlsError(f"[server].{key}: no file {value}") from None
    except IsADirectoryError:
        raise TlsError(f"[server].{key}: {value} is a directory, not a PEM file") from None
    except OSError as exc:
        why = "no permission to read it" if exc.errno == errno.EACCES else exc.strerror
        raise TlsError(f"[server].{key}: cannot read {value}: {why}") from None


def tls_context(config: Config) -> ssl.SSLContext | None:
    """The server's TLS context, or None for plain HTTP. TLS 1.2 at least; the defaults of
    Python's ``ssl`` for the rest (its ciphers, no compression)."""
    if config.tls_cert is None and config.tls_key is None:
        return None
    if config.tls_cert is None or config.tls_key is None:
        given, missing = (
            ("tls_cert", "tls_key") if config.tls_key is None else ("tls_key", "tls_cert")
        )
        raise TlsError(f"[server].{given} is set but {missing} is not: HTTPS needs both")
    _readable("tls_cert", config.tls_cert)
    _readable("tls_key", config.tls_key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if "KEY_VALUES_MISMATCH" in str(exc).upper():
            raise TlsError(
                f"[server].tls_key {config.tls_key} is not the key of the certificate in "
                f"[server].tls_cert {config.tls_cert}"
            ) from None
        raise TlsError(
            f"[server].tls_cert {config.tls_cert} / tls_key {config.tls_key}: cannot load them "
            f"({reason}); expected a PEM certificate (chain) and its unencrypted PEM key"
        ) from None
    return context
