"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No DISTILLGUARD_* variable from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("DISTILLGUARD_"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared public prompt data (../shared/data); tests that need it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
