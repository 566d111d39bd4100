"""Seeds every test the same way, so random inputs and weights are reproducible, and marks the
heavy modules (`pytest -m "not heavy" tests/python` is a quick tier; `make test` runs them all;
the `slow` marker is different: tests left out of `make test`)."""

import os

import numpy as np
import pytest
import torch

# Whole models, pretrained weights, LLM exports and the differential-testing slice: seconds to
# minutes per test.
HEAVY_MODULES = {
    "test_models.py", "test_real_weights.py", "test_quant_models.py", "test_quant_real_weights.py", "test_llm.py",
    "test_litertlm.py", "test_weight_quant_litertlm.py", "test_difftest.py", "test_zoo_fast.py",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if os.path.basename(str(item.fspath)) in HEAVY_MODULES:
            item.add_marker(pytest.mark.heavy)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
