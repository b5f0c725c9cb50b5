"""Settings of the SIP voice channel: the ``[sip]`` table of the gateway's TOML file."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_CALLS_PER_WORKER = 4
"""pjsua2-python's compiled ``PJSUA_MAX_CALLS``: more calls need more workers."""

KNOWN_CODECS = ("G722/16000", "PCMU/8000", "PCMA/8000")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkerSettings(_Strict):
    """Everything one worker process needs; passed to it as JSON on its command line."""

    index: int = Field(ge=0)
    bind_address: str
    public_host: str
    sip_port: int = Field(ge=0, le=65535)
    rtp_port: int = Field(ge=1024, le=65535)
    rtp_port_range: int = Field(ge=8)
    phone_slots: int = Field(ge=1, le=MAX_CALLS_PER_WORKER)
    media_timeout: float = Field(gt=0)
    codecs: tuple[str, ...]
    tap_rate: int
    user_agent: str


class SipConfig(_Strict):
    """The ``[sip]`` table. Defaults suit one host behind a SIP edge proxy."""

    workers: int = Field(2, ge=1, le=64)
    """Worker processes; each serves at most 4 calls (phones plus operator legs)."""
    bind_address: str = "127.0.0.1"
    public_host: str | None = None
    """Host put in Contact and auto-answer headers; defaults to ``bind_address``."""
    base_port: int = Field(5070, ge=0, le=65535)
    """Worker ``i`` listens on ``base_port + i``. 0 lets the OS choose (tests)."""
    rtp_base_port: int = Field(40000, ge=1024, le=65535)
    rtp_ports_per_worker: int = Field(200, ge=8)
    phone_slots: int = Field(2, ge=1, le=MAX_CALLS_PER_WORKER)
    """Calls per worker for phones (incoming and callbacks); the rest of the 4 stay free
    so operator legs can always join a phone's conference on the same worker."""
    media_timeout: float = Field(5.0, gt=0, le=120)
    """Seconds without RTP from a phone before the call is reported as media lost."""
    codecs: tuple[str, ...] = KNOWN_CODECS
    """Codec priority, best first. G.722 is used whenever the phone offers it."""
    tap_rate: int = 16000
    """Sample rate of the caller audio handed to the main process."""
    decision_timeout: float = Field(3.0, gt=0, le=30)
    """How long the main process may take to accept a call before it is refused with 503
    (a phone then tries its next number)."""
    callback_attempts: int = Field(3, ge=1, le=20)
    callback_retry_delay: float = Field(10.0, ge=0)
    ping_interval: float = Field(1.0, gt=0)
    ping_timeout: float = Field(3.0, gt=0)
    restart_backoff: float = Field(0.5, gt=0)
    restart_backoff_max: float = Field(30.0, gt=0)
    user_agent: str = "alarm-gateway"
    realm: str = Field("alarm-gateway", min_length=1, max_length=64, pattern=r"^[!#-~]+$")
    """Digest realm of phones' SIP credentials; stored HA1 hashes depend on it, so changing
    it means issuing every phone new credentials."""
    trusted_edges: tuple[str, ...] = ()
    """Addresses of SIP edge proxies (Kamailio) that authenticate phones themselves and
    name the device in ``X-Authenticated-Device``; that header is ignored from anyone else."""

    @field_validator("bind_address")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("expected an IP address such as 127.0.0.1") from None
        return value

    @field_validator("trusted_edges")
    @classmethod
    def _edges(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address such as 10.0.0.2") from None
        return value

    @field_validator("codecs")
    @classmethod
    def _codecs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in KNOWN_CODECS]
        if unknown:
            raise ValueError(f"unknown codec {unknown[0]!r}; choose from {', '.join(KNOWN_CODECS)}")
        if not value:
            raise ValueError("at least one codec is needed")
        return value

    @field_validator("tap_rate")
    @classmethod
    def _rate(cls, value: int) -> int:
        if value not in (8000, 16000):
            raise ValueError("expected 8000 or 16000")
        return value

    @model_validator(mode="after")
    def _ports(self) -> SipConfig:
        if self.base_port and self.base_port + self.workers - 1 > 65535:
            raise ValueError("base_port + workers exceeds 65535")
        if self.rtp_base_port + self.workers * self.rtp_ports_per_worker - 1 > 65535:
            raise ValueError("rtp_base_port + workers * rtp_ports_per_worker exceeds 65535")
        return self

    def worker_settings(self, index: int) -> WorkerSettings:
        """The settings of worker ``index``: its own SIP port and RTP port range."""
        return WorkerSettings(
            index=index,
            bind_address=self.bind_address,
            public_host=self.public_host or self.bind_address,
            sip_port=self.base_port + index if self.base_port else 0,
            rtp_port=self.rtp_base_port + index * self.rtp_ports_per_worker,
            rtp_port_range=self.rtp_ports_per_worker,
            phone_slots=self.phone_slots,
            media_timeout=self.media_timeout,
            codecs=self.codecs,
            tap_rate=self.tap_rate,
            user_agent=self.user_agent,
        )
