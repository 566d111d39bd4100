"""Tensor factories folded at convert time: arange, full, full_like, scalar_tensor."""

import pytest
import torch

import pt2tflite

from parity import Fn, check


def test_arange_and_full_fold_to_constants():
    def f(x):
        pos = torch.arange(2, 2 + x.shape[-1] * 3, 3, dtype=torch.float32)
        return x * pos + torch.full((x.shape[-1],), 0.25) + torch.zeros_like(x) + torch.ones(1)

    hist = check(Fn(f), (torch.randn(2, 5),))
    assert set(hist) <= {"MUL", "ADD"}, hist


def test_integer_arange_as_indices():
    hist = check(Fn(lambda x: x[:, torch.arange(4) * 2]), (torch.randn(3, 8),), has=["GATHER"])
    assert "CAST" not in hist  # constant indices are narrowed to int32 at convert time


def test_scalar_tensor_in_where():
    check(Fn(lambda x: torch.where(x > 0, x, torch.tensor(0.5))), (torch.randn(3, 4),), has=["SELECT_V2"])


@pytest.mark.parametrize(
    "dtype,value",
    [
        (torch.float32, 1.5),
        (torch.float16, -2.25),
        (torch.int64, -3),
        (torch.int32, 7),
        (torch.int16, -300),
        (torch.int8, -5),
        (torch.uint8, 200),
        (torch.bool, True),
    ],
)
def test_full_of_every_dtype(dtype, value):
    def f(x):
        c = torch.full((3, 4), value, dtype=dtype)
        return x | c if dtype == torch.bool else x + c

    x = torch.randint(0, 2, (3, 4)).to(dtype) if dtype == torch.bool else (torch.randn(3, 4) * 4).to(dtype)
    check(Fn(f), (x,))


@pytest.mark.parametrize(
    "factory,count",
    [
        (lambda: torch.full((8193, 8192), 0.5), 8193 * 8192),
        (lambda: torch.arange(2**26 + 1), 2**26 + 1),
    ],
    ids=["full", "arange"],
)
def test_a_factory_too_big_to_fold_is_refused_by_name(factory, count):
    # Folding holds up to 16 bytes per element; above 2^26 elements the node is refused with
    # its size rather than the conversion asking for gigabytes (a fuzzed arange asked for 16 GB).
    with pytest.raises(pt2tflite.ConversionError, match=f"a tensor factory of {count} elements is above"):
        pt2tflite.convert(Fn(lambda x: x + factory().sum()).eval(), (torch.randn(3),))
