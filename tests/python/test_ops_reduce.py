"""var.correction and cumsum."""

import pytest
import torch

from parity import Fn, check


@pytest.mark.parametrize("shape, dim", [((4, 6), 1), ((2, 3, 5), (0, 2)), ((2, 3, 5), None)])
@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_var(shape, dim, correction, keepdim):
    fn = Fn(lambda x: torch.var(x, dim=dim, correction=correction, keepdim=keepdim))
    check(fn, (torch.randn(shape) * 3,), atol=1e-5, has=["MEAN"])


@pytest.mark.parametrize("shape, dim", [((6,), 0), ((3, 5), 1), ((2, 3, 4), -2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.int32])
def test_cumsum(shape, dim, dtype):
    x = torch.randint(-5, 5, shape).to(dtype)
    check(Fn(lambda x: torch.cumsum(x, dim)), (x,), has=["CUMSUM"])


# ---- argmax / argmin / max.dim / min.dim (issue 10): XNNPACK and the builtin kernels.

def distinct(*shape):
    """Values without ties (the index of a tie is not part of the test)."""
    return torch.randperm(int(torch.tensor(shape).prod())).float().reshape(shape) / 7 - 3


@pytest.mark.parametrize("dim, keepdim", [(1, False), (-1, True), (None, False), (None, True), (0, False)])
@pytest.mark.parametrize("fn, op", [(torch.argmax, "ARG_MAX"), (torch.argmin, "ARG_MIN")])
def test_argmax_argmin(fn, op, dim, keepdim):
    check(Fn(lambda x: fn(x, dim=dim, keepdim=keepdim)), (distinct(2, 5, 3),), has=[op])


def test_argmax_ties_give_the_first_index():
    x = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    check(Fn(lambda x: torch.argmax(x, 1)), (x,))


def test_argmax_over_channels_of_nhwc_activation():
    conv = torch.nn.Conv2d(3, 6, 3, padding=1)
    check(Fn(lambda x: torch.argmax(conv(x), 1)), (torch.randn(1, 3, 8, 8),))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("fn, ops", [(torch.max, ["REDUCE_MAX", "ARG_MAX"]), (torch.min, ["REDUCE_MIN", "ARG_MIN"])])
def test_max_min_dim(fn, ops, keepdim):
    check(Fn(lambda x: tuple(fn(x, 1, keepdim=keepdim))), (distinct(2, 5, 3),), has=ops)


def test_max_dim_values_only_has_no_argmax():
    hist = check(Fn(lambda x: torch.max(x, -1)[0] * 2), (distinct(3, 4),))
    assert "ARG_MAX" not in hist


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.int32])
@pytest.mark.parametrize("fn, op", [(torch.max, "REDUCE_MAX"), (torch.min, "REDUCE_MIN")])
def test_max_min_over_all_elements(fn, op, dtype):
    """torch.max(x) without a dim (longrope RoPE picks its frequencies by max(position_ids))."""
    x = torch.randint(-50, 50, (2, 5, 3)).to(dtype)
    check(Fn(lambda x: fn(x) + 1), (x,), has=[op])
