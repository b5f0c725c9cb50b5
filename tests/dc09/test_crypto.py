from __future__ import annotations

import pytest
from Crypto.Cipher import AES

from gateway.dc09 import crypto
from gateway.dc09.errors import DecryptError, LocalProtocolError


def test_key_is_the_ascii_bytes_of_the_string_not_hex() -> None:
    assert crypto.key_from_string("0123456789ABCDEF") == b"0123456789ABCDEF"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("short", "The DC-09 key must be 16, 24 or 32 characters long, got 5."),
        ("clé-0123456789ABC", "The DC-09 key must be ASCII."),
    ],
)
def test_bad_key_strings(text: str, message: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        crypto.key_from_string(text)
    assert str(info.value) == message


@pytest.mark.parametrize("key", [b"k" * 16, b"k" * 24, b"k" * 32])
def test_matches_pycryptodome_as_used_by_pysiaalarm(key: bytes) -> None:
    text = "0000|#1234|Nri1/PA001]_21:15:30,12-04-2026".rjust(48, "0")
    reference = AES.new(key, AES.MODE_CBC, bytes(16)).encrypt(text.encode("ascii"))
    assert crypto.encrypt(key, text) == reference.hex().upper()


@pytest.mark.parametrize("key", [b"k" * 16, b"k" * 24, b"k" * 32])
def test_round_trip_all_key_sizes(key: bytes) -> None:
    text = "pad|#1234|Nri1/PA001]_21:15:30,12-04-2026".rjust(48, "0")
    assert crypto.decrypt(key, crypto.encrypt(key, text), 0) == text


def test_encrypt_refuses_unaligned_plaintext() -> None:
    with pytest.raises(LocalProtocolError, match=r"^Plaintext must be a multiple of 16"):
        crypto.encrypt(b"k" * 16, "abc")


@pytest.mark.parametrize(
    ("hex_text", "message"),
    [
        ("ABC", "Encrypted data is not hexadecimal."),
        ("ABCD", "Encrypted data is not a whole number of 16-byte blocks."),
        ("", "Encrypted data is not a whole number of 16-byte blocks."),
    ],
)
def test_decrypt_errors_name_the_data_field(hex_text: str, message: str) -> None:
    with pytest.raises(DecryptError) as info:
        crypto.decrypt(b"k" * 16, hex_text, 33)
    assert (str(info.value), info.value.field, info.value.offset) == (message, "data", 33)


def test_wrong_key_is_reported() -> None:
    sealed = crypto.encrypt(b"k" * 16, "x" * 32)
    with pytest.raises(DecryptError, match=r"\(wrong key\?\)\.$"):
        crypto.decrypt(b"j" * 16, sealed, 0)


def test_aes_key_length_is_checked() -> None:
    with pytest.raises(LocalProtocolError, match=r"^AES keys are 16, 24 or 32 bytes, got 5\.$"):
        crypto.encrypt(b"short", "x" * 16)
