"""The store's documentation: every public method listed, every docstring example runs."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

import workbench.store._store
from workbench.store import Store


def test_every_public_store_method_is_listed_in_the_module_docstring() -> None:
    doc = workbench.store._store.__doc__ or ""
    public = [name for name, _ in inspect.getmembers(Store) if not name.startswith("_")]
    missing = [name for name in public if f"{name}(" not in doc and f"``{name}``" not in doc]
    assert missing == [], f"document these in workbench/store/_store.py's docstring: {missing}"


def test_every_public_store_method_has_a_docstring() -> None:
    undocumented = [name for name, member in inspect.getmembers(Store)
                    if not name.startswith("_") and callable(member) and not inspect.getdoc(member)]
    assert undocumented == []


@pytest.mark.parametrize("module", ["workbench.store._store", "workbench.auth", "workbench.store._reviews"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
