"""TFLite-level rewrites after lowering: constant folding, TRANSPOSE/RESHAPE cleanup, bias folding,
the flatten before a classifier. Each test checks parity with PyTorch and the op it removes."""

import torch
import torch.nn as nn

from parity import Fn, check


class BiasTable(nn.Module):
    """efficientformer-style attention bias: a parameter table indexed by a constant index buffer."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.randn(4, 9))
        self.register_buffer("idx", torch.tensor([[0, 3, 8], [8, 1, 1], [2, 2, 5]]))

    def forward(self, x):
        return x + self.table[:, self.idx]


def test_gather_of_constants_is_folded():
    assert check(BiasTable(), (torch.randn(2, 4, 3, 3),)) == {"ADD": 1}


def test_arithmetic_of_constant_tensors_is_folded():
    a, b = torch.randn(3, 1), torch.randn(1, 4)
    assert check(Fn(lambda x: x * (a * b + a)), (torch.randn(2, 3, 4),)) == {"MUL": 1}


def test_transpose_of_unit_dims_is_a_reshape():
    hist = check(Fn(lambda x: x.permute(2, 1, 0, 3) + 1), (torch.randn(1, 3, 1, 4),))
    assert "TRANSPOSE" not in hist


def test_transposes_cancel():
    # softmax over dim 1 stores dim 1 last; the permute back restores PyTorch's order for free.
    hist = check(Fn(lambda x: torch.softmax(x, 1).permute(0, 2, 1).permute(0, 2, 1) * 2), (torch.randn(2, 5, 3),))
    assert hist.get("TRANSPOSE", 0) <= 2


def test_hardsigmoid_shift_folds_into_conv_bias():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Hardsigmoid())
    hist = check(m, (torch.randn(1, 3, 6, 6),))
    assert "ADD" not in hist and hist["MUL"] == 1


def test_per_channel_add_folds_into_linear_bias():
    lin = nn.Linear(5, 4)
    shift = torch.randn(4)
    assert check(Fn(lambda x: torch.relu(lin(x) + shift)), (torch.randn(3, 5),)) == {"FULLY_CONNECTED": 1}


def test_add_that_broadcasts_the_output_is_kept():
    lin = nn.Linear(5, 4)
    shift = torch.randn(2, 1, 4)
    check(Fn(lambda x: lin(x) - shift), (torch.randn(3, 5),), has=["SUB"])


def test_flatten_before_classifier_is_dropped():
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    hist = check(m, (torch.randn(2, 3, 8, 8),), atol=1e-5)
    assert "RESHAPE" not in hist
