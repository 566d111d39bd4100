"""repeat, flip and unfold (issue 10), on XNNPACK and the builtin kernels."""

import pytest
import torch

from parity import Fn, check


@pytest.mark.parametrize("shape, repeats, ops", [
    ((2, 3), (2, 1), ["CONCATENATION"]),
    ((2, 3), (3, 1, 2), ["CONCATENATION"]),
    ((1, 2, 3, 3), (1, 6, 1, 2), ["TILE"]),
    ((4,), (1,), []),
])
def test_repeat(shape, repeats, ops):
    check(Fn(lambda x: x.repeat(*repeats)), (torch.randn(shape),), has=ops)


def test_repeat_nhwc_activation_keeps_its_layout():
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    hist = check(Fn(lambda x: torch.relu(conv(x).repeat(1, 2, 1, 1))), (torch.randn(1, 3, 6, 6),))
    assert hist.get("TRANSPOSE", 0) == 2  # the model's input and output only


@pytest.mark.parametrize("dims", [(0,), (1,), (-1,), (0, 2), (1, 2, 3)])
def test_flip(dims):
    shape = (2, 3, 4) if max(dims) < 3 else (1, 2, 3, 4)
    check(Fn(lambda x: x.flip(dims)), (torch.randn(shape),), has=["REVERSE_V2"])


def test_flip_int():
    check(Fn(lambda x: x.flip(1)), (torch.arange(12).reshape(3, 4),))


@pytest.mark.parametrize("shape, dim, size, step", [
    ((2, 8, 3), 1, 2, 2),
    ((2, 9, 3), 1, 2, 2),
    ((2, 8, 3), 1, 3, 1),
    ((10,), 0, 4, 3),
    ((2, 3, 7), -1, 2, 5),
])
def test_unfold(shape, dim, size, step):
    check(Fn(lambda x: x.unfold(dim, size, step) * 1.5), (torch.randn(shape),))
