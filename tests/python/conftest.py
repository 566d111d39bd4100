"""Shared helpers: convert a module, run it in LiteRT, compare with PyTorch eager."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pt2tflite


def run_both(module: torch.nn.Module, *inputs: torch.Tensor):
    """(PyTorch eager outputs, LiteRT outputs, converted model) as numpy."""
    module = module.eval()
    model = pt2tflite.convert(module, inputs)
    with torch.no_grad():
        ref = module(*inputs)
    ref = [ref] if isinstance(ref, torch.Tensor) else list(ref)
    got = model(*inputs)
    got = [got] if isinstance(got, np.ndarray) else list(got)
    return [r.numpy() for r in ref], got, model


def assert_close(module: torch.nn.Module, *inputs: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-5):
    """Converts `module`, runs both, and checks every output elementwise. Returns the model."""
    refs, gots, model = run_both(module, *inputs)
    assert len(refs) == len(gots)
    for ref, got in zip(refs, gots):
        assert got.shape == ref.shape, f"shape {got.shape} != {ref.shape}"
        np.testing.assert_allclose(got, ref, atol=atol, rtol=rtol)
    return model


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
