from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.errors import BadRequest


def test_minted_token_verifies_with_the_secret(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path).with_local_secrets()
    token = mint_player_token(settings, "alice", ttl_seconds=60)
    assert settings.jwt_secret is not None
    claims = jwt.decode(token, settings.jwt_secret.get_secret_value(), algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 60
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another secret, just as long as the first", algorithms=["HS256"])


def test_rs256_tokens_come_from_the_identity_provider(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, jwt_algorithm="RS256").with_local_secrets()
    with pytest.raises(BadRequest, match="identity provider"):
        mint_player_token(settings, "alice")


def test_cli_token_uses_the_state_dir_secret(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "frolic.cli", "token", "--user", "bob"],
        env={"FROLIC_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    settings = Settings(state_dir=tmp_path).with_local_secrets()
    assert settings.jwt_secret is not None
    claims = jwt.decode(
        out.stdout.strip(), settings.jwt_secret.get_secret_value(), algorithms=["HS256"]
    )
    assert claims["sub"] == "bob"


def test_rs256_player_tokens_verify_with_the_public_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from frolic.auth.players import player_id
    from frolic.errors import Unauthorized

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = Settings(state_dir=tmp_path, jwt_algorithm="RS256", jwt_public_key=public)
    token = jwt.encode({"sub": "carol", "exp": 4_000_000_000}, key, algorithm="RS256")
    assert player_id(settings, token) == "carol"
    forged = jwt.encode({"sub": "carol", "exp": 4_000_000_000}, "x" * 32, algorithm="HS256")
    with pytest.raises(Unauthorized):
        player_id(settings, forged)  # an HS256 token must not pass as RS256
