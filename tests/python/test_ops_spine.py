"""Per-op parity for the spine's op set: each converted op runs in LiteRT and matches PyTorch eager."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from parity import Fn, check, undelegated

import pt2tflite



# (in_ch, out_ch, kernel, stride, padding, dilation, groups, bias, hw)
CONVS = [
    (3, 8, 3, 1, 1, 1, 1, True, 16),
    (3, 8, 3, 2, 1, 1, 1, True, 16),  # stride 2 on an even input: PAD + VALID
    (3, 8, 3, 2, 1, 1, 1, False, 15),  # odd input: SAME; no bias → a zero bias
    (4, 8, 5, 1, 2, 2, 1, True, 17),  # dilation
    (8, 8, 3, 1, 1, 1, 8, True, 12),  # depthwise
    (8, 16, 3, 2, 1, 1, 8, True, 12),  # depthwise with multiplier 2
    (8, 16, 3, 1, 1, 1, 2, True, 10),  # grouped
    (3, 4, 1, 1, 0, 1, 1, True, 9),  # pointwise
    (3, 6, (3, 5), (2, 1), (1, 2), 1, 1, True, 11),  # rectangular
]


@pytest.mark.parametrize("cin,cout,k,s,p,d,g,bias,hw", CONVS)
def test_conv2d(cin, cout, k, s, p, d, g, bias, hw):
    conv = nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, groups=g, bias=bias)
    hist = check(conv, (torch.randn(2, cin, hw, hw),), atol=1e-4, rtol=1e-4)
    assert hist.get("CONV_2D", 0) + hist.get("DEPTHWISE_CONV_2D", 0) == 1
    if g == cin and g > 1:
        assert hist.get("DEPTHWISE_CONV_2D") == 1


@pytest.mark.parametrize("k,s,p,length", [(3, 1, 1, 20), (5, 2, 2, 33), (1, 1, 0, 8)])
def test_conv1d(k, s, p, length):
    check(nn.Conv1d(4, 6, k, stride=s, padding=p), (torch.randn(1, 4, length),), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("follow", ["none", "relu"])
def test_conv_batchnorm_is_folded(follow):
    bn = nn.BatchNorm2d(8)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-1, 1)
    layers = [nn.Conv2d(3, 8, 3, padding=1), bn] + ([nn.ReLU()] if follow == "relu" else [])
    hist = check(nn.Sequential(*layers), (torch.randn(1, 3, 12, 12),), atol=1e-4, rtol=1e-4)
    assert hist.get("CONV_2D") == 1 and "MUL" not in hist and "RELU" not in hist  # folded and fused


def test_standalone_batchnorm():
    bn = nn.BatchNorm2d(5)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    check(bn, (torch.randn(2, 5, 6, 7),))


ACTIVATIONS = {
    "relu": nn.ReLU(),
    "relu6": nn.ReLU6(),
    "hardtanh": nn.Hardtanh(-1.0, 1.0),
    "hardtanh_wide": nn.Hardtanh(-2.5, 3.0),
    "clamp_min": Fn(lambda x: torch.clamp(x, min=-0.5)),
    "hardswish": nn.Hardswish(),
    "hardsigmoid": nn.Hardsigmoid(),
    "sigmoid": nn.Sigmoid(),
    "silu": nn.SiLU(),
    "tanh": nn.Tanh(),
    "gelu": nn.GELU(),
    "gelu_tanh": nn.GELU(approximate="tanh"),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(2, 7), (1, 3, 5, 5), (2, 4, 3)])
def test_activation(name, shape):
    check(ACTIVATIONS[name], (torch.randn(*shape) * 4,))


@pytest.mark.parametrize("name", ["relu", "hardswish", "sigmoid", "silu"])
def test_activation_after_conv_stays_nhwc(name):
    hist = check(nn.Sequential(nn.Conv2d(3, 4, 3), ACTIVATIONS[name], nn.Conv2d(4, 4, 3)), (torch.randn(1, 3, 9, 9),), atol=1e-4, rtol=1e-4)
    assert hist.get("TRANSPOSE", 0) == 2  # at the input and the output, none between


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 0.5),
    "add_alpha_scalar": lambda a, b: torch.add(a, 2.0, alpha=3),
    "add_scalar": lambda a, b: a + 1.5,
    "rsub_scalar": lambda a, b: 1 - a,
    "mul_scalar": lambda a, b: a * 0.25,
    "div_scalar": lambda a, b: a / 3,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shape_a,shape_b", [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((1, 3, 4, 4), (3, 1, 1))])
def test_binary(name, shape_a, shape_b):
    check(Fn(BINARY[name]), (torch.randn(*shape_a), torch.randn(*shape_b)))


def test_binary_nhwc_with_channel_broadcast():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.scale = nn.Parameter(torch.randn(4, 1, 1))

        def forward(self, x, y):
            h = self.conv(x)
            return h * self.scale + h - y

    hist = check(M(), (torch.randn(1, 3, 8, 8), torch.randn(1, 4, 6, 6)), atol=1e-4, rtol=1e-4)
    # x in, and the conv result out to NCHW, where y is subtracted as it is; h·s + h is h·(s + 1),
    # which folds into the conv
    assert hist.get("TRANSPOSE", 0) == 2 and "MUL" not in hist and "ADD" not in hist, hist


POOLS = {
    "max3s2p1": nn.MaxPool2d(3, 2, 1),
    "max2": nn.MaxPool2d(2),
    "max3s2_ceil": nn.MaxPool2d(3, 2, ceil_mode=True),
    "max3s1p1": nn.MaxPool2d(3, 1, 1),
    "avg2": nn.AvgPool2d(2),
    "avg3s1p1_incl": nn.AvgPool2d(3, 1, 1),
    "avg3s1p1_excl": nn.AvgPool2d(3, 1, 1, count_include_pad=False),
    "avg3s2p1_incl": nn.AvgPool2d(3, 2, 1),
    "adaptive1": nn.AdaptiveAvgPool2d(1),
    "adaptive2": nn.AdaptiveAvgPool2d(2),
}


@pytest.mark.parametrize("name", sorted(POOLS))
@pytest.mark.parametrize("hw", [8, 9])
def test_pool(name, hw):
    # adaptive2 on 9x9 has uneven windows (a BATCH_MATMUL with an averaging matrix, test_ops_pool.py)
    hist = check(POOLS[name], (torch.randn(2, 3, hw, hw),))
    assert "GATHER" not in hist


@pytest.mark.parametrize("pool", [nn.AvgPool2d(1, 2), nn.MaxPool2d(1, 2), nn.AvgPool2d(1, (2, 3), ceil_mode=True)])
def test_one_by_one_pool_with_stride_is_a_depthwise_conv(pool):
    """XNNPACK refuses 1x1 pooling with stride > 1 (efficientformerv2's downsampling)."""
    x = torch.randn(1, 3, 9, 8)
    assert "DEPTHWISE_CONV_2D" in check(pool, (x,))
    assert undelegated(pt2tflite.convert(pool.eval(), (x,))) == {}


def test_max_pool_after_relu_pads_with_zeros():
    hist = check(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(3, 2, 1)), (torch.randn(1, 3, 12, 12),), atol=1e-4, rtol=1e-4)
    assert "PADV2" not in hist


