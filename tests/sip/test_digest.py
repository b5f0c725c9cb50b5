"""Digest credentials of phones: RFC 2617 vectors, nonces, header parsing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.sip.digest import (
    NONCE_LIFETIME,
    Credentials,
    DigestError,
    challenge,
    expected_response,
    ha1,
    make_nonce,
    nonce_age,
    parse_authorization,
    verify,
)

# RFC 2617 section 3.5 (with the method and URI of its example)
RFC_HEADER = (
    'Digest username="Mufasa", realm="testrealm@host.com", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
    'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_rfc_2617_example_verifies() -> None:
    credentials = parse_authorization(RFC_HEADER)
    stored = ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    assert verify(stored, "GET", credentials)
    assert not verify(ha1("Mufasa", "testrealm@host.com", "wrong"), "GET", credentials)
    assert not verify(stored, "INVITE", credentials)


def test_without_qop_the_rfc_2069_form_is_checked() -> None:
    stored = ha1("dev-1", "alarm-gateway", "secret")
    base = Credentials("dev-1", "alarm-gateway", "n1", "sip:gateway@127.0.0.1", response="")
    response = expected_response(stored, "INVITE", base)
    assert verify(stored, "INVITE", replace(base, response=response))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic dXNlcjpwYXNz", "expected the Digest scheme, got 'Basic'"),
        ('Digest username="a", realm="r"', "missing nonce, uri, response"),
        ('Digest username="a" realm', "cannot read the parameters"),
    ],
)
def test_unreadable_authorization_is_named(header: str, message: str) -> None:
    with pytest.raises(DigestError, match=message):
        parse_authorization(header)


def test_unsupported_algorithm_or_qop_never_verifies() -> None:
    credentials = parse_authorization(RFC_HEADER)
    stored = ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    assert not verify(stored, "GET", replace(credentials, algorithm="SHA-256"))
    assert not verify(stored, "GET", replace(credentials, qop="auth-int"))


def test_nonces_are_signed_and_age() -> None:
    key = b"k" * 32
    nonce = make_nonce(key, 1000.0)
    assert nonce_age(key, nonce, 1000.0 + NONCE_LIFETIME) == NONCE_LIFETIME
    assert nonce_age(b"other" * 8, nonce, 1000.0) is None
    assert nonce_age(key, "zz." + nonce.split(".")[1], 1000.0) is None
    assert nonce_age(key, nonce[:-1] + ("0" if nonce[-1] != "0" else "1"), 1000.0) is None


def test_challenge_header() -> None:
    assert challenge("alarm-gateway", "abc", stale=True) == (
        'Digest realm="alarm-gateway", nonce="abc", algorithm=MD5, qop="auth", stale=true'
    )
