"""The gateway's settings, with their defaults. ``gateway/config/default.toml`` documents them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from gateway.dc09.config import Dc09Config
from gateway.sip.config import SipConfig
from gateway.webhook.config import WebhookConfig


class Section(BaseModel):
    """Every section refuses unknown keys: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GatewaySection(Section):
    data_dir: Path = Path("data")
    public_url: str = "http://127.0.0.1:8080"
    """Base URL operators and the monitoring centre use to reach this gateway."""


class HttpSection(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(16384, ge=1024, le=10_000_000)
    """Alarm requests are small; a larger body is refused with 413."""


class DatabaseSection(Section):
    url: str = ""
    """SQLAlchemy URL; empty means SQLite at ``<data_dir>/gateway.sqlite3``."""
    sqlite_synchronous: Literal["full", "normal"] = "full"
    """``full`` survives power loss; ``normal`` survives a process crash only."""
    pool_size: int = Field(8, ge=1, le=100)
    """PostgreSQL: connections kept open (and parallel write transactions), plus 4 readers."""
    instance_id: str = Field("", max_length=64)
    """This instance among several on one database; empty: ``<hostname>:<http port>``."""
    heartbeat_s: float = Field(2.0, gt=0, le=60)
    """How often the instance tells the others it is alive."""
    takeover_after_s: float = Field(10.0, gt=0, le=600)
    """An instance silent this long is dead: the others take over its alarms and sinks."""

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise ValueError("expected a sqlite:/// or postgresql+psycopg:// URL")
        return value


class VoiceSection(Section):
    enabled: bool = True
    """Run the SIP workers that answer the phones' alarm calls (settings under [sip])."""
    sip_uri: str = "sip:alarm@127.0.0.1:5070"
    """Where phones send their alarm call; returned to the phone with each alarm."""
    alarm_id_header: str = "X-Alarm-Id"


class SpeechSection(Section):
    enabled: bool = True
    """Transcribe and analyse alarm calls (advice for the operator, never a decision)."""
    workers: int = Field(1, ge=1, le=32)
    """Analysis processes; each takes about one core while callers speak."""
    engine: Literal["whisper", "vosk"] = "whisper"
    vad: Literal["silero", "webrtc"] = "silero"
    models_dir: Path = Path("models")
    """Where ``alarm-gateway models`` lists and downloads models."""
    language: str = Field("en", pattern=r"^[a-z]{2}$")
    """Recognition language of calls; the embedded model is English (tiny.en)."""
    whisper_models: dict[str, Path] = {}
    """Language -> CTranslate2 Whisper model folder, e.g. {fr = "models/whisper-base"}."""
    vosk_models: dict[str, Path] = {}
    """Language -> Vosk model folder, e.g. {fr = "models/vosk-model-small-fr-0.22"}."""
    transcript_retention_days: float = Field(365, gt=0, le=3650)
    """Words transcribed from calls of alarms closed longer ago are blanked (CNIL: 1 year)."""


class RecordingSection(Section):
    enabled: bool = True
    """Record alarm calls (stereo WAV: phone left, operator right) in <data_dir>/recordings."""
    retention_days: float = Field(180, gt=0, le=3650)
    """Recordings older than this are deleted (CNIL: at most 6 months)."""
    purge_interval_s: float = Field(3600, gt=0)


def bundled_dialplans() -> Path:
    """``dialplans/`` beside the package: the plan a source checkout runs with."""
    return Path(__file__).resolve().parents[2] / "dialplans"


class DialplanSection(Section):
    enabled: bool = True
    """false: no plan offers or escalates alarms; operators take them from the queue only."""
    directory: Path = Field(default_factory=bundled_dialplans)
    manager_webhook_secret: SecretStr | None = None
    """HMAC secret for manager notifications by webhook and their acknowledgement
    links; unset: the webhook channel fails and the dialplan moves to the next contact."""
    """Folder of ``*.yaml`` dialplans, loaded together; reloaded on SIGHUP."""


class LogSection(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"


class Settings(Section):
    gateway: GatewaySection = GatewaySection()
    http: HttpSection = HttpSection()
    database: DatabaseSection = DatabaseSection()
    voice: VoiceSection = VoiceSection()
    log: LogSection = LogSection()
    sip: SipConfig = SipConfig()
    speech: SpeechSection = SpeechSection()
    recording: RecordingSection = RecordingSection()
    dialplan: DialplanSection = DialplanSection()
    dc09: Dc09Config | None = None
    """Forwarding to the monitoring centre; absent: alarms are not forwarded over DC-09."""
    webhooks: list[WebhookConfig] = []
    dc09_backups: dict[str, Dc09Config] = {}
    """Backup monitoring centres by name, as dialplans' ``backup_centres`` name them."""

    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.gateway.data_dir / 'gateway.sqlite3'}"
