"""Scaled-dot-product attention as it decomposes: BATCH_MATMUL + SOFTMAX, no GATHER / SELECT storm."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from parity import Fn, check

STORM = ["GATHER", "SELECT_V2", "EQUAL", "REDUCE_ALL", "LOGICAL_NOT", "BROADCAST_TO", "CAST"]


@pytest.mark.parametrize("b, h, t, s, e", [(1, 2, 5, 5, 8), (2, 1, 3, 6, 4)])
def test_sdpa(b, h, t, s, e):
    q, k, v = torch.randn(b, h, t, e), torch.randn(b, h, s, e), torch.randn(b, h, s, e)
    check(Fn(F.scaled_dot_product_attention), (q, k, v), atol=1e-5, has=["BATCH_MATMUL", "SOFTMAX"], lacks=STORM)


def test_sdpa_with_float_mask():
    q, k, v = torch.randn(1, 2, 4, 8), torch.randn(1, 2, 4, 8), torch.randn(1, 2, 4, 8)
    mask = torch.randn(4, 4)
    check(Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)), (q, k, v), atol=1e-5, has=["SOFTMAX"], lacks=STORM)


def test_multihead_attention():
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    x = torch.randn(2, 5, 16)
    check(Fn(lambda x: mha(x, x, x, need_weights=False)[0]), (x,), atol=1e-5, has=["SOFTMAX"], lacks=STORM)


def test_view_of_sdpa_output():
    # Eager SDPA returns a contiguous tensor, so .view of it is legal; its decomposition returned
    # permuted strides and run_decompositions failed ("Cannot view a tensor with shape ... and
    # strides ..."), in torch's default table too (difftest 11:196).
    check(Fn(lambda x: F.scaled_dot_product_attention(x, x * 0.5, x, is_causal=True).view(36)), (torch.randn(6, 2, 3),),
          atol=2e-5)
    check(Fn(lambda q, k: F.scaled_dot_product_attention(q, k, k).view(2, -1)), (torch.randn(2, 3, 4, 8),
                                                                              torch.randn(2, 3, 5, 8)), atol=2e-5)


def test_view_of_sdpa_output_transposed_back():
    # Heads split from [B, L, H*D] by a transpose (BEiT, data2vec-vision, most HF encoders): eager's
    # flash kernel returns its output in the query's layout, [B, L, H, D] in memory, so
    # .transpose(1, 2).view(B, L, H*D) is legal. Forcing the decomposed result contiguous broke
    # exactly this (the HF sweep's data2vec_vision): its strides must follow eager's.
    def attend(x):
        q = x.view(1, 65, 4, 16).transpose(1, 2)
        return F.scaled_dot_product_attention(q, q * 0.5, q).transpose(1, 2).view(1, 65, 64)

    check(Fn(attend), (torch.randn(1, 65, 64),), atol=2e-5)
