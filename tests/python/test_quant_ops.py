"""Per-op int8 parity: a tiny module quantized with pt2tflite.quantize runs as native int8 TFLite
ops (no float island: one QUANTIZE per input, one DEQUANTIZE at the output) and matches the
PT2E reference within 1 LSB of the output scale.

The op under test reads the quantized model input where its annotation allows, so it sees the
same int8 values as the reference (TFLite's QUANTIZE and torch differ only at exact .5 ties). Ops
that share their input's parameters read a conv's output instead: they are exact, so the conv's
own 1 LSB is what they pass on."""

import pytest
import torch
import torch.nn.functional as F

from parity import Fn
from quant_parity import check_int8

X = (torch.randn(1, 8, 10, 10, generator=torch.Generator().manual_seed(0)),)


def assert_one_island(hist, inputs=1):
    assert hist.get("QUANTIZE") == inputs and hist.get("DEQUANTIZE") == 1, hist


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize(
    "conv",
    [
        dict(kernel_size=3, padding=1),
        dict(kernel_size=3, stride=2, padding=1),  # PAD + VALID, the PAD in int8
        dict(kernel_size=1),
        dict(kernel_size=3, dilation=2, padding=2),
    ],
    ids=["same", "stride2", "1x1", "dilated"],
)
def test_conv_relu(per_channel, conv):
    m = torch.nn.Sequential(torch.nn.Conv2d(8, 16, **conv), torch.nn.ReLU())
    hist, _, _ = check_int8(m, X, per_channel=per_channel, has=["CONV_2D"], lacks=["RELU"])
    assert hist["TRANSPOSE"] == 2, hist  # NCHW model input → NHWC, and back at the output


@pytest.mark.parametrize("per_channel", [False, True])
def test_depthwise_relu6(per_channel):
    m = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1, groups=8), torch.nn.ReLU6())
    assert_one_island(check_int8(m, X, per_channel=per_channel, has=["DEPTHWISE_CONV_2D"], lacks=["RELU6"])[0])


def test_conv_without_bias():
    m = torch.nn.Conv2d(8, 4, 3, bias=False)
    assert_one_island(check_int8(m, X, has=["CONV_2D"])[0])


@pytest.mark.parametrize("per_channel", [False, True])
def test_linear_relu(per_channel):
    m = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU())
    assert_one_island(check_int8(m, (torch.randn(4, 16),), per_channel=per_channel, has=["FULLY_CONNECTED"])[0])


def test_linear_on_3d_input():
    m = torch.nn.Linear(16, 8)
    assert_one_island(check_int8(m, (torch.randn(2, 5, 16),), has=["FULLY_CONNECTED"])[0])


def test_conv_transpose():
    m = torch.nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)
    assert_one_island(check_int8(m, X, has=["TRANSPOSE_CONV"])[0])


@pytest.mark.parametrize(
    "op,tfl",
    [
        (lambda a, b: a + b, "ADD"),
        (lambda a, b: F.relu(a + b), "ADD"),
        (lambda a, b: a * b, "MUL"),
        (lambda a, b: torch.cat([a, b], dim=1), "CONCATENATION"),
    ],
    ids=["add", "add_relu", "mul", "cat"],
)
def test_binary(op, tfl):
    a, b = X[0], torch.randn(1, 8, 10, 10) * 2
    assert_one_island(check_int8(Fn(op), (a, b), has=[tfl])[0], inputs=2)


class ConvThen(torch.nn.Module):
    """A quantized conv, then `fn` on its output (so `fn` sees an int8 input)."""

    def __init__(self, fn):
        super().__init__()
        self.conv = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.conv(x))


@pytest.mark.parametrize(
    "fn,tfl",
    [
        (lambda y: F.max_pool2d(y, 2), "MAX_POOL_2D"),
        (lambda y: F.max_pool2d(F.relu(y), 3, 2, 1), "MAX_POOL_2D"),
        (lambda y: F.avg_pool2d(y, 2), "AVERAGE_POOL_2D"),
        (lambda y: F.adaptive_avg_pool2d(y, 1).flatten(1), "MEAN"),
        (lambda y: y.mean(dim=(2, 3)), "MEAN"),
        (lambda y: F.pad(y, (1, 1, 2, 0)), "PAD"),
        (lambda y: y.reshape(1, 8, 100), "RESHAPE"),
    ],
    ids=["maxpool", "maxpool_pad", "avgpool", "adaptive_avgpool", "mean", "pad", "reshape"],
)
def test_shared_params(fn, tfl):
    assert_one_island(check_int8(ConvThen(fn), X, has=[tfl])[0])


