"""SIP digest authentication (RFC 3261 section 22, RFC 2617 MD5 with qop=auth), sans I/O.

Phones prove who they are with per-device credentials. The gateway stores only
HA1 = MD5(username:realm:password), the form a SIP edge such as Kamailio reads
from a database, so the worker and the edge check the same records. Nonces are
stateless: a timestamp signed with a key of the gateway, so any worker can check
a nonce another one issued, and a stale one is answered with ``stale=true``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

NONCE_LIFETIME = 300.0
"""Seconds a challenge stays valid; a phone answering later is challenged again."""

_PARAM = re.compile(r'\s*([A-Za-z][\w-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)\s*(?:,|$)')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def ha1(username: str, realm: str, password: str) -> str:
    """The stored secret of a device: what Kamailio's ``auth_db`` calls ``ha1``."""
    return _md5(f"{username}:{realm}:{password}")


def new_password() -> str:
    """A phone's SIP password: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def make_nonce(key: bytes, now: float) -> str:
    stamp = f"{int(now):x}"
    mac = hmac.new(key, stamp.encode("ascii"), hashlib.sha256).hexdigest()[:32]
    return f"{stamp}.{mac}"


def nonce_age(key: bytes, nonce: str, now: float) -> float | None:
    """Seconds since the nonce was issued; ``None`` if the gateway did not issue it."""
    stamp, _, mac = nonce.partition(".")
    try:
        issued = int(stamp, 16)
    except ValueError:
        return None
    expected = hmac.new(key, stamp.encode("ascii"), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(mac, expected):
        return None
    return now - issued


def challenge(realm: str, nonce: str, *, stale: bool = False) -> str:
    """The value of a ``WWW-Authenticate`` header."""
    header = f'Digest realm="{realm}", nonce="{nonce}", algorithm=MD5, qop="auth"'
    return header + (", stale=true" if stale else "")


@dataclass(frozen=True, slots=True)
class Credentials:
    """An ``Authorization: Digest ...`` header, parsed."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    algorithm: str = "MD5"


class DigestError(ValueError):
    """An Authorization header that cannot be read; the message names what is wrong."""


def parse_authorization(header: str) -> Credentials:
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        raise DigestError(f"expected the Digest scheme, got {scheme!r}")
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None:
            raise DigestError(f"cannot read the parameters from {rest[position:][:40]!r}")
        name, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
        position = match.end()
    missing = [n for n in ("username", "realm", "nonce", "uri", "response") if n not in params]
    if missing:
        raise DigestError("missing " + ", ".join(missing))
    return Credentials(
        username=params["username"],
        realm=params["realm"],
        nonce=params["nonce"],
        uri=params["uri"],
        response=params["response"].lower(),
        qop=params.get("qop"),
        nc=params.get("nc"),
        cnonce=params.get("cnonce"),
        algorithm=params.get("algorithm", "MD5"),
    )


def expected_response(stored_ha1: str, method: str, credentials: Credentials) -> str:
    ha2 = _md5(f"{method}:{credentials.uri}")
    if credentials.qop is None:
        return _md5(f"{stored_ha1}:{credentials.nonce}:{ha2}")
    return _md5(
        f"{stored_ha1}:{credentials.nonce}:{credentials.nc}:{credentials.cnonce}:"
        f"{credentials.qop}:{ha2}"
    )


def verify(stored_ha1: str, method: str, credentials: Credentials) -> bool:
    """True if the phone knows the password behind ``stored_ha1``."""
    if credentials.algorithm.upper() != "MD5":
        return False
    if credentials.qop is not None and (
        credentials.qop != "auth" or credentials.nc is None or credentials.cnonce is None
    ):
        return False
    expected = expected_response(stored_ha1, method, credentials)
    return hmac.compare_digest(expected, credentials.response)
