"""The LiteRT side of a per-layer comparison: every tensor of the converted model after one run.

The builtin kernels run with every intermediate kept alive (experimental_preserve_all_tensors), so
what is read is what each op computed; XNNPACK fuses and reuses memory, so it only gives the
final outputs."""

from __future__ import annotations

import numpy as np

from pt2tflite.debug.inspect_model import ir_name_of


def _interpreter(tflite: bytes, *, xnnpack: bool, preserve: bool):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    itp = Interpreter(model_content=tflite, num_threads=1, experimental_op_resolver_type=resolver,
                      experimental_preserve_all_tensors=preserve)
    itp.allocate_tensors()
    return itp


def _feed(itp, inputs) -> None:
    for detail, arr in zip(itp.get_input_details(), inputs):
        arr = np.asarray(arr.detach().cpu().numpy() if hasattr(arr, "detach") else arr, order="C")
        if arr.dtype != detail["dtype"]:
            arr = arr.astype(detail["dtype"])
        itp.set_tensor(detail["index"], arr)


def dequantized(arr: np.ndarray, detail: dict) -> np.ndarray:
    """The real values an int8/int16 tensor stands for (float tensors as they are)."""
    q = detail.get("quantization_parameters") or {}
    scales = np.asarray(q.get("scales", []), np.float64)
    if arr.dtype.kind not in "iu" or scales.size == 0:
        return arr
    zeros = np.asarray(q.get("zero_points", []), np.float64)
    if scales.size > 1:  # per channel along quantized_dimension
        shape = [1] * arr.ndim
        shape[q.get("quantized_dimension", 0)] = -1
        scales, zeros = scales.reshape(shape), zeros.reshape(shape)
    return (arr.astype(np.float64) - zeros) * scales


def run_all_tensors(tflite: bytes, inputs) -> tuple[dict, list]:
    """({IR tensor name: value (dequantized)} for every non-constant tensor, [outputs]), builtin kernels."""
    itp = _interpreter(tflite, xnnpack=False, preserve=True)
    _feed(itp, inputs)
    itp.invoke()
    values = {}
    for detail in itp.get_tensor_details():
        try:
            arr = itp.get_tensor(detail["index"])
        except ValueError:  # a tensor without data (an omitted optional operand)
            continue
        values.setdefault(ir_name_of(detail["name"]), dequantized(arr, detail))
    outputs = [dequantized(itp.get_tensor(d["index"]), d) for d in itp.get_output_details()]
    return values, outputs


def run_outputs(tflite: bytes, inputs, *, xnnpack: bool = True) -> list:
    """The model's outputs (dequantized), with XNNPACK by default."""
    itp = _interpreter(tflite, xnnpack=xnnpack, preserve=False)
    _feed(itp, inputs)
    itp.invoke()
    return [dequantized(itp.get_tensor(d["index"]), d) for d in itp.get_output_details()]
