"""Integer and bool tensors through elementwise math, compares and reductions, against PyTorch.

LiteRT's kernels read an int8, uint8 or int16 tensor without quantization parameters as quantized
(an ADD aborted the process, a MUL or RELU wrote zeros), refuse bool arithmetic and integer RELU,
and a SUM of int32 declared int64 read past its buffer. lower/kernel_dtypes.h decides the CASTs
that make each op one the kernels run. Every (op, dtype) pair here either is refused with a
ConversionError or gives PyTorch's values and dtype exactly, with XNNPACK and with the builtin
kernels alone; the pairs in MUST_CONVERT may not be refused.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pt2tflite
from parity import Fn

DTYPES = {
    "int8": torch.int8,
    "uint8": torch.uint8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}

OPS = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "add_int": lambda x, y: x + 1,
    "sub_int": lambda x, y: x - 1,
    "mul_int": lambda x, y: x * 3,
    "add_float": lambda x, y: x + 1.5,
    "mul_float": lambda x, y: x * 0.5,
    "div": lambda x, y: x / 2,
    "remainder": lambda x, y: x % 3,
    "neg": lambda x, y: -x,
    "abs": lambda x, y: x.abs(),
    "relu": lambda x, y: torch.relu(x),
    "relu6": lambda x, y: torch.nn.functional.relu6(x),
    "clamp_int": lambda x, y: x.clamp(min=1, max=4),
    "clamp_float": lambda x, y: x.clamp(max=2.5),
    "clamp_min0": lambda x, y: x.clamp(min=0),
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "square": lambda x, y: x * x,
    "where": lambda x, y: torch.where(x > y, x, y),
    "eq": lambda x, y: x == y,
    "lt_int": lambda x, y: x < 2,
    "gt": lambda x, y: x > y,
    "exp": lambda x, y: torch.exp(x),
    "sqrt": lambda x, y: torch.sqrt(x),
    "sum": lambda x, y: x.sum(dim=1),
    "cumsum": lambda x, y: x.cumsum(dim=1),
    "amax": lambda x, y: x.amax(dim=1),
    "argmax": lambda x, y: x.argmax(dim=1),
    "mean_of_float": lambda x, y: x.float().mean(dim=1),
    "cat_relu": lambda x, y: torch.relu(torch.cat([x, y], 1)),
    "add_relu": lambda x, y: torch.relu(x + y),
    "chunk": lambda x, y: x.chunk(2, -1)[1],  # SPLIT has no bool kernel
}

# Integer math a model may well hold (index arithmetic, masks, counts): refusing it is a gap.
MUST_CONVERT = {
    (op, dt)
    for op in ("add", "mul", "add_int", "mul_int", "maximum", "minimum", "where", "eq", "gt", "relu", "clamp_int",
               "clamp_float", "sum", "amax", "cat_relu", "add_relu", "exp", "mul_float")
    for dt in ("int8", "uint8", "int16", "int32", "int64")
} | {(op, dt) for op in ("chunk",) for dt in DTYPES} | {
    (op, "bool") for op in ("add", "mul", "maximum", "minimum", "eq", "sum", "amax", "where")}


def _inputs(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    if dtype == torch.bool:
        return torch.tensor([[True, False, True, False]]), torch.tensor([[True, True, False, False]])
    if dtype == torch.uint8:  # 250 + 7, 250 * 3: the narrow results wrap as PyTorch's do
        return torch.tensor([[3, 0, 2, 250]], dtype=dtype), torch.tensor([[1, 7, 2, 5]], dtype=dtype)
    return torch.tensor([[-3, 0, 2, 120]], dtype=dtype), torch.tensor([[1, -7, 2, 5]], dtype=dtype)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("op", list(OPS))
def test_integer_op_matches_pytorch_or_is_refused(op, dtype):
    x, y = _inputs(DTYPES[dtype])
    fn = Fn(OPS[op]).eval()
    try:
        want = fn(x, y)
    except (RuntimeError, TypeError):
        pytest.skip(f"PyTorch itself has no {op} for {dtype}")
    try:
        model = pt2tflite.convert(fn, (x, y))
    except pt2tflite.ConversionError as e:
        assert (op, dtype) not in MUST_CONVERT, f"{op} on {dtype} refused: {e}"
        return
    want = want.numpy()
    builtin = pt2tflite.Model(model.tflite_bytes, xnnpack=False)
    for runtime, got in (("XNNPACK", model(x, y)), ("builtin kernels", builtin(x, y))):
        assert got.dtype == want.dtype, f"{runtime}: {got.dtype} != {want.dtype}"
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, err_msg=runtime)
        else:
            np.testing.assert_array_equal(got, want, err_msg=runtime)


def test_int8_arithmetic_runs_in_int32():
    """Structural: the int8 ADD is computed in int32 between two CASTs in and one CAST out."""
    x, y = _inputs(torch.int8)
    model = pt2tflite.convert(Fn(lambda a, b: a + b).eval(), (x, y))
    assert model.op_histogram() == {"CAST": 3, "ADD": 1}


def test_integer_relu_is_a_maximum():
    """Structural: RELU has no int32 kernel; relu of an int32 tensor is a MAXIMUM with 0."""
    x, _ = _inputs(torch.int32)
    model = pt2tflite.convert(Fn(torch.relu).eval(), (x,))
    assert model.op_histogram() == {"MAXIMUM": 1}


# A Python int meets an integer tensor in the tensor's dtype, modulo 2^bits: `x > -2` on uint8
# compares with 254, `x < 300` with 44, and uint8 clamp(x, -2, 5) is 5 everywhere. The converter
# once saturated the int instead (-2 became 0), a silent wrong answer the difftest found (seed 34).
WRAPPED_SCALAR_OPS = {
    "clamp": lambda x: x.clamp(-2, 5),
    "clamp_min": lambda x: x.clamp(min=-2),
    "gt": lambda x: x > -2,
    "lt": lambda x: x < 300,
    "eq": lambda x: x == -56,
    "add": lambda x: x + (-2),
    "sub": lambda x: x - (-2),
    "mul": lambda x: x * (-1),
    "add_alpha": lambda x: torch.add(x, -100, alpha=3),
    "remainder": lambda x: x % (-3),
    "maximum_zero_dim": lambda x: torch.maximum(x, torch.tensor(-2)),
    "gt_zero_dim": lambda x: x > torch.tensor(-2),
    "gt_int8": lambda x: x > x.to(torch.int8).abs(),  # uint8 with int8 compares in int16
}
WRAPPED_SCALAR_DTYPE_OPS = {
    "int8_gt": (torch.int8, lambda x: x > 200),
    "int8_add": (torch.int8, lambda x: x + 200),
    "int16_gt": (torch.int16, lambda x: x > 40000),
    "int32_lt": (torch.int32, lambda x: x < 2**33),
}


class _OnConstant(torch.nn.Module):
    """fn of a constant tensor (folded at convert time) plus 0 times the input."""

    def __init__(self, fn, value: torch.Tensor):
        super().__init__()
        self.fn = fn
        self.register_buffer("value", value)

    def forward(self, x):
        return self.fn(self.value).to(torch.int32) + (x.to(torch.int32) * 0)


def _wrapped_scalar_cases():
    for name, fn in WRAPPED_SCALAR_OPS.items():
        yield name, torch.uint8, fn
    for name, (dtype, fn) in WRAPPED_SCALAR_DTYPE_OPS.items():
        yield name, dtype, fn


@pytest.mark.parametrize("folded", [False, True], ids=["runtime", "folded"])
@pytest.mark.parametrize("name,dtype,fn", list(_wrapped_scalar_cases()), ids=lambda v: v if isinstance(v, str) else "")
def test_an_int_scalar_is_wrapped_into_the_tensor_dtype(name, dtype, fn, folded):
    info = torch.iinfo(dtype)
    x = torch.tensor([[0, 3, 7, 100, info.max, info.min, 200 % (info.max + 1), 1]]).to(dtype)
    model = _OnConstant(fn, x).eval() if folded else Fn(lambda t: fn(t).to(torch.int32)).eval()
    want = model(x).numpy()
    converted = pt2tflite.convert(model, (x,))
    builtin = pt2tflite.Model(converted.tflite_bytes, xnnpack=False)
    for runtime, got in (("XNNPACK", converted(x)), ("builtin kernels", builtin(x))):
        np.testing.assert_array_equal(got, want, err_msg=f"{name} on {dtype}, {runtime}")
