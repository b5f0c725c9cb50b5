"""The alarm-gateway command: models and device registration (in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main


def config(tmp_path: Path, models: Path) -> str:
    path = tmp_path / "gw.toml"
    path.write_text(
        f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n[speech]\nmodels_dir = "{models}"\n'
    )
    return str(path)


def test_models_lists_the_builtin_model_and_names_a_broken_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    (models / "vosk-model-small-fr-0.22" / "am").mkdir(parents=True)  # files missing
    assert main(["models", "--no-load", "--config", config(tmp_path, models)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("found  whisper tiny.en (built-in)")
    assert lines[1].startswith("BROKEN vosk    vosk-model-small-fr-0.22")


def test_download_refuses_a_name_that_is_not_a_vosk_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, tmp_path / "models")
    assert main(["models", "download", "../etc", "--config", cfg]) == 1
    assert "is not a Vosk model name" in capsys.readouterr().err


def test_device_sip_uri_must_be_a_sip_uri_and_is_stored_as_an_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, tmp_path / "models")
    assert main(["device", "add", "a1", "--sip-uri", "tel:+331", "--config", cfg]) == 2
    assert "--sip-uri must be a SIP URI" in capsys.readouterr().err
    assert (
        main(["device", "add", "a1", "--sip-uri", "<sip:A1@PBX.example.org:5062>", "--config", cfg])
        == 0
    )
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40
    assert main(["device", "add", "a1", "--config", cfg]) == 1
    assert "already registered" in capsys.readouterr().err
