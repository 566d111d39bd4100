"""pt2tflite.debug.compare: run PyTorch and the converted model side by side and measure, layer by
layer, how far each TFLite tensor is from the FX node it comes from.

TFLite tensors carry the names of the FX nodes they hold (relu_4, convolution_7, ...), possibly
stored channels-last. Nodes folded or fused away have no tensor of their own and are skipped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from pt2tflite.debug import litert_values, metrics, origin, reference
from pt2tflite.debug.matching import align
from pt2tflite.debug.program import is_quantized, load_program

DEFAULT_TOLERANCE = 1e-4  # max |diff| / max |ref| for float models
DEFAULT_MIN_SQNR_DB = 20.0  # for int8 models, against the PT2E reference


@dataclass
class LayerRow:
    depth: int  # position among the compared layers, in graph order
    node: str  # FX node name (= TFLite tensor name)
    op: str  # aten overload
    module_path: str
    source: str  # file:line
    shape: tuple  # PyTorch shape
    layout: str  # "" PyTorch order, "NHWC" channels-last, "...?" when guessed from values
    tfl_op: str  # the TFLite op that writes the tensor (a fused op can hold several FX nodes)
    max_abs: float
    rel: float  # max abs / max |ref|
    sqnr_db: float
    torch_f32_rel: float | None  # PyTorch's own float32 error against float64 (None when not run)


@dataclass
class CompareReport:
    rows: list[LayerRow]
    quantized: bool
    tolerance: float  # relative error for float models
    min_sqnr_db: float  # for int8 models
    first_bad: LayerRow | None
    outputs: list[dict] = field(default_factory=list)  # per model output: builtin / xnnpack errors
    nodes_without_tensor: int = 0  # FX nodes folded or fused away (no tensor of their own)
    reference: str = "float64"
    runtime_error: str | None = None  # LiteRT's builtin kernels refused the file (first_bad: that op)

    def past_tolerance(self, row: LayerRow) -> bool:
        if self.quantized:
            return row.sqnr_db < self.min_sqnr_db
        return row.rel > self.tolerance

    def summary(self) -> str:
        from pt2tflite.debug.report import summary

        return summary(self)

    def table(self, markdown: bool = True) -> str:
        from pt2tflite.debug.report import table

        return table(self, markdown=markdown)

    def plot(self, path) -> str | None:
        """Writes a PNG of the error against depth; returns why not when matplotlib is missing."""
        from pt2tflite.debug.report import plot

        return plot(self, path)

    def __str__(self) -> str:
        return self.summary()


def convert_program(ep) -> bytes:
    """The .tflite bytes for an already exported program, exactly as pt2tflite.convert makes them."""
    from pt2tflite import _core
    from pt2tflite.converter import archive_bytes

    tflite, _dumps = _core.convert(archive_bytes(ep), [], False, False, False, False)
    return tflite


def _real_value(node, values):
    """The node's value as real numbers (float64 numpy): the output of a PT2E quantize node is
    integer codes, which the file stores as an int8 tensor that litert_values dequantizes."""
    value = _as_numpy(values.get(node.name))
    target = str(node.target)
    if value is None or "quantized_decomposed.quantize_per_" not in target:
        return value

    def arg(a):
        return _as_numpy(values.get(a.name)) if hasattr(a, "name") else np.asarray(a, np.float64)

    scale, zero = arg(node.args[1]), arg(node.args[2])
    if "per_channel" in target:
        shape = [1] * value.ndim
        shape[int(node.args[3])] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (value - zero) * scale


def _as_numpy(value):
    import torch

    if isinstance(value, torch.Tensor) and value.dtype != torch.bool and not value.is_complex():
        return value.detach().to(torch.float64).numpy()
    return None


def compare(model, args=None, *, tolerance: float = DEFAULT_TOLERANCE, min_sqnr_db: float = DEFAULT_MIN_SQNR_DB,
            tflite: bytes | None = None) -> CompareReport:
    """Per-layer error of the converted model against PyTorch.

    model: nn.Module (eval mode), ExportedProgram or .pt2 path; args: sample inputs (random when
    None and the model is a program). Float models are measured against a float64 run of the
    exported graph (PyTorch's own float32 error is shown beside); PT2E int8 models against the PT2E
    graph run in PyTorch, by SQNR. `tflite`: bytes to check instead of converting here."""
    ep, args = load_program(model, args)
    return compare_program(ep, args, tflite if tflite is not None else convert_program(ep), tolerance=tolerance,
                           min_sqnr_db=min_sqnr_db)


def compare_program(ep, args: tuple, tflite: bytes, *, tolerance: float = DEFAULT_TOLERANCE,
                    min_sqnr_db: float = DEFAULT_MIN_SQNR_DB) -> CompareReport:
    """compare() for an ExportedProgram already decomposed for conversion and its .tflite bytes."""
    from pt2tflite import _core

    quantized = is_quantized(ep)
    producer = {t: o["op"] for o in _core.inspect(tflite)["ops"] if o["subgraph"] == 0 for t in o["outputs"]}
    ref32 = reference.capture(ep, args)
    ref64 = None if quantized else reference.capture_float64(ep, args)
    ref = ref64 if ref64 is not None else ref32
    try:
        tfl_values, tfl_outputs = litert_values.run_all_tensors(tflite, args)
    except RuntimeError as e:  # the builtin kernels refuse an op that XNNPACK may have hidden
        return _refused(ep, args, tflite, str(e), ref, quantized, tolerance, min_sqnr_db)

    rows, skipped = [], 0
    for node in ep.graph.nodes:
        if node.op != "call_function":
            continue
        want = _real_value(node, ref)
        got = tfl_values.get(node.name)
        aligned = align(want, got) if want is not None and got is not None else None
        if aligned is None:
            skipped += 1
            continue
        want_t, layout = aligned
        torch_rel = None
        if ref64 is not None and _as_numpy(ref32.get(node.name)) is not None:
            torch_rel = metrics.relative(want, _as_numpy(ref32[node.name]))
        rows.append(LayerRow(len(rows), node.name, str(node.target), origin.module_path(node),
                             origin.source_line(node), tuple(want.shape), layout, producer.get(node.name, ""),
                             metrics.max_abs(want_t, got),
                             metrics.relative(want_t, got), metrics.sqnr_db(want_t, got), torch_rel))
    report = CompareReport(rows, quantized, tolerance, min_sqnr_db, None, nodes_without_tensor=skipped,
                           reference="PT2E graph in PyTorch (float32)" if quantized else
                           ("float64" if ref64 is not None else "float32"))
    report.first_bad = next((r for r in rows if report.past_tolerance(r)), None)
    report.outputs = _output_errors(ep, ref, tflite, args, tfl_outputs)
    return report


_REFUSED_NODE = re.compile(r"Node number (\d+) \((\w+)\)")


def _refused(ep, args, tflite: bytes, message: str, ref, quantized, tolerance, min_sqnr_db) -> CompareReport:
    """The report for a file LiteRT's builtin kernels refuse: the refusing op, traced back to its FX
    node, is the first bad layer; the outputs are measured on XNNPACK alone."""
    from pt2tflite import _core
    from pt2tflite.debug.inspect_model import fx_node_of

    report = CompareReport([], quantized, tolerance, min_sqnr_db, None, reference="float64" if not quantized
                           else "PT2E graph in PyTorch (float32)", runtime_error=message.strip().splitlines()[-1])
    found = _REFUSED_NODE.search(message)
    ops = [o for o in _core.inspect(tflite)["ops"] if o["subgraph"] == 0]
    if found and int(found.group(1)) < len(ops):
        op = ops[int(found.group(1))]
        name = fx_node_of(op["outputs"][0]) if op["outputs"] else ""
        node = next((n for n in ep.graph.nodes if n.name == name), None)
        report.first_bad = LayerRow(0, name, str(node.target) if node is not None else "",
                                    origin.module_path(node) if node is not None else "",
                                    origin.source_line(node) if node is not None else "", (), "", op["op"],
                                    float("nan"), float("inf"), float("-inf"), None)
        report.rows = [report.first_bad]
    report.outputs = _output_errors(ep, ref, tflite, args, None)
    return report


def _output_errors(ep, ref, tflite: bytes, args, builtin_outputs) -> list[dict]:
    xnnpack_outputs = litert_values.run_outputs(tflite, args, xnnpack=True)
    if builtin_outputs is None:  # the builtin kernels refused the file
        builtin_outputs = [np.full(np.shape(x), np.nan) for x in xnnpack_outputs]
    out = []
    for name, b, x in zip(ep.graph_signature.user_outputs, builtin_outputs, xnnpack_outputs):
        want = _as_numpy(ref.get(name))
        if want is None or tuple(want.shape) != tuple(np.shape(x)):
            continue
        out.append({"name": name, "builtin_rel": metrics.relative(want, b), "xnnpack_rel": metrics.relative(want, x),
                    "builtin_sqnr_db": metrics.sqnr_db(want, b), "xnnpack_sqnr_db": metrics.sqnr_db(want, x)})
    return out
