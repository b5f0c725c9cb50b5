"""Access to the byte samples in tests/vectors/dc09/."""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "dc09"
KEY_128 = b"0123456789ABCDEF"
KEY_256 = b"0123456789ABCDEF0123456789ABCDEF"


def load(name: str) -> bytes:
    """The bytes of one sample frame."""
    return (VECTORS / name).read_bytes()


def fixed_pad(count: int) -> str:
    """Deterministic pad, so encrypted samples re-serialize byte for byte."""
    return "X" * count
