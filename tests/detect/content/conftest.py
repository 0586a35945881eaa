"""One loaded model for the whole content test package (loading takes a fraction of a second,
but there is no reason to repeat it)."""

from __future__ import annotations

import pytest

from distillguard.detect.content import ContentModel


@pytest.fixture(scope="session")
def model() -> ContentModel:
    return ContentModel.load()
