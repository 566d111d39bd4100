"""Unary math and pow: exp / log / log1p / sqrt / rsqrt / neg / abs / pow.Tensor_Scalar."""

import pytest
import torch

from parity import Fn, check

SHAPES = [(5,), (2, 3, 4), (1, 3, 4, 4)]


def positive(shape):
    return torch.rand(shape) * 4 + 0.1


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "fn, op, domain",
    [
        (torch.exp, "EXP", torch.randn),
        (torch.log, "LOG", positive),
        (torch.sqrt, "SQRT", positive),
        (torch.rsqrt, "RSQRT", positive),
        (torch.neg, "NEG", torch.randn),
        (torch.abs, "ABS", torch.randn),
    ],
)
def test_unary(shape, fn, op, domain):
    check(Fn(fn), (domain(shape),), has=[op])


@pytest.mark.parametrize("shape", SHAPES)
def test_log1p(shape):
    # Absolute accuracy only: XNNPACK's LOG is off by ~1.2e-7 near 1.
    x = torch.rand(shape) * 10.0 ** torch.randint(-12, 1, shape).float()
    check(Fn(torch.log1p), (x,), atol=2.5e-7, rtol=1e-6, has=["LOG"])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "exponent, op, absent",
    [(2, "MUL", "POW"), (2.0, "MUL", "POW"), (0.5, "SQRT", "POW"), (-0.5, "RSQRT", "POW"), (-1, "DIV", "POW"), (3.0, "POW", None)],
)
def test_pow_scalar(shape, exponent, op, absent):
    check(Fn(lambda x: torch.pow(x, exponent)), (positive(shape),), rtol=1e-5, has=[op], lacks=[absent] if absent else [])


def test_pow_one_is_free():
    hist = check(Fn(lambda x: torch.pow(x, 1) + 1), (torch.randn(3, 4),))
    assert hist == {"ADD": 1}


def test_pow_of_a_0d_base_broadcasts_to_the_exponent():
    # BLOOM's ALiBi slopes: pow(base [], powers [n]). The shape check once took the base's shape.
    # Folded at convert time (a run-time pow.Tensor_Tensor has no lowering yet).
    check(Fn(lambda x: x * torch.pow(torch.tensor(0.7), torch.arange(1, 5, dtype=torch.float32))),
          (torch.randn(3, 4),))


def test_pow_square_of_integers():
    check(Fn(lambda x: x**2), (torch.randint(-50, 50, (3, 4), dtype=torch.int32),), has=["MUL"])


# ---- sin / cos / sign / rounding / reciprocal (issue 10): XNNPACK and the builtin kernels.

@pytest.mark.parametrize("shape", [(7,), (1, 3, 4, 4)])
@pytest.mark.parametrize(
    "fn, op, atol",
    [
        (torch.sin, "SIN", 2e-6),
        (torch.cos, "COS", 2e-6),
        (torch.sign, "SIGN", 0),
        (torch.floor, "FLOOR", 0),
        (torch.ceil, "CEIL", 0),
        (torch.round, "ROUND", 0),
        (torch.reciprocal, "DIV", 1e-6),
    ],
)
def test_unary_issue10(shape, fn, op, atol):
    x = torch.randn(shape) * 4
    x.view(-1)[:4] = torch.tensor([2.5, -1.5, 0.0, 0.5])[: x.numel()]  # ties round to even
    if fn is torch.reciprocal:
        x = x.abs() + 0.1
    check(Fn(fn), (x,), atol=atol, rtol=1e-6, has=[op])


def test_sin_cos_of_conv_output_nhwc():
    # The YOLO-OBB angle head: sin/cos of an activation stored NHWC, no TRANSPOSE for them.
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    hist = check(Fn(lambda x: torch.cat([torch.sin(conv(x)), torch.cos(conv(x))], 1)), (torch.randn(1, 3, 8, 8),),
                 atol=2e-6, rtol=1e-5, has=["SIN", "COS"])
    assert hist.get("TRANSPOSE", 0) <= 2


def test_integer_floor_is_identity():
    check(Fn(lambda x: torch.floor(x) + 1), (torch.arange(12).reshape(3, 4).int(),))


def test_abs_of_run_time_int64_is_refused_not_a_file_litert_rejects():
    # MPNet's relative-position buckets took abs of an int64 tensor: the file did not load in LiteRT.
    import pt2tflite

    with pytest.raises(pt2tflite.ConversionError, match="int64"):
        pt2tflite.convert(Fn(lambda x: torch.abs(x) + 1).eval(), (torch.arange(-3, 3),))
    check(Fn(lambda x: torch.abs(x) + 1), (torch.arange(-3, 3).int(),))


def test_clamp_with_tensor_bounds():
    # Gemma's vision tower clamps with tensor bounds; each bound may be missing, all broadcast.
    x = torch.randn(2, 3, 4) * 3
    lo, hi = -torch.rand(3, 1), torch.rand(4)
    check(Fn(lambda x, lo, hi: torch.clamp(x, lo, hi)), (x, lo, hi), has=["MAXIMUM", "MINIMUM"])
    check(Fn(lambda x, lo: torch.clamp(x, min=lo)), (x, lo), has=["MAXIMUM"])
    check(Fn(lambda x, hi: torch.clamp(x, max=hi)), (x, hi), has=["MINIMUM"])
    check(Fn(lambda x: torch.clamp(x[:1], torch.tensor(-0.5), torch.ones(2, 3, 4))), (x,))


@pytest.mark.parametrize("c", [1.5, -0.7, 3.0])
def test_fmod_of_run_time_tensor_keeps_the_dividends_sign(c):
    # fmod (C's %) takes the dividend's sign; TFLite's FLOOR_MOD the divisor's. Both runtimes, exact
    # values: x spans both signs, several periods, exact multiples of c (fmod 0) and zero.
    x = torch.cat([torch.randn(40) * 7, torch.tensor([0.0, 3 * c, -2 * c, c / 2, -c / 2])]).reshape(5, 9)
    check(Fn(lambda x: torch.fmod(x, c)), (x,), atol=1e-6, rtol=0, has=["FLOOR_MOD", "SIGN"])
    check(Fn(lambda x: torch.relu(torch.fmod(x * 2.0, c)) + x), (x,), atol=1e-5)
