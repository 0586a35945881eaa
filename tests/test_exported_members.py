"""The public surface is explicit: every name in a module's __all__ exists, once.

Its order is ruff's job (RUF022)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import distillguard


def _modules() -> list[str]:
    names = ["distillguard"]
    for info in pkgutil.walk_packages(distillguard.__path__, "distillguard."):
        if info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        return
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names missing members: {missing}"
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"
