"""Configuration of one webhook endpoint."""

from __future__ import annotations

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator

from gateway.outbox.events import EventKind


class WebhookConfig(BaseModel):
    """Where to POST events, with which secret; ``kinds`` limits what is sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: AnyHttpUrl
    secret: SecretStr
    """Shared HMAC secret; at least 16 characters."""
    timeout_s: float = Field(10.0, gt=0)
    """Whole-request time limit; a slower answer counts as a failure and is retried."""
    kinds: list[EventKind] | None = None
    """Event kinds to send; unset: all."""

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        length = len(secret.get_secret_value())
        if length < 16:
            raise ValueError(f"secret must be at least 16 characters, got {length}")
        return secret
