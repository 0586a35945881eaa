from __future__ import annotations

import stat
from pathlib import Path

import pytest

from distillguard.errors import ConfigError
from distillguard.identity import IdentityStore, ServerSecret
from distillguard.identity.secret import load_or_create_secret_file
from distillguard.identity.store import resolve_secret
from distillguard.settings import Settings, load_settings


def test_local_secret_file_created_0600_and_reused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'id.sqlite'}"
    first = resolve_secret(Settings(), url)
    path = tmp_path / "id.sqlite.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_secret(Settings(), url).master == first.master


def test_world_readable_secret_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.secret"
    load_or_create_secret_file(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_secret_file(path)


def test_production_needs_explicit_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DISTILLGUARD_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        resolve_secret(load_settings(), f"sqlite:///{tmp_path / 'x.sqlite'}")
    monkeypatch.setenv("DISTILLGUARD_IDENTITY__SECRET_KEY", "changeme")
    with pytest.raises(ConfigError, match="at least 32"):
        resolve_secret(load_settings(), "sqlite://")
    monkeypatch.setenv("DISTILLGUARD_IDENTITY__SECRET_KEY", "x" * 40)
    assert resolve_secret(load_settings(), "sqlite://").master == b"x" * 40
    assert "x" * 40 not in repr(load_settings())


def test_placeholder_refused() -> None:
    with pytest.raises(ConfigError, match="placeholder"):
        ServerSecret(b"changeme" + b" " * 30)


def test_wrong_secret_detected_on_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'id.sqlite'}"
    IdentityStore.open(url, settings=Settings(), secret=ServerSecret(b"a" * 40)).close()
    with pytest.raises(ConfigError, match="does not match"):
        IdentityStore.open(url, settings=Settings(), secret=ServerSecret(b"b" * 40))


def test_derived_keys_differ_and_encrypt_round_trips() -> None:
    secret = ServerSecret(b"k" * 40)
    assert secret.derive("api-key") != secret.derive("totp-seed")
    token = secret.encrypt("totp-seed", b"seed")
    assert secret.decrypt("totp-seed", token) == b"seed"
    with pytest.raises(ConfigError, match="does not decrypt"):
        ServerSecret(b"j" * 40).decrypt("totp-seed", token)
    assert "k" * 40 not in repr(secret)
