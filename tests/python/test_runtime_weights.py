"""Matrix products whose weights are computed at run time: FULLY_CONNECTED with a tensor weight or
BATCH_MATMUL, checked on both LiteRT runtimes (XNNPACK and the builtin kernels only)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from parity import Fn
from test_evaluate_constants import check_both


def test_linear_with_a_weight_and_bias_from_the_inputs():
    f = Fn(lambda x, w, b: nn.functional.linear(x, w, b))
    hist, _ = check_both(f, (torch.randn(2, 5, 8), torch.randn(6, 8), torch.randn(6)))
    assert hist == {"FULLY_CONNECTED": 1}, hist


def test_linear_with_a_weight_computed_from_the_input():
    class Hyper(nn.Module):  # a hypernetwork: the weight depends on the input
        def __init__(self):
            super().__init__()
            self.gen = nn.Linear(4, 4 * 3)

        def forward(self, x):
            w = self.gen(x.mean(0)).reshape(3, 4)
            return nn.functional.linear(x, w)

    check_both(Hyper(), (torch.randn(5, 4),))


def test_addmm_with_a_run_time_weight():
    f = Fn(lambda x, w, b: torch.addmm(b, x, w))
    check_both(f, (torch.randn(3, 8), torch.randn(8, 5), torch.randn(5)))


@pytest.mark.parametrize("kv_differ", [False, True])
def test_multihead_attention_with_distinct_query_key_value(kv_differ):
    class Cross(nn.Module):  # DETR's decoder, every cross-attention
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(16, 4, batch_first=True)

        def forward(self, q, k, v):
            return self.mha(q, k, v if kv_differ else k, need_weights=False)[0]

    torch.manual_seed(0)
    check_both(Cross(), (torch.randn(2, 5, 16), torch.randn(2, 7, 16), torch.randn(2, 7, 16)), rel=1e-5)


def test_conv_with_a_run_time_filter():
    f = Fn(lambda x, w: nn.functional.conv2d(x, w, padding=1))
    check_both(f, (torch.randn(1, 3, 8, 8), torch.randn(4, 3, 3, 3)))
