"""Shared checks for the int8 tests: quantize a module with PT2E (torchao prepare/convert_pt2e and
pt2tflite's quantizer), convert the result, and compare LiteRT with the PT2E reference module in
units of the output's quantization step (LSB)."""

from __future__ import annotations

import numpy as np
import torch
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

import pt2tflite
from pt2tflite.quantize import PT2EQuantizer, get_symmetric_quantization_config

_DQ = torch.ops.quantized_decomposed.dequantize_per_tensor.default


def like(inputs, seed: int):
    """Fresh random inputs shaped like `inputs` (standard normal)."""
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(x.shape, generator=g) for x in inputs)


def quantize(module, inputs, *, per_channel=True, dynamic=False, quantizer=None, calibration=8):
    """The convert_pt2e reference of `module`, calibrated on `inputs` and `calibration` - 1 more
    random batches like them."""
    m = torch.export.export(module.eval(), tuple(inputs)).module()
    q = quantizer or PT2EQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=per_channel, is_dynamic=dynamic)
    )
    m = prepare_pt2e(m, q)
    m(*inputs)
    for seed in range(1, calibration):
        m(*like(inputs, seed))
    return convert_pt2e(m)


def output_scale(reference) -> float:
    """The scale of the dequantize that produces the reference's (single) output."""
    out = next(n for n in reference.graph.nodes if n.op == "output").args[0]
    out = out[0] if isinstance(out, (tuple, list)) else out
    assert out.target == _DQ, f"the output is not dequantized (it is {out.target})"
    return float(out.args[1])


def check_int8(module, inputs, *, per_channel=True, lsb=1, quantizer=None, has=(), lacks=()):
    """Asserts that LiteRT's int8 model matches the PT2E reference within `lsb` output steps on
    `inputs` and fresh inputs, that every op in `has` is in the model and none in `lacks`.
    Returns (op histogram, reference, converted model).

    Why 1 LSB: the reference requantizes in float with torch.round (half to even); TFLite
    requantizes the int32 accumulator with a fixed-point multiplier, rounding half away from zero,
    and adds a bias rounded to int32 - each can move a value that lies near a rounding boundary by
    one step."""
    inputs = tuple(inputs)
    ref = quantize(module, inputs, per_channel=per_channel, quantizer=quantizer)
    model = pt2tflite.convert(ref, inputs)
    step = output_scale(ref)
    for batch in (inputs, like(inputs, 100), like(inputs, 101)):
        want = ref(*batch).detach().numpy()
        got = model(*batch)
        assert got.shape == want.shape
        err = np.abs(got - want).max() / step
        assert err <= lsb + 1e-3, f"max |diff| = {err:.2f} LSB (step {step})"
    hist = model.op_histogram()
    for op in has:
        assert op in hist, f"{op} missing from {hist}"
    for op in lacks:
        assert op not in hist, f"{op} present in {hist}"
    return hist, ref, model


def tensors(model) -> dict:
    """name → tensor details (dtype, shape, quantization parameters) from LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    itp = Interpreter(model_content=model.tflite_bytes)
    return {d["name"]: d for d in itp.get_tensor_details()}
