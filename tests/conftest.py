"""Shared test configuration.

Hypothesis profiles (select with ``GAUSSCLIP_HYPOTHESIS_PROFILE``):

* ``deterministic`` (default): derandomized, so every run checks the same examples;
* ``thorough``: random examples, 10x more of them, for occasional deeper runs.
"""

import os

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile(
    "deterministic",
    derandomize=True,
    max_examples=25,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=250,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("GAUSSCLIP_HYPOTHESIS_PROFILE", "deterministic"))


def pytest_collection_modifyitems(config, items):
    if os.environ.get("GAUSSCLIP_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="paper-scale run; set GAUSSCLIP_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
