"""AES-CBC with an all-zero IV, as DC-09 §5.5.1.8 prescribes.

The key is the ASCII bytes of the configured key string (16, 24 or 32
characters for AES-128/192/256), which is what pysiaalarm and common panels
use; it is *not* hex-decoded. A zero IV gives confidentiality only, no
authenticity: pair it with a trusted network path.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway.dc09.errors import DecryptError, LocalProtocolError

BLOCK = 16
_IV = bytes(BLOCK)
KEY_LENGTHS = (16, 24, 32)


def key_from_string(text: str) -> bytes:
    """The AES key for a configured key string; refuses lengths AES cannot use."""
    if not text.isascii():
        raise LocalProtocolError("The DC-09 key must be ASCII.")
    if len(text) not in KEY_LENGTHS:
        raise LocalProtocolError(
            f"The DC-09 key must be 16, 24 or 32 characters long, got {len(text)}."
        )
    return text.encode("ascii")


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    if len(key) not in KEY_LENGTHS:
        raise LocalProtocolError(f"AES keys are 16, 24 or 32 bytes, got {len(key)}.")
    return Cipher(algorithms.AES(key), modes.CBC(_IV))


def encrypt(key: bytes, plaintext: str) -> str:
    """Encrypt block-aligned ASCII; return upper-case hex as sent on the wire."""
    raw = plaintext.encode("ascii")
    if len(raw) % BLOCK:
        raise LocalProtocolError(
            f"Plaintext must be a multiple of {BLOCK} characters, got {len(raw)}."
        )
    encryptor = _cipher(key).encryptor()
    return (encryptor.update(raw) + encryptor.finalize()).hex().upper()


def decrypt(key: bytes, hex_text: str, offset: int) -> str:
    """Decrypt wire hex; ``offset`` locates the block in the frame for errors."""
    try:
        raw = bytes.fromhex(hex_text)
    except ValueError:
        raise DecryptError("Encrypted data is not hexadecimal.", "data", offset) from None
    if not raw or len(raw) % BLOCK:
        raise DecryptError(
            f"Encrypted data is not a whole number of {BLOCK}-byte blocks.", "data", offset
        )
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(raw) + decryptor.finalize()
    try:
        text = plain.decode("ascii")
    except UnicodeDecodeError:
        raise DecryptError("Decrypted data is not ASCII (wrong key?).", "data", offset) from None
    if not text.isprintable():
        raise DecryptError("Decrypted data is not printable (wrong key?).", "data", offset)
    return text
