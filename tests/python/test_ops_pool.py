"""avg_pool2d in every padding / ceil_mode / count_include_pad / divisor_override combination, and
adaptive_avg_pool2d with uneven windows (issue 10), on XNNPACK and the builtin kernels. TFLite's
AVERAGE_POOL_2D divides by in-bounds taps only; PyTorch's divisor is different in most of these."""

import itertools

import pytest
import torch
import torch.nn.functional as F

import pt2tflite

from parity import Fn, check

CASES = [  # (H, W, kernel, stride, padding)
    (7, 7, 3, 2, 1), (8, 8, 3, 2, 1), (6, 9, 2, 2, 0), (5, 5, 3, 2, 0), (9, 6, (3, 2), (2, 1), (1, 0)),
    (10, 10, 4, 3, 2),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("ceil_mode, include_pad", list(itertools.product([False, True], [False, True])))
def test_avg_pool2d(case, ceil_mode, include_pad):
    h, w, k, s, p = case
    fn = Fn(lambda x: F.avg_pool2d(x, k, s, p, ceil_mode=ceil_mode, count_include_pad=include_pad))
    check(fn, (torch.randn(2, 3, h, w),), atol=1e-6)


@pytest.mark.parametrize("divisor", [1, 5])
def test_avg_pool2d_divisor_override(divisor):
    fn = Fn(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, divisor_override=divisor))
    check(fn, (torch.randn(1, 4, 7, 7),), atol=1e-5)


def test_avg_pool2d_op_choice():
    # timm's ResNet-D downsample (ceil_mode, count_include_pad=False) on odd sizes is SAME padding.
    hist = check(Fn(lambda x: F.avg_pool2d(x, 2, 2, ceil_mode=True, count_include_pad=False)),
                 (torch.randn(1, 4, 7, 7),), atol=1e-6)
    assert hist == {"AVERAGE_POOL_2D": 1, "TRANSPOSE": 2}, hist
    # count_include_pad with a ceil_mode window past the padded input: PAD + VALID + one MUL.
    hist = check(Fn(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)),
                 (torch.randn(1, 4, 8, 8),), atol=1e-6)
    assert hist == {"PAD": 1, "AVERAGE_POOL_2D": 1, "MUL": 1, "TRANSPOSE": 2}, hist


@pytest.mark.parametrize("hw, out", [((5, 6), 3), ((7, 7), (3, 2)), ((10, 9), 4), ((14, 14), (5, 7)), ((6, 6), 4)])
def test_adaptive_avg_pool2d_uneven(hw, out):
    conv = torch.nn.Conv2d(3, 4, 1)
    hist = check(Fn(lambda x: F.adaptive_avg_pool2d(conv(x), out)), (torch.randn(2, 3, *hw),), atol=1e-5)
    assert hist.get("TRANSPOSE", 0) == 2, hist  # the model's input and output only


@pytest.mark.parametrize("case", [(1, 5, 2, 2, 0), (2, 2, 3, 2, 0), (1, 1, 3, 3, 1), (3, 1, 4, 2, 1)])
@pytest.mark.parametrize("op", ["avg", "avg_include_pad", "max"])
def test_pool_window_larger_than_input_with_ceil_mode(case, op):
    # With ceil_mode PyTorch allows a window larger than the (padded) input and clips it (kernel 2
    # over one row: one window). The shape rule once rejected these (difftest 0:331, 0:978).
    h, w, k, s, p = case
    if op == "max":
        fn = Fn(lambda x: F.max_pool2d(x, k, s, p, ceil_mode=True))
    else:
        fn = Fn(lambda x: F.avg_pool2d(x, k, s, p, ceil_mode=True, count_include_pad=op == "avg_include_pad"))
    check(fn, (torch.randn(2, 3, h, w),), atol=1e-6)



@pytest.mark.parametrize("dtype", [torch.int8, torch.uint8, torch.int16])
@pytest.mark.parametrize("padding, ceil_mode", [(1, False), (1, True), (0, True)])
def test_integer_max_pool_pads_with_the_lowest_value(dtype, padding, ceil_mode):
    """The padding of an integer max pool is the dtype's lowest value: it was -inf saturated and
    truncated to 0, so windows at the border of a negative int8 or int16 tensor gave 0."""
    lo = 0 if dtype == torch.uint8 else -100
    x = torch.linspace(lo, lo + 90, 2 * 3 * 7 * 7).round().reshape(2, 3, 7, 7).to(dtype)
    check(Fn(lambda v: F.max_pool2d(v, 3, 2, padding, ceil_mode=ceil_mode)), (x,))


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_max_pool_of_int32_and_int64_is_refused(dtype):
    """MAX_POOL_2D has no int32 or int64 kernel: such a file failed at invoke."""
    x = torch.arange(2 * 4 * 4).reshape(1, 2, 4, 4).to(dtype)
    with pytest.raises(pt2tflite.ConversionError, match="MAX_POOL_2D takes float32, int8, uint8 and int16"):
        pt2tflite.convert(Fn(lambda v: F.max_pool2d(v, 2)).eval(), (x,))
