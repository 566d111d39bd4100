"""pt2tflite.inspect: what is in a produced .tflite, op by op: which FX node (and, given the
program, which nn.Module and source line) each op comes from, and whether LiteRT's XNNPACK
delegate takes it, by its published rules (src/tflite/xnnpack_rules.cc)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pt2tflite.model import Model

# Why there is no per-op share of run time: ai-edge-litert's Python Interpreter and CompiledModel
# expose no op profiler (LiteRT's profiler is reachable from C++ and benchmark_model only).
PROFILE_NOTE = ("per-op run time: not available from Python (ai-edge-litert exposes no op profiler; use "
                "LiteRT's benchmark_model --enable_op_profiling=true on the file)")


@dataclass
class OpInfo:
    subgraph: int
    index: int
    op: str  # builtin name
    outputs: list[str]  # tensor names
    fx_node: str  # FX node the first output comes from ("" when none: a model I/O TRANSPOSE, ...)
    module_path: str = ""
    source: str = ""
    xnnpack_refusal: str = ""  # empty when XNNPACK takes the op


@dataclass
class Inspection:
    file_bytes: int
    op_histogram: dict
    ops: list[OpInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return render(self)


def xnnpack_report(model: str | os.PathLike | bytes | Model) -> dict[str, dict]:
    """How much of a .tflite (path, bytes or pt2tflite.Model) LiteRT's XNNPACK delegate takes, by
    its published rules (src/tflite/xnnpack_rules.cc): TFLite op type -> {"delegated": number of
    ops XNNPACK takes, "refused": {the rule that refuses the others: number of ops}}. The same
    figures `pt2tflite inspect model.tflite` prints."""
    from pt2tflite import _core

    report = _core.inspect(_file_bytes(model))["xnnpack"]
    return {op: {"delegated": int(x["delegated"]), "refused": dict(x["refused"])} for op, x in sorted(report.items())}


def ir_name_of(tensor_name: str) -> str:
    """A tensor's IR name: its file name without the module scopes ("features/1/relu_1" → "relu_1")."""
    return tensor_name.rsplit("/", 1)[-1]


def fx_node_of(tensor_name: str) -> str:
    """The FX node a tensor comes from: its IR name up to '#' (derived tensors are 'node#N')."""
    return ir_name_of(tensor_name).split("#", 1)[0]


def _file_bytes(model: str | os.PathLike | bytes | Model) -> bytes:
    if hasattr(model, "tflite_bytes"):
        return model.tflite_bytes
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as f:
            return f.read()
    return bytes(model)


def inspect(model: str | os.PathLike | bytes | Model, program=None, *, profile: bool = False) -> Inspection:
    """Per-op report of a .tflite (path, bytes or pt2tflite.Model).

    program: the ExportedProgram or .pt2 path the file was converted from, to add each op's
    nn.Module path and source line. profile: ask for per-op run time (explains why not)."""
    from pt2tflite import _core
    from pt2tflite.debug import origin

    summary = _core.inspect(_file_bytes(model))
    nodes = {}
    if program is not None:
        import torch

        ep = torch.export.load(os.fspath(program)) if isinstance(program, (str, os.PathLike)) else program
        nodes = {n.name: n for n in ep.graph.nodes}
    result = Inspection(summary["file_bytes"], dict(summary["op_histogram"]))
    for o in summary["ops"]:
        names = [fx_node_of(t) for t in o["outputs"]]
        fx = next((n for n in names if n in nodes), names[0] if names else "")
        node = nodes.get(fx)
        result.ops.append(OpInfo(o["subgraph"], o["index"], o["op"], list(o["outputs"]), fx,
                                 origin.module_path(node) if node is not None else "",
                                 origin.source_line(node) if node is not None else "", o["xnnpack_refusal"]))
    if profile:
        result.notes.append(PROFILE_NOTE)
    if program is None:
        result.notes.append("module paths and source lines: pass the .pt2 (--pt2) or the ExportedProgram")
    return result


def render(info: Inspection) -> str:
    taken = sum(1 for o in info.ops if not o.xnnpack_refusal)
    lines = [f"{info.file_bytes} bytes, {len(info.ops)} ops, {taken} taken by XNNPACK"]
    head = ["op", "type", "outputs", "FX node", "module", "source", "XNNPACK"]
    rows = [[f"{o.subgraph}:{o.index}", o.op, ",".join(o.outputs), o.fx_node or "-", o.module_path or "-",
             os.path.basename(o.source) if o.source else "-", "yes" if not o.xnnpack_refusal else
             f"no: {o.xnnpack_refusal}"] for o in info.ops]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines += info.notes
    return "\n".join(lines)
