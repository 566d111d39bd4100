"""Seeds every test the same way, so random inputs and weights are reproducible, and marks the
slow modules (`pytest -m "not slow" tests/python` is the quick tier; `make test` runs everything)."""

import os

import numpy as np
import pytest
import torch

# Whole models, pretrained weights, LLM exports and the differential-testing slice: seconds to
# minutes per test.
SLOW_MODULES = {
    "test_models.py", "test_real_weights.py", "test_quant_models.py", "test_quant_real_weights.py", "test_llm.py",
    "test_litertlm.py", "test_weight_quant_litertlm.py", "test_difftest.py", "test_zoo_fast.py",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if os.path.basename(str(item.fspath)) in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
