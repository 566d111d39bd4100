"""Transposed convolution → TRANSPOSE_CONV (+SLICE)."""

import pytest
import torch
import torch.nn as nn

from parity import check


@pytest.mark.parametrize(
    "k, s, p, op",
    [(4, 2, 1, 0), (3, 2, 1, 1), (3, 1, 1, 0), (2, 2, 0, 0), (3, 2, 0, 1), (5, 3, 2, 2), (3, 3, 0, 2)],
)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d(k, s, p, op, bias):
    m = nn.ConvTranspose2d(3, 5, k, stride=s, padding=p, output_padding=op, bias=bias)
    check(m, (torch.randn(1, 3, 4, 5),), atol=1e-5, has=["TRANSPOSE_CONV"])


def test_conv_transpose2d_same_needs_no_slice():
    hist = check(nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1), (torch.randn(2, 3, 3, 3),), atol=1e-5, has=["TRANSPOSE_CONV"])
    assert "SLICE" not in hist


@pytest.mark.parametrize("k, s, p, op", [(4, 2, 1, 0), (3, 2, 1, 1)])
def test_conv_transpose1d(k, s, p, op):
    check(nn.ConvTranspose1d(2, 3, k, stride=s, padding=p, output_padding=op), (torch.randn(1, 2, 6),), atol=1e-5, has=["TRANSPOSE_CONV"])


@pytest.mark.parametrize("groups", [1, 4])
def test_conv_with_weight_norm_computes_weights_at_run_time(groups):
    """Wav2Vec2's positional conv: the weight is g * v / ||v||, computed in the graph."""
    conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(8, 8, 5, padding=2, groups=groups), dim=2)
    check(conv, (torch.randn(1, 8, 20),), atol=1e-4, rtol=1e-4, has=("CONV_2D",))


def test_one_element_padding_lists_cover_every_spatial_dim():
    # padding="valid" exports as padding=[0] (SigLIP's and EfficientNet's patch and stem convs):
    # the lowering once read a second entry past the end of the list and wrote a garbage dim.
    check(nn.Conv2d(3, 8, 4, stride=4, padding="valid"), (torch.randn(1, 3, 16, 16),))
    check(nn.Conv1d(3, 8, 3, padding="valid"), (torch.randn(1, 3, 16),))


def test_one_element_pooling_lists_cover_both_spatial_dims():
    from parity import Fn

    check(Fn(lambda x: nn.functional.max_pool2d(x, [3], [2], [1])), (torch.randn(1, 4, 9, 7),))
    check(Fn(lambda x: nn.functional.avg_pool2d(x, [2], [2])), (torch.randn(1, 4, 8, 6),))
