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


# tryfirst: pytest-xdist's worker reads the xdist_group marks in this same hook.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        name = os.path.basename(str(item.fspath))
        if name in HEAVY_MODULES:
            item.add_marker(pytest.mark.heavy)
        # `make test` spreads the tests over worker processes (pytest-xdist, --dist loadgroup):
        # the tests of a module that shares a fixture (an LLM export, a quantized model) go to one
        # worker, so the fixture is built once; every other test goes wherever a worker is free.
        if _shares_a_fixture(item):
            item.add_marker(pytest.mark.xdist_group(name))


def _shares_a_fixture(item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    defs = getattr(info, "name2fixturedefs", {}) if info else {}
    return any(d and d[-1].scope in ("module", "package", "session") for d in defs.values())


# Under pytest-xdist each worker is one of several processes sharing the cores: one torch thread
# each, or the workers' thread pools oversubscribe the machine and spin against each other.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
