"""Fixtures shared by the engine tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="package")
def spark() -> Iterator[Any]:
    """One Spark ``local[2]`` session for the engine tests (its start-up is ~10 s), stopped after them."""
    from workbench.engine._spark import local_spark_session

    session = local_spark_session(cores=2, memory="1g")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
