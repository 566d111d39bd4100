"""Normalizations: layer norm, group norm and the RMS-norm pattern (pow / mean / add / rsqrt / mul)."""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pt2tflite
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


# ---- batch norm of a permuted tensor, then a view (torch's tracing layout, eager_layout.py).

def _stats(c):
    g = torch.Generator().manual_seed(c)
    return (torch.randn(c, generator=g), torch.rand(c, generator=g) + 0.5, torch.randn(c, generator=g),
            torch.randn(c, generator=g))


@pytest.mark.parametrize("shape, perm, training", [
    ((2, 3, 4, 5), (1, 0, 2, 3), False),  # difftest 0:79215: eager's result is contiguous
    ((2, 3, 4, 5), (0, 3, 1, 2), False),  # NHWC data seen as NCHW: eager keeps channels-last
    ((2, 7, 6), (0, 2, 1), False),  # BatchNorm1d over [N, L, C].transpose(1, 2)
    ((2, 3, 4, 5), (1, 0, 2, 3), True),  # the input's own statistics
])
def test_view_of_batch_norm_of_a_permuted_tensor(shape, perm, training):
    # Eager's CPU batch norm allocates its result in the input's suggested memory format, while
    # tracing keeps the input's strides (pytorch/pytorch#192668), so a view eager allows made
    # torch.export itself fail ("Cannot view a tensor with shape ... and strides ...").
    c = shape[perm[1]]
    mean, var, w, b = _stats(c)
    stats = (None, None) if training else (mean, var)

    def normalize_then_view(x):
        y = F.batch_norm(x.permute(*perm), *stats, w, b, training=training)
        return y.view(-1) if y.is_contiguous() else y.permute(0, 2, 3, 1).view(-1)

    check(Fn(normalize_then_view), (torch.randn(*shape),), atol=2e-5)


def test_batch_norm_of_a_permuted_tensor_with_a_dynamic_batch():
    # [C, N, H, W] data permuted to [N, C, H, W], N dynamic: the layout fix asks eager with the
    # traced sizes, and the file must hold for other N.
    mean, var, w, b = _stats(2)
    model = Fn(lambda x: F.batch_norm(x.permute(1, 0, 2, 3), mean, var, w, b, training=False).view(-1))
    batch = torch.export.Dim("batch", min=1, max=8)
    m = pt2tflite.convert(model.eval(), (torch.randn(2, 3, 4, 5),), dynamic_shapes=(({1: batch},),))  # Fn(*args)
    for n in (1, 3, 8):
        x = torch.randn(2, n, 4, 5)
        np.testing.assert_allclose(m(x), model(x).numpy(), atol=2e-5, rtol=1e-5)


# ---- batch norm with the input's own statistics (weight standardization, issue 10).

@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_no_stats(affine):
    w = torch.randn(5) if affine else None
    b = torch.randn(5) if affine else None
    check(Fn(lambda x: F.batch_norm(x, None, None, w, b, training=True, eps=1e-5)), (torch.randn(2, 5, 4, 3) * 3 + 1,),
          atol=1e-5, rtol=1e-5)


def test_batch_norm_no_stats_of_activation():
    conv = torch.nn.Conv2d(3, 4, 3)
    check(Fn(lambda x: F.batch_norm(conv(x), None, None, training=True)), (torch.randn(2, 3, 6, 6),), atol=2e-5)


def test_weight_standardized_conv():
    # timm's StdConv2d: the weight is normalized per output channel in the graph.
    class StdConv(torch.nn.Conv2d):
        def forward(self, x):
            w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True,
                             momentum=0.0, eps=1e-6).reshape_as(self.weight)
            return F.conv2d(x, w, self.bias, self.stride, self.padding)

    check(StdConv(3, 8, 3, padding=1), (torch.randn(1, 3, 8, 8),), atol=1e-4, rtol=1e-4)
