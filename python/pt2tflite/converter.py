"""pt2tflite.convert: PyTorch module or ExportedProgram → Model, through torch.export and the C++ core."""

from __future__ import annotations

import io
from typing import Any

from pt2tflite import _core
from pt2tflite.errors import ConversionError
from pt2tflite.model import Model

# Ops that PyTorch's default decomposition table would split into many small ops (into gathers
# for upsampling, reflect/replicate padding and roll, into selects for softplus / mish / prelu /
# _safe_softmax) but that the core lowers better whole. They are kept whole when the core has a
# lowering for them, so the table never keeps an op the core cannot lower.
_KEEP_WHOLE = (
    "aten.hardswish.default",
    "aten.hardsigmoid.default",
    "aten.silu.default",
    "aten.linear.default",
    "aten.upsample_nearest2d.vec",
    "aten.upsample_nearest2d.default",
    "aten.upsample_bilinear2d.vec",
    "aten.upsample_bilinear2d.default",
    "aten.reflection_pad1d.default",
    "aten.reflection_pad2d.default",
    "aten.reflection_pad3d.default",
    "aten.replication_pad1d.default",
    "aten.replication_pad2d.default",
    "aten.replication_pad3d.default",
    "aten.gelu.default",
    "aten.pixel_shuffle.default",
    "aten.softplus.default",
    "aten.mish.default",
    "aten._prelu_kernel.default",
    "aten._safe_softmax.default",
    "aten.roll.default",
)


def supported_ops() -> list[tuple[str, str, str]]:
    """(aten overload, TFLite op(s), notes) for every op the converter lowers."""
    return [tuple(r) for r in _core.supported_ops()]


def pass_names() -> list[str]:
    """The pipeline stages whose IR `convert(..., dump_after=[...])` can print, in order."""
    return list(_core.pass_names())


def _decomposition_table():
    import torch

    table = torch.export.default_decompositions()
    supported = {op for op, _, _ in supported_ops()}
    for name in _KEEP_WHOLE:
        if name not in supported:
            continue
        _, op, overload = name.split(".")
        packet = getattr(torch.ops.aten, op, None)
        target = getattr(packet, overload, None) if packet is not None else None
        if target is not None and target in table:
            del table[target]
    return table


def export_program(module_or_ep, sample_args: tuple, sample_kwargs: dict | None = None, *, dynamic_shapes=None,
                   strict: bool = False):
    """torch.export + decomposition to Core ATen, as pt2tflite.convert does it.

    dynamic_shapes: torch.export's `dynamic_shapes` (torch.export.Dim per dynamic dimension).
    strict: torch.export's strict (TorchDynamo) tracing; Hugging Face's static-cache wrappers need it."""
    import torch

    if isinstance(module_or_ep, torch.export.ExportedProgram):
        ep = module_or_ep
    elif isinstance(module_or_ep, torch.nn.Module):
        # A GraphModule from torch.export (e.g. convert_pt2e's result) has its train/eval
        # behaviour fixed in the graph at export time; its `training` flag changes nothing.
        exported = isinstance(module_or_ep, torch.fx.GraphModule)
        if module_or_ep.training and not exported:
            raise ConversionError(
                f"{type(module_or_ep).__name__} is in training mode; call model.eval() before converting "
                "(dropout and batch-norm statistics differ in training mode)"
            )
        try:
            ep = torch.export.export(module_or_ep, tuple(sample_args), sample_kwargs, dynamic_shapes=dynamic_shapes,
                                     strict=strict)
        except Exception as e:  # torch.export raises many types; the cause is in the message
            raise ConversionError(f"torch.export could not capture the model: {type(e).__name__}: {e}") from e
    else:
        raise TypeError(f"expected a torch.nn.Module or torch.export.ExportedProgram, got {type(module_or_ep).__name__}")
    if dynamic_shapes is not None and isinstance(module_or_ep, torch.export.ExportedProgram):
        raise ConversionError("dynamic_shapes applies to an nn.Module; an ExportedProgram already has its shapes")
    return ep.run_decompositions(_decomposition_table())


def archive_bytes(ep) -> bytes:
    """The .pt2 archive bytes of an ExportedProgram (what `pt2tflite convert` reads from a file)."""
    import torch

    buf = io.BytesIO()
    torch.export.save(ep, buf)
    return buf.getvalue()


def convert(
    module_or_exported_program,
    sample_args: tuple,
    sample_kwargs: dict | None = None,
    *,
    dump_after: list[str] | tuple[str, ...] = (),
    verbose: bool = False,
    external_buffers: bool = False,
    num_threads: int | None = None,
    quantized_io: bool = False,
    float16_weights: bool = False,
    dynamic_shapes=None,
) -> Model:
    """Converts a PyTorch model to a TFLite model that runs in LiteRT.

    module_or_exported_program: an nn.Module in eval mode, or a torch.export.ExportedProgram.
    sample_args / sample_kwargs: example inputs (they fix the input shapes).
    dump_after: stages after which the IR is printed, from `pt2tflite.pass_names()`.
    verbose: print each stage's time to stderr.
    external_buffers: store the weights after the flatbuffer (automatic above 2 GiB of weights).
    num_threads: interpreter threads used when the returned Model is called (default: all cores).
    quantized_io: for a PT2E-quantized model (docs/quantization.md), take and return int8 tensors
        with the model's input/output scale and zero point instead of float ones.
    float16_weights: store the float weights of convolutions and linear layers as float16 (half the
        file size; dequantized once when LiteRT loads the model).
    dynamic_shapes: torch.export `dynamic_shapes` (a torch.export.Dim per dynamic dimension); those
        dimensions are -1 in the model's shape_signature and can be resized at run time.
    """
    if not isinstance(sample_args, (tuple, list)):
        sample_args = (sample_args,)
    ep = export_program(module_or_exported_program, tuple(sample_args), sample_kwargs, dynamic_shapes=dynamic_shapes)
    tflite, dumps = _core.convert(archive_bytes(ep), list(dump_after), verbose, external_buffers, quantized_io,
                                  float16_weights)
    if dumps:
        import sys

        sys.stderr.write(dumps)
    return Model(tflite, num_threads=num_threads)
