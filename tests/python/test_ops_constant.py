"""Tensor factories folded at convert time: arange, full, full_like, scalar_tensor."""

import torch

from parity import Fn, check


def test_arange_and_full_fold_to_constants():
    def f(x):
        pos = torch.arange(2, 2 + x.shape[-1] * 3, 3, dtype=torch.float32)
        return x * pos + torch.full((x.shape[-1],), 0.25) + torch.zeros_like(x) + torch.ones(1)

    hist = check(Fn(f), (torch.randn(2, 5),))
    assert set(hist) <= {"MUL", "ADD"}, hist


def test_integer_arange_as_indices():
    hist = check(Fn(lambda x: x[:, torch.arange(4) * 2]), (torch.randn(3, 8),), has=["GATHER"])
    assert "CAST" not in hist  # constant indices are narrowed to int32 at convert time


def test_scalar_tensor_in_where():
    check(Fn(lambda x: torch.where(x > 0, x, torch.tensor(0.5))), (torch.randn(3, 4),), has=["SELECT_V2"])
