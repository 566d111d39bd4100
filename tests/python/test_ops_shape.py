"""Shape ops: expand, pixel_shuffle."""

import pytest
import torch
import torch.nn as nn

from parity import Fn, check


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
    assert hist["TRANSPOSE"] == 2  # model input and output only
