"""Comparisons, logical ops and where.self."""

import operator

import pytest
import torch

from parity import Fn, check

OPS = [
    (operator.eq, "EQUAL"),
    (operator.ne, "NOT_EQUAL"),
    (operator.lt, "LESS"),
    (operator.le, "LESS_EQUAL"),
    (operator.gt, "GREATER"),
    (operator.ge, "GREATER_EQUAL"),
]


def small_ints(shape, dtype=torch.float32):
    return torch.randint(-2, 3, shape).to(dtype)  # few values, so equality is often true


@pytest.mark.parametrize("op, tfl", OPS)
@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)])
def test_compare_tensor(op, tfl, shape):
    check(Fn(op), (small_ints(shape), small_ints(shape)), has=[tfl])


@pytest.mark.parametrize("op, tfl", OPS)
def test_compare_broadcast(op, tfl):
    check(Fn(op), (small_ints((2, 3, 4)), small_ints((3, 1))), has=[tfl])


@pytest.mark.parametrize("op, tfl", OPS)
@pytest.mark.parametrize("scalar", [1, 0.5])
def test_compare_scalar(op, tfl, scalar):
    check(Fn(lambda x: op(x, scalar)), (small_ints((2, 5)),), has=[tfl])


@pytest.mark.parametrize("op, tfl", OPS)
def test_compare_int_tensor_with_float_scalar(op, tfl):
    # PyTorch compares an integer tensor with a float scalar in float: 1 > 0.5.
    check(Fn(lambda x: op(x, 0.5)), (small_ints((2, 5), torch.int32),), has=[tfl])


def test_bool_bitwise_ops():
    check(Fn(lambda a, b: ~((a > 0) & (b > 0)) | (a < b)), (small_ints((2, 5)), small_ints((2, 5))), has=["LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR"])


SPECIAL = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1.5, -2.0, float("nan")])


@pytest.mark.parametrize("shape", [(8,), (2, 4), (1, 2, 2, 2)])
def test_isnan(shape):
    check(Fn(torch.isnan), (SPECIAL.reshape(shape),), has=["NOT_EQUAL"])


def test_isnan_of_integers_is_false():
    check(Fn(lambda x: torch.isnan(x) | (x > 0)), (small_ints((2, 5), torch.int32),), has=["NOT_EQUAL"])


def test_nan_to_num():
    # nan_to_num decomposes into isnan(x) and x == ±inf, each selecting its replacement with where.
    check(Fn(lambda x: torch.nan_to_num(x, nan=0.5, posinf=9.0, neginf=-9.0) * 2), (SPECIAL.reshape(2, 4),))


def test_logical_ops():
    def f(a, b):
        return torch.logical_or(torch.logical_and(a > 0, b), torch.logical_not(a < 1)), torch.logical_or(a, b > 0)

    check(Fn(lambda a, b: f(a, b)[0]), (small_ints((2, 5)), small_ints((2, 5)) > 0), has=["LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR"])
    check(Fn(lambda a, b: f(a, b)[1]), (small_ints((2, 5)), small_ints((2, 5))), has=["LOGICAL_OR", "NOT_EQUAL"])


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_where(shape):
    check(Fn(lambda c, a, b: torch.where(c > 0, a, b)), (torch.randn(shape), torch.randn(shape), torch.randn(shape)), has=["SELECT_V2"])


def test_where_broadcasts_scalar_and_lower_rank():
    check(Fn(lambda c, a: torch.where(c > 0, a, 0.5)), (torch.randn(2, 3, 4), torch.randn(4)), has=["SELECT_V2"])


def test_where_in_nhwc_layout():
    conv = torch.nn.Conv2d(3, 4, 3)
    m = Fn(lambda x: (lambda y: torch.where(y > 0, y, y * 0.1))(conv(x)))
    check(m, (torch.randn(1, 3, 8, 8),), atol=1e-4, has=["SELECT_V2"])
