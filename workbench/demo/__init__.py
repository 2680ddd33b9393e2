"""The deterministic demo scenario (data, models, documents, policy).

The public face of ``workbench.demo``: import from here; the ``_`` modules are private.
"""


from workbench.demo._demo import (
    DEBT_RATIO_RISE_PER_WEEK,
    DEFAULT_SEED,
    DemoScenario,
    FEATURES,
    INCOME_INFLATION_PER_WEEK,
    LABELLED_WEEKS,
    REPLAY_START,
    REPLAY_WEEKS,
    SEGMENT,
    SEGMENT_FROM_WEEK,
    SEGMENT_SHARE,
    write_demo,
    write_parquet,
)
from workbench.demo._registry import DEMO_MODEL, REGISTRY_MANIFEST, register_demo

__all__ = [
    "DEMO_MODEL",
    "REGISTRY_MANIFEST",
    "register_demo",
    "DEBT_RATIO_RISE_PER_WEEK",
    "DEFAULT_SEED",
    "DemoScenario",
    "FEATURES",
    "INCOME_INFLATION_PER_WEEK",
    "LABELLED_WEEKS",
    "REPLAY_START",
    "REPLAY_WEEKS",
    "SEGMENT",
    "SEGMENT_FROM_WEEK",
    "SEGMENT_SHARE",
    "write_demo",
    "write_parquet",
]
