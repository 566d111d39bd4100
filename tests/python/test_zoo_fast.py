"""The fast tier of the model zoo (tools/zoo.py --fast), run in every CI run."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import zoo  # noqa: E402


@pytest.mark.parametrize("key", zoo.FAST)
def test_zoo_model(key):
    row = zoo.run_one(key)
    assert row["status"] == "pass", f"{key}: {row['why']}"
    assert row["max_err"] <= zoo.TOLERANCE


import sweep  # noqa: E402  (tools/sweep.py: the public sweeps)


@pytest.mark.parametrize("key", sweep.FAST)
def test_sweep_model(key):
    """One model per public-sweep family (timm module, Hugging Face small config, generic-config causal
    LM, Ultralytics yaml), judged as the sweep judges it (XNNPACK and builtin kernels, docs/coverage.md)."""
    if key.startswith("yolo:"):
        pytest.importorskip("ultralytics")
    row = sweep.compare(key)
    assert row["status"] == "pass", f"{key}: {row['status']}: {row['why']}"
