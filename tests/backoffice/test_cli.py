"""``alarm-gateway device rotate`` and ``device revoke``, in-process on a fresh database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.auth import token_hash
from gateway.cli import _open_store, main
from gateway.config.load import load_settings


def config(tmp_path: Path) -> str:
    path = tmp_path / "gw.toml"
    path.write_text(f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n')
    return str(path)


def holder(cfg: str, token: str) -> tuple[str, bool] | None:
    """(device id, revoked) of the token's device, read the way the gateway does."""

    async def read() -> tuple[str, bool] | None:
        store = await _open_store(load_settings(Path(cfg)))
        try:
            device = await store.device_by_token_hash(token_hash(token))
        finally:
            await store.close()
        return None if device is None else (device.id, device.revoked_at is not None)

    return asyncio.run(read())


def test_rotate_prints_a_new_token_and_the_old_one_stops_working(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    assert main(["device", "add", "a1", "--config", cfg]) == 0
    old = capsys.readouterr().out.strip()
    assert main(["device", "rotate", "a1", "--config", cfg]) == 0
    out = capsys.readouterr()
    new = out.out.strip()
    assert "shown only once" in out.err and new != old and len(new) >= 40
    assert holder(cfg, old) is None
    assert holder(cfg, new) == ("a1", False)
    assert main(["device", "rotate", "nobody", "--config", cfg]) == 1
    assert "no device 'nobody'" in capsys.readouterr().err


def test_revoke_marks_the_device_and_refuses_a_later_rotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    assert main(["device", "add", "a1", "--config", cfg]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["device", "revoke", "a1", "--config", cfg]) == 0
    assert "revoked" in capsys.readouterr().err
    assert holder(cfg, token) == ("a1", True)
    assert main(["device", "rotate", "a1", "--config", cfg]) == 1
    assert "is revoked" in capsys.readouterr().err
    assert main(["device", "revoke", "ghost", "--config", cfg]) == 1
