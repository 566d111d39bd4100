"""0-d tensors (a scalar model input, a loss-like reduction, a temperature) against PyTorch.

PyTorch reads dim 0 or -1 of a 0-d tensor as its one element; TFLite's kernels have no such rule.
Before passes/view_0d_as_1d.cc, softmax, log_softmax, flip, var and gather of a 0-d tensor killed
the Python process (SIGSEGV in the lowering); cumsum, max(x, 0) and index_select raised a raw
IndexError. And Model.__call__ fed a 0-d input as shape [1] (np.ascontiguousarray returns at
least 1-d), so every model with a 0-d input returned [1]-shaped results. Each case here must convert and give PyTorch's
values and shapes exactly, with XNNPACK and with the builtin kernels alone (parity.check).
"""

from __future__ import annotations

import pytest
import torch

import pt2tflite
from parity import Fn, check

CASES = {
    "elementwise": lambda x: x * 2 + 1,
    "softmax": lambda x: torch.softmax(x, 0) * x,
    "log_softmax": lambda x: torch.log_softmax(x, -1) + x,
    "cumsum": lambda x: torch.cumsum(x, 0) * 3,
    "flip": lambda x: torch.flip(x, [0]) - 1,
    "sort": lambda x: torch.sort(x, 0),
    "topk": lambda x: torch.topk(x, 1, 0),
    "max_dim": lambda x: torch.max(x, 0),
    "amax": lambda x: torch.amax(x, 0) * 2,
    "argmax": lambda x: torch.argmax(x, 0) + 1,
    "sum": lambda x: x.sum() * 2,
    "sum_dim": lambda x: x.sum(0, keepdim=True) * 2,
    "mean": lambda x: x.mean(-1),
    "var": lambda x: torch.var(x, 0, correction=0) + x,
    "logsumexp": lambda x: torch.logsumexp(x, 0),
    "norm": lambda x: torch.linalg.vector_norm(x) * 2,
    "stack": lambda x: torch.stack([x, x * 2, -x]),
    "broadcast_into_vector": lambda x: x + torch.arange(3.0),
    "dot": lambda x: torch.dot(x.expand(4), torch.arange(4.0)),
    "index_select": lambda x: torch.index_select(x, 0, torch.tensor(0)) * 2,
    "gather": lambda x: torch.gather(x, 0, torch.tensor(0)) * 2,
    "repeat": lambda x: x.repeat(3),
    "clamp_by_0d": lambda x: torch.clamp(torch.arange(4.0) - 2, min=x),
    "masked_fill_by_0d": lambda x: torch.arange(4.0).masked_fill(torch.arange(4) > 1, x),
}


@pytest.mark.parametrize("case", list(CASES))
def test_op_on_a_0d_tensor_matches_pytorch(case):
    check(Fn(CASES[case]), (torch.tensor(-1.5),), atol=1e-6, rtol=1e-6)


def test_softmax_of_a_0d_tensor_is_viewed_as_1d():
    """Structural: the SOFTMAX reads a [1] view and its result is reshaped back to 0-d."""
    model = pt2tflite.convert(Fn(lambda x: torch.softmax(x, 0)).eval(), (torch.tensor(0.5),))
    hist = model.op_histogram()
    assert hist.get("SOFTMAX") == 1 and hist.get("RESHAPE") == 2, hist


def test_a_0d_input_keeps_its_shape_through_model_call():
    x = torch.tensor(3.0)
    model = pt2tflite.convert(Fn(lambda v: v * 2).eval(), (x,))
    assert model(x).shape == ()
    assert model(x.numpy()).shape == ()


def test_a_0d_view_with_other_readers_is_copied_correctly():
    """guard_inplace_aliases copies a view with other readers before an in-place ADD; it copied a
    0-d one with an identity TRANSPOSE, which LiteRT computes as garbage (5.8e25 for 4.0)."""
    def fn(x):
        v = x * 2
        return v.reshape(()) + 1, v * 3

    hist = check(Fn(fn), (torch.tensor([1.5]),), atol=1e-6, rtol=1e-6)
    assert hist.get("TRANSPOSE") == 1 and hist.get("RESHAPE") == 3, hist  # the copy goes through [1]
