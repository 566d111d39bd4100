"""The builtin kernels are the specification: the TFLite ops that may carry a fused activation
(the FUSED_ACTIVATION column of src/ir/tfl_ops.inc, `_core.fused_activation_ops()`) are checked
against LiteRT. For every op in it, a model ending in that op + RELU / RELU6 / RELU_N1_TO_1 must fuse the
activation (no activation op left) and give the clamped answer on XNNPACK and on the builtin
kernels. Ops left out of the table on purpose (CONCATENATION: the builtin kernel refuses a fused
activation and XNNPACK ignores it; TRANSPOSE_CONV) must keep the activation as an op and still
give the clamped answer."""

import pytest
import torch
import torch.nn.functional as F

from parity import Fn, check
from pt2tflite import _core

ACTIVATIONS = {  # TFLite activation op → PyTorch
    "RELU": torch.relu,
    "RELU6": F.relu6,
    "RELU_N1_TO_1": lambda x: F.hardtanh(x, -1.0, 1.0),
}


def _rand(*shape, scale=4.0):
    """Values well beyond [-1, 6], so that every clamp bound matters."""
    return torch.randn(*shape) * scale


def _conv(groups):
    conv = torch.nn.Conv2d(4, 4, 3, padding=1, groups=groups)
    with torch.no_grad():
        conv.weight.mul_(4)
    return conv


# TFLite op → (function of the inputs ending in that op, inputs)
CASES = {
    "ADD": (lambda a, b: a + b, lambda: (_rand(2, 3, 4), _rand(2, 3, 4))),
    "SUB": (lambda a, b: a - b, lambda: (_rand(2, 3, 4), _rand(3, 4))),
    "MUL": (lambda a, b: a * b, lambda: (_rand(2, 3, 4), _rand(2, 3, 4))),
    "DIV": (lambda a, b: a / (b.abs() + 0.5), lambda: (_rand(2, 3, 4), _rand(2, 3, 4, scale=1.0))),
    "CONV_2D": (_conv(1), lambda: (_rand(1, 4, 6, 6),)),
    "DEPTHWISE_CONV_2D": (_conv(4), lambda: (_rand(1, 4, 6, 6),)),
    "FULLY_CONNECTED": (torch.nn.Linear(8, 5), lambda: (_rand(3, 8, scale=8.0),)),
    "MAX_POOL_2D": (lambda x: F.max_pool2d(x, 2), lambda: (_rand(1, 3, 6, 6),)),
    "AVERAGE_POOL_2D": (lambda x: F.avg_pool2d(x, 2), lambda: (_rand(1, 3, 6, 6),)),
}
NOT_FUSED = {
    "CONCATENATION": (lambda a, b: torch.cat([a, b], 1), lambda: (_rand(2, 3, 4), _rand(2, 2, 4))),
    "TRANSPOSE_CONV": (torch.nn.ConvTranspose2d(3, 4, 2, stride=2), lambda: (_rand(1, 3, 4, 4, scale=8.0),)),
}


def _module(fn, act):
    inner = fn if isinstance(fn, torch.nn.Module) else Fn(fn)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, *xs):
            return act(self.inner(*xs))

    return Net()


def test_every_op_in_the_table_has_a_case():
    assert set(_core.fused_activation_ops()) == set(CASES)
    assert not set(_core.fused_activation_ops()) & set(NOT_FUSED)


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("op", CASES)
def test_fused_activation_is_applied_by_both_runtimes(op, act):
    fn, inputs = CASES[op]
    hist = check(_module(fn, ACTIVATIONS[act]), inputs(), atol=1e-4, rtol=1e-5, has=(op,))
    left = set(hist) & {*ACTIVATIONS, "MAXIMUM", "MINIMUM"}
    assert not left, f"{act} was not fused into {op}: {hist}"


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("op", NOT_FUSED)
def test_activation_after_an_op_outside_the_table_stays_an_op(op, act):
    fn, inputs = NOT_FUSED[op]
    hist = check(_module(fn, ACTIVATIONS[act]), inputs(), atol=1e-4, rtol=1e-5, has=(op,))
    assert act in hist, f"{act} is missing after {op}: {hist}"
