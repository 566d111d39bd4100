"""Shape ops: expand, pixel_shuffle, roll."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from parity import Fn, check, undelegated

import pt2tflite


def test_expand_same_shape_is_free():
    assert check(Fn(lambda x: x.expand(2, 3, 4) + 1), (torch.randn(2, 3, 4),)) == {"ADD": 1}


def test_expand_new_leading_ones_is_reshape():
    hist = check(Fn(lambda x: x.expand(1, 1, 3, 4) * 2), (torch.randn(3, 4),))
    assert "BROADCAST_TO" not in hist


@pytest.mark.parametrize("shape, size", [((3, 1), (3, 5)), ((1, 4), (2, 3, 4)), ((2, 1, 4), (2, 3, 4))])
def test_expand_broadcasts(shape, size):
    check(Fn(lambda x: x.expand(*size).reshape(-1)), (torch.randn(shape),), has=["BROADCAST_TO"])


@pytest.mark.parametrize("shape, r", [((1, 4, 3, 5), 2), ((2, 18, 2, 3), 3), ((1, 12, 2, 3), 2)])
def test_pixel_shuffle(shape, r):
    check(nn.PixelShuffle(r), (torch.randn(shape),), has=["DEPTH_TO_SPACE"])


def test_pixel_shuffle_single_channel_is_one_op():
    hist = check(nn.Sequential(nn.Conv2d(2, 4, 1), nn.PixelShuffle(2)), (torch.randn(1, 2, 3, 3),), has=["DEPTH_TO_SPACE"])
    assert hist["TRANSPOSE"] == 1  # model input only: the C = 1 output is NCHW by a RESHAPE


@pytest.mark.parametrize("hw", [1, 4])
def test_adaptive_pool_on_channels_last_decomposes_to_as_strided(hw):
    """adaptive_avg_pool2d of a channels-last tensor leaves aten.as_strided in the graph."""

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.AdaptiveAvgPool2d(1)

        def forward(self, x):
            return self.pool(x.contiguous(memory_format=torch.channels_last)).flatten(1)

    x = torch.randn(2, 6, hw, hw)
    model = pt2tflite.convert(M().eval(), (x,))
    np.testing.assert_allclose(model(x), M()(x).numpy(), atol=1e-5, rtol=1e-5)


def test_view_to_the_same_shape_keeps_the_layout():
    conv = nn.Conv2d(3, 4, 1)
    hist = check(Fn(lambda x: conv(x).view(1, 4, 5, 5) * 2), (torch.randn(1, 3, 5, 5),), atol=1e-5)
    assert "RESHAPE" not in hist and hist["TRANSPOSE"] == 2


def test_flatten_of_nhwc_spatial_dims_keeps_channels_last():
    """vit's patch embedding: [N, C, H, W] stored NHWC, flatten(2).transpose(1, 2) is free."""
    conv = nn.Conv2d(3, 8, 2, stride=2)
    hist = check(Fn(lambda x: conv(x).flatten(2).transpose(1, 2) + 1), (torch.randn(1, 3, 8, 8),), atol=1e-5)
    assert hist["TRANSPOSE"] == 1  # the NCHW model input only


@pytest.mark.parametrize(
    "shifts, dims",
    [((2, -3), (1, 2)), ((-1, 4), (1, 2)), ((3,), (-1,)), ((7,), (1,)), ((-13,), (2,)), ((1, 1), (0, 3))],
)
def test_roll_is_slices_and_concatenation(shifts, dims):
    """out[i] = x[(i - shift) mod n]: no GATHER (torch's decomposition indexes with an arange); shifts
    beyond the size and negative shifts wrap like Python's modulo."""
    x = torch.randn(2, 5, 6, 4)
    fn = Fn(lambda x: torch.roll(x, shifts, dims) * 2)
    hist = check(fn, (x,), lacks=["GATHER"], has=["CONCATENATION"])
    assert hist["CONCATENATION"] == sum(s % x.shape[d] != 0 for s, d in zip(shifts, dims))
    assert undelegated(pt2tflite.convert(fn.eval(), (x,))) == {}


@pytest.mark.parametrize("shifts, dims", [((0,), (1,)), ((6, -5), (2, 1))])
def test_roll_by_a_multiple_of_the_size_is_free(shifts, dims):
    assert check(Fn(lambda x: torch.roll(x, shifts, dims) * 2), (torch.randn(1, 5, 6, 4),)) == {"MUL": 1}


@pytest.mark.parametrize("shift", [5, -2])
def test_roll_without_dims_rolls_the_flattened_tensor(shift):
    check(Fn(lambda x: torch.roll(x, shift) * 2), (torch.randn(3, 4),), has=["CONCATENATION"], lacks=["GATHER"])


def test_roll_in_an_nchw_conv_net_stays_channels_last():
    """Swin-style shift of a conv feature map: rolled on the stored NHWC axes, so the only
    TRANSPOSEs are the model's NCHW input and output."""
    torch.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    head = nn.Conv2d(8, 4, 1)
    fn = Fn(lambda x: head(torch.roll(torch.roll(body(x), (3, -2), (2, 3)), -5, 2)))
    x = torch.randn(1, 3, 7, 9)
    hist = check(fn, (x,), atol=1e-4, lacks=["GATHER"])
    assert hist["TRANSPOSE"] == 2 and hist["CONCATENATION"] == 3
    assert undelegated(pt2tflite.convert(fn.eval(), (x,))) == {}


def test_roll_of_a_constant_folds():
    c = torch.randn(4, 3)
    assert check(Fn(lambda x: x + torch.roll(c, (1, -1), (0, 1))), (torch.randn(4, 3),)) == {"ADD": 1}
