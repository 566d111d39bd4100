"""Activations and softmax: leaky_relu, elu, prelu, softplus, mish, _safe_softmax."""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pt2tflite
from parity import Fn, check

SHAPES = [(2, 7), (2, 3, 5), (1, 4, 6, 6)]


def wide(shape):
    """Values across every branch of the activations, including past softplus' threshold."""
    return torch.randn(shape) * 12


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu(shape, slope):
    check(nn.LeakyReLU(slope), (torch.randn(shape),), has=["LEAKY_RELU"])


@pytest.mark.parametrize("shape", SHAPES)
def test_elu_default_is_one_op(shape):
    assert check(nn.ELU(), (wide(shape),), has=["ELU"]) == {"ELU": 1}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "fn", [nn.ELU(alpha=0.5), nn.SELU(), Fn(lambda x: F.elu(x, alpha=1.7) * 1.0)]
)
def test_elu_general(shape, fn):
    check(fn, (wide(shape),), atol=2e-6, has=["ELU"], lacks=["SELECT_V2"])


@pytest.mark.parametrize("shape", [(1, 4, 6, 6), (2, 4, 5)])
@pytest.mark.parametrize("channels", [1, 4])
def test_prelu(shape, channels):
    m = nn.PReLU(channels)
    with torch.no_grad():
        m.weight.copy_(torch.linspace(-0.5, 0.5, channels))
    check(m, (torch.randn(shape),), has=["PRELU"], lacks=["SELECT_V2", "GREATER"])


def test_prelu_after_conv_stays_nhwc():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.PReLU(4))
    with torch.no_grad():
        m[1].weight.copy_(torch.linspace(-0.5, 0.5, 4))
    hist = check(m, (torch.randn(1, 3, 8, 8),), atol=1e-4, has=["PRELU"])
    assert hist["TRANSPOSE"] == 2  # the model input in and the output out, nothing between


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 20.0), (0.5, 30.0)])
def test_softplus(shape, beta, threshold):
    check(nn.Softplus(beta, threshold), (wide(shape),), atol=1e-6, rtol=1e-5, lacks=["SELECT_V2"])


@pytest.mark.parametrize("shape", SHAPES)
def test_softplus_low_threshold_selects(shape):
    check(nn.Softplus(1.0, 2.0), (wide(shape),), atol=1e-6, rtol=1e-5, has=["SELECT_V2"])


@pytest.mark.parametrize("shape", SHAPES)
def test_mish(shape):
    check(nn.Mish(), (wide(shape),), atol=5e-6, rtol=1e-5, has=["TANH"], lacks=["SELECT_V2"])


@pytest.mark.parametrize("shape, dim", [((2, 3, 5), -1), ((2, 3, 5), 1), ((1, 4, 6, 6), 1)])
def test_safe_softmax_is_one_softmax(shape, dim):
    x = torch.randn(shape)
    x.narrow(dim, 0, 1).fill_(float("-inf"))  # partly masked rows are exact
    hist = check(Fn(lambda x: torch.ops.aten._safe_softmax(x, dim)), (x,), atol=1e-6, has=["SOFTMAX"])
    assert not {"EQUAL", "SELECT_V2", "REDUCE_ALL", "REDUCE_ANY", "LOGICAL_NOT"} & hist.keys()


def test_safe_softmax_fully_masked_row_is_nan():
    # The documented difference: PyTorch gives 0 on a row that is all -inf, SOFTMAX gives NaN.
    x = torch.randn(2, 3, 5)
    x[0, 1] = float("-inf")
    model = pt2tflite.convert(Fn(lambda x: torch.ops.aten._safe_softmax(x, -1)).eval(), (x,))
    got = model(x)
    assert np.isnan(got[0, 1]).all()
    np.testing.assert_allclose(np.nan_to_num(got, nan=0.0), torch.ops.aten._safe_softmax(x, -1).numpy(), atol=1e-6)