class FireThenPool(nn.Module):
    """SqueezeNet: two ReLU branches concatenated, then a ceil_mode max pool (padding at the end)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)

    def forward(self, x):
        return self.pool(torch.cat([torch.relu(self.a(x)), torch.relu(self.b(x))], 1))


def test_max_pool_after_concatenated_relus_pads_with_zeros():
    model = FireThenPool()
    hist = check(model, (torch.randn(1, 3, 13, 13),), atol=1e-5)  # ceil_mode: 6x6, SAME would give 7x7
    assert "PAD" in hist and "PADV2" not in hist, hist
    assert undelegated(pt2tflite.convert(model.eval(), (torch.randn(1, 3, 13, 13),))) == {}


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dims", [(2, 3), (1,), (-1,)])
def test_mean(dims, keepdim):
    check(Fn(lambda x: x.mean(dims, keepdim=keepdim)), (torch.randn(2, 3, 4, 5),))


@pytest.mark.parametrize("shape", [(4, 16), (2, 5, 16), (2, 3, 4, 16)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias):
    hist = check(nn.Linear(16, 8, bias=bias), (torch.randn(*shape),), atol=1e-5, rtol=1e-4)
    assert hist.get("FULLY_CONNECTED") == 1


def test_matmul_of_activations():
    check(Fn(lambda a, b: torch.bmm(a, b)), (torch.randn(2, 3, 4), torch.randn(2, 4, 5),))
    check(Fn(lambda a, b: a @ b), (torch.randn(3, 4), torch.randn(4, 5)))


@pytest.mark.parametrize(
    "fn, a, b",
    [
        (lambda a, b: a @ b.transpose(-2, -1), (2, 3, 4), (2, 5, 4)),  # attention scores: q @ kᵀ
        (lambda a, b: a.transpose(-2, -1) @ b, (2, 4, 3), (2, 4, 5)),
        (lambda a, b: a.mT @ b.mT, (1, 2, 4, 3), (1, 2, 5, 4)),
    ],
)
def test_matmul_of_transposed_operands_uses_adj_flags(fn, a, b):
    check(Fn(fn), (torch.randn(*a), torch.randn(*b)), lacks=("TRANSPOSE",))


SHAPE_OPS = {
    "view": lambda x: x.view(2, -1),
    "flatten": lambda x: torch.flatten(x, 1),
    "permute": lambda x: x.permute(0, 2, 3, 1) * 2,
    "permute_back_and_forth": lambda x: x.permute(0, 2, 3, 1).permute(0, 3, 1, 2) + 1,
    "transpose": lambda x: x.transpose(1, 2).reshape(2, 3, -1),
    "unsqueeze": lambda x: x.unsqueeze(1) + 0,
    "squeeze": lambda x: x.sum(1, keepdim=True).squeeze(1),
    "clone": lambda x: x.clone() + x.contiguous(),
    "cat": lambda x: torch.cat([x, x * 2], dim=1),
    "cat_last": lambda x: torch.cat([x, x * 3], dim=-1),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_op(name):
    check(Fn(SHAPE_OPS[name]), (torch.randn(2, 3, 4, 5),))


def test_cat_of_nhwc_branches_stays_nhwc():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 1)
            self.b = nn.Conv2d(3, 5, 3, padding=1)

        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], 1).mean((2, 3))

    hist = check(M(), (torch.randn(1, 3, 8, 8),), atol=1e-4, rtol=1e-4)
    assert hist.get("TRANSPOSE") == 1


@pytest.mark.parametrize("dim", [-1, 1, 0])
@pytest.mark.parametrize("log", [False, True])
def test_softmax(dim, log):
    fn = (lambda x: F.log_softmax(x, dim)) if log else (lambda x: F.softmax(x, dim))
    check(Fn(fn), (torch.randn(3, 4, 5),))


# ---- issue 10: alpha != 1, maximum / minimum, div with a rounding mode.

@pytest.mark.parametrize("alpha", [3, -0.5])
@pytest.mark.parametrize("op", [torch.add, torch.sub])
def test_add_sub_alpha_tensor(op, alpha):
    check(Fn(lambda x, y: op(x, y, alpha=alpha)), (torch.randn(2, 3, 4), torch.randn(3, 4)), has=["MUL"])


@pytest.mark.parametrize("op, name", [(torch.maximum, "MAXIMUM"), (torch.minimum, "MINIMUM")])
def test_maximum_minimum(op, name):
    check(Fn(lambda x, y: op(x, y)), (torch.randn(1, 3, 5, 5), torch.randn(1, 1, 5, 5)), has=[name])


def test_maximum_of_constant_and_scalar_is_not_a_division():
    # fold_with_scalar used to treat every op it did not know as DIV.
    c = torch.arange(6.0).reshape(2, 3)
    check(Fn(lambda x: x + torch.maximum(c, torch.tensor(2.0))), (torch.randn(2, 3),))


def test_div_floor_matches_pytorch_not_floor_of_quotient():
    # 1 // 0.1 is 9 in PyTorch (and Python), while FLOOR(1 / 0.1) is 10.
    x = torch.tensor([1.0, -1.0, 7.0, -7.0, 0.3, 5.5, -5.5, 0.0])
    y = torch.tensor([0.1, 0.1, 2.0, 2.0, 0.1, -2.0, -2.0, 3.0])
    check(Fn(lambda a, b: torch.div(a, b, rounding_mode="floor")), (x, y), atol=0, has=["FLOOR_MOD"])


@pytest.mark.parametrize("mode", ["floor", "trunc"])
def test_div_mode_random(mode):
    x, y = torch.randn(2, 3, 8) * 10, torch.randn(3, 8) + torch.sign(torch.randn(3, 8)) * 0.2
    check(Fn(lambda a, b: torch.div(a, b, rounding_mode=mode)), (x, y), atol=0)
    check(Fn(lambda a: torch.div(a, 0.7, rounding_mode=mode)), (x,), atol=0)


@pytest.mark.parametrize("mode, op", [("floor", "FLOOR_DIV"), ("trunc", "DIV")])
def test_div_mode_int64_indices_run_in_int32(mode, op):
    # RT-DETR's query index: topk indices // num_classes. TFLite divides int32 only; the indices are
    # below the size of the dim they index, so int32 is exact (ir/int_bounds).
    def f(x):
        scores, index = x.flatten(1).topk(7, dim=1)
        shifted = index - 40 + x.argmax(-1).flatten(1)[:, :1]  # negative values too
        return torch.div(shifted, 6, rounding_mode=mode), torch.div(index, 6, rounding_mode=mode) * 6 + index % 6

    check(Fn(f), (torch.randn(2, 8, 10),), has=[op, "CAST"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.int32, torch.int64])
def test_remainder_takes_the_divisors_sign(dtype):
    a = (torch.randn(3, 8) * 20).to(dtype)
    b = torch.tensor([3, -3, 7, -7, 2, 5, -2, 9]).to(dtype)
    check(Fn(lambda a, b: (a % b, torch.remainder(a, -4), a.remainder(3))), (a, b), has=["FLOOR_MOD"])


def test_div_mode_int64_of_unbounded_values_is_refused():
    # A model input may hold any int64: narrowing it to int32 could wrap silently.
    with pytest.raises(pt2tflite.ConversionError, match="not proven to fit in int32"):
        pt2tflite.convert(Fn(lambda a: torch.div(a, 3, rounding_mode="floor")).eval(),
                          (torch.randint(-9, 9, (4,), dtype=torch.int64),))


@pytest.mark.parametrize("mode, op", [("floor", "FLOOR_DIV"), ("trunc", "DIV")])
def test_div_mode_int32(mode, op):
    x = torch.randint(-50, 50, (3, 8), dtype=torch.int32)
    y = torch.randint(1, 7, (3, 8), dtype=torch.int32) * torch.where(torch.rand(3, 8) > 0.5, 1, -1).int()
    check(Fn(lambda a, b: torch.div(a, b, rounding_mode=mode)), (x, y), has=[op])
