"""The XNNPACK delegation report (`pt2tflite.xnnpack_report`, `inspect`; C++ rules in
src/tflite/xnnpack_rules.cc) agrees with the real interpreter's partitioning, op type by op type."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from parity import Fn, undelegated

import pt2tflite
from pt2tflite import _core


def predicted_refusals(model):
    report = pt2tflite.xnnpack_report(model)
    return {op: sum(v["refused"].values()) for op, v in report.items() if v["refused"]}


CASES = {
    "conv_relu_fc": (nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)), [(1, 3, 8, 8)]),
    "stepped_slice": (Fn(lambda x: x[:, ::2] * 2), [(2, 6, 3)]),
    "conv_runtime_filter": (Fn(lambda x, w: F.conv2d(x, w) * 2), [(1, 3, 6, 6), (4, 3, 3, 3)]),
    "gather_runtime_index": (Fn(lambda x, i: x[i] + 1), [(6, 3), "idx"]),
    "log_softmax": (Fn(lambda x: F.log_softmax(x * 2, -1)), [(2, 5)]),
    "attention": (Fn(lambda q, k: torch.softmax(q @ k.transpose(-2, -1), -1) @ k), [(1, 2, 4, 8), (1, 2, 4, 8)]),
}


@pytest.mark.parametrize("name", CASES)
def test_report_matches_interpreter(name):
    module, shapes = CASES[name]
    args = tuple(torch.randint(0, 6, (4,)) if s == "idx" else torch.randn(*s) for s in shapes)
    model = pt2tflite.convert(module.eval(), args)
    assert predicted_refusals(model) == undelegated(model)


def test_report_gives_reasons():
    model = pt2tflite.convert(Fn(lambda x, w: F.conv2d(x, w) * 2).eval(), (torch.randn(1, 3, 6, 6), torch.randn(4, 3, 3, 3)))
    report = _core.inspect(model.tflite_bytes)["xnnpack"]
    assert report["CONV_2D"] == {"delegated": 0, "refused": {"filter is not a constant": 1}}
    assert report["MUL"] == {"delegated": 1, "refused": {}}
