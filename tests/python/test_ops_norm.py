"""Normalizations: layer norm, group norm and the RMS-norm pattern (pow / mean / add / rsqrt / mul)."""

import pytest
import torch
import torch.nn as nn

from parity import Fn, check


def randomize(m):
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p))
    return m


@pytest.mark.parametrize(
    "shape, normalized",
    [((2, 6), (6,)), ((2, 3, 8), (8,)), ((2, 3, 8), (3, 8)), ((1, 4, 5, 5), (5,))],
)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(shape, normalized, affine):
    m = randomize(nn.LayerNorm(normalized, elementwise_affine=affine))
    check(m, (torch.randn(shape) * 3 + 1,), atol=2e-5, has=["MEAN", "RSQRT"], lacks=["TRANSPOSE"])


def test_layer_norm_over_channels_after_conv():
    # ConvNeXt: NHWC activations, permute to channels-last, LayerNorm over C. The statistics run on
    # the stored NHWC tensor: no TRANSPOSE between the conv and the norm.
    conv, ln = nn.Conv2d(3, 8, 3), randomize(nn.LayerNorm(8))
    m = Fn(lambda x: ln(conv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
    hist = check(m, (torch.randn(1, 3, 9, 9),), atol=2e-5, has=["MEAN"])
    assert hist.get("TRANSPOSE", 0) == 2  # model input and output only


@pytest.mark.parametrize("shape, groups", [((2, 6, 5, 5), 3), ((1, 8, 4, 6), 8), ((2, 4, 7), 2), ((3, 6), 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(shape, groups, affine):
    m = randomize(nn.GroupNorm(groups, shape[1], affine=affine))
    check(m, (torch.randn(shape) * 2,), atol=2e-5, has=["MEAN", "RSQRT"])


@pytest.mark.parametrize("shape", [(2, 8), (2, 3, 16)])
def test_rms_norm(shape):
    m = randomize(nn.RMSNorm(shape[-1]))
    check(m, (torch.randn(shape),), atol=2e-5, has=["MEAN", "RSQRT", "MUL"], lacks=["POW"])
