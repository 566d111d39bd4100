"""Shared check for the op parity tests: convert a tiny module, run it in LiteRT, compare with eager."""

from __future__ import annotations

import numpy as np
import torch

import pt2tflite


class Fn(torch.nn.Module):
    """Wraps a function of the inputs as a module, for ops that have no nn.Module."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def check(module, inputs, *, atol=1e-5, rtol=1e-5, has=(), lacks=()):
    """Asserts that LiteRT matches PyTorch eager on `inputs` within the tolerances, that every op in
    `has` appears in the TFLite model and that none in `lacks` does. Returns the op histogram."""
    module = module.eval()
    inputs = tuple(inputs)
    model = pt2tflite.convert(module, inputs)
    got = model(*inputs)
    with torch.no_grad():
        want = module(*inputs)
    got = got if isinstance(got, tuple) else (got,)
    want = tuple(want) if isinstance(want, (tuple, list)) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = w.numpy()
        assert g.shape == w.shape, f"shape {g.shape} != {w.shape}"
        if w.dtype == np.bool_ or np.issubdtype(w.dtype, np.integer):
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, atol=atol, rtol=rtol)
    hist = model.op_histogram()
    for op in has:
        assert op in hist, f"{op} missing from {hist}"
    for op in lacks:
        assert op not in hist, f"{op} present in {hist}"
    return hist
