"""``[dc09]`` configuration: receivers, account, timing, mapping file.

Embedded by the main configuration; validation errors carry the key path so the
loader can add file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from gateway.dc09.crypto import KEY_LENGTHS
from gateway.dc09.grammar import Token
from gateway.dc09.transmitter import Endpoint, Settings

XDataField = Literal["X", "Y", "I", "V", "H"]


def _all_xdata() -> list[XDataField]:
    return ["X", "Y", "I", "V", "H"]


class ReceiverConfig(BaseModel):
    """One monitoring-centre receiver; the first listed is the primary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"
    receiver: str | None = Field("0", pattern=r"^[0-9A-Fa-f]{1,6}$")
    """Receiver number sent as ``R``; null omits it (pysiaalarm then answers "None")."""
    line: str = Field("0", pattern=r"^[0-9A-Fa-f]{1,6}$")
    key: SecretStr | None = None
    """AES key string agreed with the centre (16, 24 or 32 characters); unset: plain text."""

    @field_validator("key")
    @classmethod
    def _key_length(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            text = key.get_secret_value()
            if not text.isascii() or len(text) not in KEY_LENGTHS:
                raise ValueError(
                    f"key must be 16, 24 or 32 ASCII characters, got {len(text)} characters"
                )
        return key

    def endpoint(self) -> Endpoint:
        """The wire addressing the transmitter core needs."""
        key = self.key.get_secret_value().encode("ascii") if self.key is not None else None
        return Endpoint(line=self.line.upper(), receiver=self.receiver, key=key)


class Dc09Config(BaseModel):
    """Forwarding to the monitoring centre over SIA DC-09."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    receivers: list[ReceiverConfig] = Field(min_length=1)
    account: str = Field(pattern=r"^[0-9A-Fa-f]{3,16}$")
    """Default account, used when an event's payload carries none, and for NULL polls."""
    format: Literal["SIA-DCS", "ADM-CID"] = "SIA-DCS"
    answer_timeout_s: float = Field(10.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    attempts_per_receiver: int = Field(3, ge=1, le=20)
    retry_delay_s: float = Field(1.0, ge=0)
    poll_interval_s: float | None = Field(60.0, gt=0)
    """Idle time before a NULL supervision poll; null disables polls."""
    mapping: Path | None = None
    """Event-to-code mapping file; unset: the packaged ``gateway/dc09/mapping.yaml``."""
    xdata: list[XDataField] = Field(default_factory=_all_xdata)
    """Extended data to send (pysiaalarm reads only one block in ADM-CID messages)."""

    @property
    def token(self) -> Token:
        """The ID token events are sent with."""
        return Token(self.format)

    def settings(self) -> Settings:
        """Policy for the sans-I/O transmitter."""
        return Settings(
            endpoints=tuple(r.endpoint() for r in self.receivers),
            account=self.account.upper(),
            answer_timeout=self.answer_timeout_s,
            connect_timeout=self.connect_timeout_s,
            attempts=self.attempts_per_receiver,
            retry_delay=self.retry_delay_s,
            poll_interval=self.poll_interval_s,
        )
