"""topk and sort → TOPK_V2 (issue 10), on XNNPACK and the builtin kernels."""

import pytest
import torch

from parity import Fn, check


def distinct(*shape):
    return torch.randperm(int(torch.tensor(shape).prod())).float().reshape(shape) / 5 - 4


@pytest.mark.parametrize("k, dim, largest", [(3, -1, True), (2, 1, True), (4, 0, False), (5, -1, False), (1, 1, True)])
def test_topk(k, dim, largest):
    check(Fn(lambda x: tuple(torch.topk(x, k, dim=dim, largest=largest))), (distinct(6, 5, 7),),
          has=["TOPK_V2"])


def test_topk_values_only_and_int32():
    check(Fn(lambda x: torch.topk(x, 3).values * 2), (distinct(4, 9),))
    check(Fn(lambda x: tuple(torch.topk(x, 2))), (torch.randperm(20).int().reshape(4, 5),))


@pytest.mark.parametrize("dim, descending", [(-1, False), (-1, True), (0, True), (1, False)])
def test_sort(dim, descending):
    check(Fn(lambda x: tuple(torch.sort(x, dim=dim, descending=descending))), (distinct(3, 6, 4),),
          has=["TOPK_V2"])


def test_topk_of_nhwc_channels():
    conv = torch.nn.Conv2d(3, 8, 1)
    check(Fn(lambda x: tuple(torch.topk(conv(x), 3, dim=1))), (torch.randn(1, 3, 4, 4),), atol=1e-5)