@pytest.mark.parametrize(
    "fn,tfl",
    [(F.hardswish, "HARD_SWISH"), (torch.sigmoid, "LOGISTIC"), (torch.tanh, "TANH")],
    ids=["hardswish", "sigmoid", "tanh"],
)
def test_activation(fn, tfl):
    assert_one_island(check_int8(Fn(fn), (X[0] * 3,), has=[tfl])[0])


def test_softmax():
    m = Fn(lambda x: torch.softmax(x, dim=-1))
    assert_one_island(check_int8(m, (torch.randn(3, 16) * 3,), has=["SOFTMAX"])[0])


def test_unquantized_op_stays_float_between_dequantize_and_quantize():
    # GELU has no annotation: it runs in float, the convs around it in int8.
    m = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 1), torch.nn.GELU(), torch.nn.Conv2d(8, 8, 1))
    hist, _, _ = check_int8(m, X, has=["CONV_2D", "GELU"])
    assert hist["QUANTIZE"] == 2 and hist["DEQUANTIZE"] == 2, hist


def test_cat_reading_one_tensor_twice():
    """difftest 0:32: cat([x, x, y]) made the quantizer share x's parameters with x itself, and
    prepare_pt2e recursed until RecursionError."""
    check_int8(Fn(lambda x, y: torch.cat([x, x, y], -2)), (torch.randn(1, 7, 1, 10), torch.randn(1, 7, 1, 10)),
               has=("CONCATENATION",))


class _TwoCatsOppositeOrders(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 8)

    def forward(self, x):
        a = self.fc(x)
        b = F.relu6(a)
        return torch.cat([torch.cat([b, a], 1), torch.cat([a, b], 1)], 0)


def test_two_cats_reading_two_tensors_in_opposite_orders():
    """difftest long run 0:48192: cat([b, a]) and cat([a, b]) with b = relu6(a). Each cat shared its
    other input's parameters with its first input edge, the two sharings pointed at each other, and
    prepare_pt2e recursed until RecursionError."""
    check_int8(_TwoCatsOppositeOrders(), (torch.randn(5, 8),), has=("CONCATENATION",))


def test_int8_softmax_input_also_read_elsewhere():
    """difftest 2026:20, minimized: y = depthwise_conv1d(x) + s; outputs softmax(y, -1) and y.view(-1, 15).
    XNNPACK matched the PT2E reference exactly; the builtin kernels returned y.view wrong by ~1.5x max|ref|:
    LiteRT's arena planner let an in-place kernel write over a RESHAPE's shared buffer while the
    tensor had other readers (fixed by passes/guard_inplace_aliases.cc)."""
    from quant_parity import quantize

    import pt2tflite

    g = torch.Generator().manual_seed(1662752653)
    w = torch.randn((5, 1, 3), generator=g) * 0.5773502691896258
    b = torch.randn((5,), generator=torch.Generator().manual_seed(760951177)) * 0.2

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w, self.b = torch.nn.Parameter(w), torch.nn.Parameter(b)

        def forward(self, s, x):
            y = F.conv1d(x, self.w, self.b, padding=1, groups=5) + s
            return torch.softmax(y, 2), y.view(-1, 15)

    model = Net()
    seed = 25440926
    inputs = (torch.randn((1, 1, 1), generator=torch.Generator().manual_seed(seed)),
              torch.randn((3, 5, 1), generator=torch.Generator().manual_seed(seed)))
    ref = quantize(model, inputs)
    tfl = pt2tflite.convert(ref, inputs)
    want = [w.detach().numpy() for w in ref(*inputs)]
    for runtime in (tfl, pt2tflite.Model(tfl.tflite_bytes, xnnpack=False)):
        got = runtime(*inputs)
        for g, w in zip(got, want):
            assert abs(g - w).max() <= 0.05 * abs(w).max() + 0.02
