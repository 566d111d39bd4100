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
