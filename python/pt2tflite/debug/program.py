"""What the debugging tools start from: an ExportedProgram (as pt2tflite.convert exports it) and
the sample inputs, from an nn.Module, an ExportedProgram or a .pt2 file."""

from __future__ import annotations

import os
from typing import Any


def load_program(model: Any, args: tuple | None = None, *, seed: int = 0):
    """(ExportedProgram decomposed like convert() does it, input tuple).

    model: an nn.Module in eval mode, an ExportedProgram, or the path of a .pt2 file. When `args`
    is None the inputs are random, shaped and typed like the program's placeholders."""
    import torch

    from pt2tflite.converter import export_program

    if isinstance(model, (str, os.PathLike)):
        model = torch.export.load(os.fspath(model))
    if args is not None and not isinstance(args, (tuple, list)):
        args = (args,)
    if args is None:
        if not isinstance(model, torch.export.ExportedProgram):
            raise TypeError("sample inputs are needed for an nn.Module")
        args = random_inputs(model, seed=seed)
    return export_program(model, tuple(args)), tuple(args)


def random_inputs(ep, *, seed: int = 0) -> tuple:
    """Random user inputs for `ep`: normal floats, small non-negative integers, random booleans."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    out = []
    for node in user_input_nodes(ep):
        val = node.meta["val"]
        shape = [int(d) for d in val.shape]
        if val.dtype.is_floating_point:
            out.append(torch.randn(shape, generator=gen).to(val.dtype))
        elif val.dtype == torch.bool:
            out.append(torch.rand(shape, generator=gen) > 0.5)
        else:
            out.append(torch.randint(0, 4, shape, generator=gen).to(val.dtype))
    return tuple(out)


def user_input_nodes(ep) -> list:
    """The placeholders of `ep`'s graph that are user inputs (not parameters, buffers, constants)."""
    names = set(ep.graph_signature.user_inputs)
    return [n for n in ep.graph.nodes if n.op == "placeholder" and n.name in names]


def is_quantized(ep) -> bool:
    """Whether `ep` is a PT2E quantized graph (it holds quantize / dequantize ops)."""
    return any(n.op == "call_function" and "quantize" in str(n.target) for n in ep.graph.nodes)
