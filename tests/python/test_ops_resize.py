"""Upsampling kept whole: RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR, never GATHER."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from parity import Fn, check

SHAPES = [(1, 3, 4, 5), (2, 2, 3, 3)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(scale_factor=3), dict(size=(7, 9)), dict(size=(2, 3))])
def test_nearest(shape, kw):
    check(nn.Upsample(mode="nearest", **kw), (torch.randn(shape),), has=["RESIZE_NEAREST_NEIGHBOR"], lacks=["GATHER"])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(scale_factor=3), dict(size=(7, 9)), dict(size=(2, 2))])
@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear(shape, kw, align_corners):
    m = nn.Upsample(mode="bilinear", align_corners=align_corners, **kw)
    check(m, (torch.randn(shape),), has=["RESIZE_BILINEAR"], lacks=["GATHER"])


def test_bilinear_after_conv_stays_nhwc():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    m = Fn(lambda x: F.interpolate(conv(x), scale_factor=2, mode="bilinear"))
    hist = check(m, (torch.randn(1, 3, 5, 5),), atol=1e-5, has=["RESIZE_BILINEAR"])
    assert hist["TRANSPOSE"] == 2


def test_scale_that_is_not_the_size_ratio_is_rejected():
    import pt2tflite

    with pytest.raises(pt2tflite.ConversionError, match="scale factor"):
        pt2tflite.convert(nn.Upsample(scale_factor=1.5).eval(), (torch.randn(1, 1, 5, 5),))
