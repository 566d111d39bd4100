"""Explicit padding: constant_pad_nd → PAD / PADV2, reflect → MIRROR_PAD, replicate → SLICE + CONCATENATION."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from parity import Fn, check

CASES = [((1, 2, 5, 6), (1, 2, 3, 0)), ((1, 2, 5, 6), (2, 1, 0, 3)), ((2, 3, 7), (3, 1))]


@pytest.mark.parametrize("shape, pad", CASES + [((2, 3, 4), (1, 1, 0, 0, 2, 1))])
def test_constant_zero(shape, pad):
    # F.pad with a constant takes any number of pairs; the other modes 1, 2 or 3.
    check(Fn(lambda x: F.pad(x, pad)), (torch.randn(shape),), has=["PAD"], lacks=["PADV2"])


@pytest.mark.parametrize("value", [0.0, -1.5])
def test_padding_by_nothing_is_free(value):
    """Swin pads to a multiple of the window size, which is often a pad of 0."""
    assert check(Fn(lambda x: F.pad(x, (0, 0, 0, 0), value=value) * 2), (torch.randn(1, 4, 3, 5),)) == {"MUL": 1}


@pytest.mark.parametrize("shape, pad", CASES)
def test_constant_value(shape, pad):
    check(Fn(lambda x: F.pad(x, pad, value=-1.5)), (torch.randn(shape),), has=["PADV2"])


@pytest.mark.parametrize("shape, pad", CASES)
def test_reflect(shape, pad):
    check(Fn(lambda x: F.pad(x, pad, mode="reflect")), (torch.randn(shape),), has=["MIRROR_PAD"], lacks=["GATHER"])


@pytest.mark.parametrize("shape, pad", CASES)
def test_replicate(shape, pad):
    check(Fn(lambda x: F.pad(x, pad, mode="replicate")), (torch.randn(shape),), has=["CONCATENATION"], lacks=["GATHER"])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
def test_pad_after_conv_maps_through_nhwc(mode):
    conv = nn.Conv2d(3, 4, 1)
    hist = check(Fn(lambda x: F.pad(conv(x), (1, 2, 2, 0), mode=mode)), (torch.randn(1, 3, 4, 5),), atol=1e-5)
    assert hist["TRANSPOSE"] == 2


# ---- negative pads crop (issue 10).

@pytest.mark.parametrize("pad, value", [((-1, 2), 0.0), ((1, -2, -1, 0), 0.0), ((-1, -1, -2, -1), 0.0),
                                        ((2, -1, 0, 0, -1, 1), 1.5)])
def test_constant_pad_negative(pad, value):
    check(Fn(lambda x: F.pad(x, pad, value=value)), (torch.randn(2, 3, 5, 6),))


def test_constant_pad_negative_on_nhwc_activation():
    conv = nn.Conv2d(3, 4, 3)
    hist = check(Fn(lambda x: F.pad(conv(x), (-1, 1, 1, -1))), (torch.randn(1, 3, 8, 8),))
    assert hist.get("TRANSPOSE", 0) == 2, hist
