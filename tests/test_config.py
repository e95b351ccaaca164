from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from frolic.config import Settings, settings_table


def test_local_secrets_are_created_once_and_reused(tmp_path: Path) -> None:
    first = Settings(state_dir=tmp_path).with_local_secrets()
    again = Settings(state_dir=tmp_path).with_local_secrets()
    assert first.jwt_secret is not None
    assert first.admin_token is not None
    assert first.jwt_secret == again.jwt_secret
    assert first.admin_token == again.admin_token
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_explicit_secrets_win_and_touch_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cret-" * 6
    monkeypatch.setenv("FROLIC_JWT_SECRET", secret)
    monkeypatch.setenv("FROLIC_ADMIN_TOKEN", "adm1n")
    settings = Settings(state_dir=tmp_path).with_local_secrets()
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == secret
    assert not (tmp_path / "secrets.json").exists()
    assert "s3cret" not in repr(settings)


def test_short_jwt_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROLIC_JWT_SECRET", "short")
    with pytest.raises(ValidationError, match="jwt_secret"):
        Settings()


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROLIC_KAFKA_PARTITIONS", "0")
    with pytest.raises(ValidationError, match="kafka_partitions"):
        Settings()


def test_readme_lists_every_setting() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert settings_table() in readme, "regenerate it: python -m frolic.config"
