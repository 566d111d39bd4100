"""float16, bfloat16 and float64 models, which LiteRT's builtin kernels cannot compute in.

Before passes/compute_in_float32.cc the lowering kept PyTorch's dtypes, and such a model converted
with exit 0 into a file LiteRT refused at load (ADD, RELU, PAD, CONCATENATION, FULLY_CONNECTED ...
have no float16 or float64 kernel). Now the model computes in float32 between one CAST per input
and per output, so the file's signature keeps PyTorch's dtypes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import pt2tflite
from parity import Fn

OPS = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul_div": lambda x, y: x * y / 2,
    "remainder": lambda x, y: x % 3,
    "relu_cat": lambda x, y: torch.relu(torch.cat([x, y], 1)),
    "clamp": lambda x, y: x.clamp(-1, 4),
    "maximum": torch.maximum,
    "where": lambda x, y: torch.where(x > y, x, y),
    "exp": lambda x, y: torch.exp(x / 8),
    "sum": lambda x, y: x.sum(dim=1),
    "cumsum": lambda x, y: x.cumsum(dim=1),
    "amax": lambda x, y: x.amax(dim=1),
    "argmax": lambda x, y: x.argmax(dim=1),
    "sort": lambda x, y: torch.sort(x, dim=1)[0],
    "pad": lambda x, y: torch.nn.functional.pad(x, (1, 1)),
    "to_float32": lambda x, y: x.float() + 1,
    "full_like": lambda x, y: x + torch.full_like(x, 0.5),
}
# The compute is float32, more exact than PyTorch's float16: the bar is float16's own rounding.
TOLERANCE = {torch.float16: 4e-3, torch.float64: 1e-6}


class SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4, 5)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        return self.fc(y.mean((2, 3))).softmax(-1)


def _check(fn, inputs, dtype):
    model = pt2tflite.convert(fn, inputs)
    with torch.no_grad():
        want = fn(*inputs).numpy()
    builtin = pt2tflite.Model(model.tflite_bytes, xnnpack=False)
    for runtime, got in (("XNNPACK", model(*inputs)), ("builtin kernels", builtin(*inputs))):
        assert got.dtype == want.dtype, f"{runtime}: {got.dtype} != {want.dtype}"
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=TOLERANCE[dtype],
                                       atol=TOLERANCE[dtype], err_msg=runtime)
        else:
            np.testing.assert_array_equal(got, want, err_msg=runtime)
    return model


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64], ids=["float16", "float64"])
@pytest.mark.parametrize("op", list(OPS))
def test_op_in_a_wide_or_narrow_float_matches_pytorch(op, dtype):
    x = torch.tensor([[-3.25, 0.5, 2.0, 12.0]], dtype=dtype)
    y = torch.tensor([[1.0, -7.5, 2.0, 5.0]], dtype=dtype)
    _check(Fn(OPS[op]).eval(), (x, y), dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64], ids=["float16", "float64"])
def test_float16_and_float64_networks_compute_in_float32(dtype):
    net = SmallNet().eval().to(dtype)
    model = _check(net, (torch.randn(2, 3, 8, 8, dtype=dtype),), dtype)
    # Structural: one CAST in and one out; the convolution and FC run as float32 ops.
    hist = model.op_histogram()
    assert hist["CAST"] == 2 and hist["CONV_2D"] == 1 and hist["FULLY_CONNECTED"] == 1, hist


def test_bfloat16_model_loads_and_runs_in_both_runtimes():
    """numpy has no bfloat16, so LiteRT's Python API cannot feed the input; the file must still load
    and run (it refused at load before: FULLY_CONNECTED has no bfloat16 kernel)."""
    net = SmallNet().eval().to(torch.bfloat16)
    model = pt2tflite.convert(net, (torch.randn(1, 3, 8, 8, dtype=torch.bfloat16),))
    for kw in ({}, {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}):
        itp = Interpreter(model_content=model.tflite_bytes, **kw)
        itp.allocate_tensors()
        itp.invoke()
    assert model.op_histogram()["CAST"] == 2
