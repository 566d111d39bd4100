"""grid_sampler_2d (F.grid_sample, issue 10): bilinear and nearest, zeros and border padding,
align_corners both ways, on XNNPACK and the builtin kernels."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from parity import Fn, check


def grid(n, ho, wo, spread=1.2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, ho, wo, 2, generator=g) * 2 - 1) * spread  # some points fall outside [-1, 1]


@pytest.mark.parametrize("mode, padding, align", list(itertools.product(["bilinear", "nearest"], ["zeros", "border"],
                                                                         [False, True])))
def test_grid_sample(mode, padding, align):
    fn = Fn(lambda x, g: F.grid_sample(x, g, mode=mode, padding_mode=padding, align_corners=align))
    check(fn, (torch.randn(2, 3, 5, 7), grid(2, 4, 6)), atol=1e-5, rtol=1e-5)


def test_grid_sample_identity_grid_nearest_exact():
    # An affine identity grid lands on pixel centres (align_corners=False): nearest returns the input.
    x = torch.randn(1, 2, 6, 8)
    theta = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    g = F.affine_grid(theta, (1, 2, 6, 8), align_corners=False)
    check(Fn(lambda x, g: F.grid_sample(x, g, mode="nearest", align_corners=False)), (x, g), atol=0)


def test_grid_sample_grid_from_activation():
    # A deformable-attention-style sampler: the grid is computed from the input at run time.
    conv = torch.nn.Conv2d(3, 2, 3, padding=1)

    def fn(x):
        g = torch.tanh(conv(x)).permute(0, 2, 3, 1)
        return F.grid_sample(x, g, align_corners=False)

    check(Fn(fn), (torch.randn(1, 3, 6, 6),), atol=1e-5, rtol=1e-5)
