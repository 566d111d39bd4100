"""pt2tflite.convert: PyTorch module or ExportedProgram → Model, through torch.export and the C++ core."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:  # torch is an optional dependency of the package; annotations only
    import torch

    # What convert() and export_program() take: a module in eval mode or an ExportedProgram.
    ModuleOrProgram = Union[torch.nn.Module, torch.export.ExportedProgram]

from pt2tflite import _core
from pt2tflite.eager_layout import batch_norm_in_eager_layout, sdpa_in_eager_layout
from pt2tflite.errors import ConversionError
from pt2tflite.export_errors import decomposition_error, export_error
from pt2tflite.hf_experts import exportable_experts
from pt2tflite.model import Model


def supported_ops() -> list[tuple[str, str, str]]:
    """(aten overload, TFLite op(s), notes) for every op the converter lowers."""
    return [tuple(r) for r in _core.supported_ops()]


def pass_names() -> list[str]:
    """The pipeline stages whose IR `convert(..., dump_after=[...])` can print, in order."""
    return list(_core.pass_names())


def _decomposition_table():
    import torch

    table = torch.export.default_decompositions()
    # The ops whose lowering rule asks to see them whole (lower/registry.h says why).
    for name in _core.keep_whole_ops():
        _, op, overload = name.split(".")
        packet = getattr(torch.ops.aten, op, None)
        target = getattr(packet, overload, None) if packet is not None else None
        if target is not None and target in table:
            del table[target]
    # The decomposition alone returns one fixed layout where eager returns the query's or a contiguous
    # one (eager_layout.py).
    sdpa = torch.ops.aten.scaled_dot_product_attention.default
    if sdpa in table:
        table[sdpa] = functools.partial(sdpa_in_eager_layout, table[sdpa])
    return table


@contextlib.contextmanager
def _full_stack_traces():
    """While exporting, record each node's whole Python stack, not only its `forward` frames.

    torch.export keeps only the frames of functions named `forward`, so a node made in a helper
    (Hugging Face's apply_rotary_pos_emb, T5's _relative_position_bucket) would point at the
    forward line that called the helper. Diagnostics name the innermost line of the user's code
    instead. This reaches into a private hook of torch.fx; when it is absent, nothing changes.

    The frames inside torch's own package are dropped: diagnostics name the innermost frame
    outside torch, and they were ~95% of each trace, 2-4 KB per node of model.json to write and
    parse. When no frame is left (code run with `python -c`, whose frames torch does not record),
    a diagnostic names no line rather than torch's own `create_node`.
    """
    import torch
    from torch.fx import proxy

    tracer = getattr(proxy, "TracerBase", None)
    original = getattr(tracer, "_filter_traceback_frames", None)
    if original is None:
        yield
        return
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep

    def every_frame_from_forward(self, summary):
        saved = getattr(self, "_record_forward_stack_traces_only", False)
        self._record_forward_stack_traces_only = False
        try:
            frames = list(original(self, summary))
        finally:
            self._record_forward_stack_traces_only = saved
        return traceback.StackSummary.from_list([f for f in frames if not f.filename.startswith(torch_dir)])

    tracer._filter_traceback_frames = every_frame_from_forward
    try:
        yield
    finally:
        tracer._filter_traceback_frames = original


def export_program(module_or_ep: ModuleOrProgram, sample_args: tuple, sample_kwargs: dict[str, Any] | None = None, *,
                   dynamic_shapes: Any = None, strict: bool = False) -> torch.export.ExportedProgram:
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
            with _full_stack_traces(), exportable_experts(module_or_ep), batch_norm_in_eager_layout():
                ep = torch.export.export(
                    module_or_ep, tuple(sample_args), sample_kwargs, dynamic_shapes=dynamic_shapes, strict=strict
                )
        except Exception as e:  # torch.export raises many types; the cause is in the message
            raise export_error(e) from e
    else:
        raise TypeError(f"expected a torch.nn.Module or torch.export.ExportedProgram, got {type(module_or_ep).__name__}")
    if dynamic_shapes is not None and isinstance(module_or_ep, torch.export.ExportedProgram):
        raise ConversionError("dynamic_shapes applies to an nn.Module; an ExportedProgram already has its shapes")
    table = _decomposition_table()
    try:
        with batch_norm_in_eager_layout():
            decomposed = ep.run_decompositions(table)
    except Exception as e:  # a decomposition raised: name the node it came from
        raise decomposition_error(ep, table, e) from e
    _flatten_unserializable_outputs(decomposed)
    return decomposed


def _flatten_unserializable_outputs(ep: torch.export.ExportedProgram) -> None:
    """Makes the output structure a flat tuple when torch.export.save cannot write it: a model that
    returns `torch.sort(x)` or `x.max(1)` (a torch.return_types named tuple, which has no serialized
    pytree name) would otherwise fail to save with NotImplementedError. The converted model returns
    its outputs flat in either case."""
    from torch.utils import _pytree as pytree

    signature = ep._module_call_graph[0].signature
    if signature is None:
        return
    try:
        pytree.treespec_dumps(signature.out_spec)
    except NotImplementedError:
        signature.out_spec = pytree.tree_structure(tuple(range(signature.out_spec.num_leaves)))


def archive_bytes(ep: torch.export.ExportedProgram) -> bytes:
    """The .pt2 archive bytes of an ExportedProgram (what `pt2tflite convert` reads from a file)."""
    import torch

    buf = io.BytesIO()
    torch.export.save(ep, buf)
    return buf.getvalue()


def save_archive(ep: torch.export.ExportedProgram, path: str | os.PathLike) -> None:
    """Writes the .pt2 archive of an ExportedProgram to `path` (the weights go from the tensors to the file)."""
    import torch

    torch.export.save(ep, path)


def convert(
    module_or_exported_program: ModuleOrProgram,
    sample_args: Sequence[Any] | Any,
    sample_kwargs: dict[str, Any] | None = None,
    *,
    dump_after: Sequence[str] = (),
    verbose: bool = False,
    external_buffers: bool = False,
    num_threads: int | None = None,
    quantized_io: bool = False,
    float16_weights: bool = False,
    weight_quant: str | None = None,
    block_size: int = 32,
    dynamic_shapes: Any = None,
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
    weight_quant: quantize the weights at convert time, activations staying float (docs/quantization.md):
        "int8" stores the weights of linear layers, convolutions and embeddings as int8 with one scale
        per output channel (dynamic-range kernels); "int4" stores linear and embedding weights as
        blockwise int4 with a float16 scale per `block_size` elements (32, 64 or 128), the rest int8.
    dynamic_shapes: torch.export `dynamic_shapes` (a torch.export.Dim per dynamic dimension); those
        dimensions are -1 in the model's shape_signature and can be resized at run time.
    """
    if not isinstance(sample_args, (tuple, list)):
        sample_args = (sample_args,)
    ep = export_program(module_or_exported_program, tuple(sample_args), sample_kwargs, dynamic_shapes=dynamic_shapes)
    tflite, dumps = _core.convert(archive_bytes(ep), list(dump_after), verbose, external_buffers, quantized_io,
                                  float16_weights, weight_quant or "", block_size)
    if dumps:
        import sys

        sys.stderr.write(dumps)
    return Model(tflite, num_threads=num_threads)


def convert_pt2(
    path_or_bytes: str | os.PathLike | bytes | bytearray | memoryview,
    *,
    dump_after: Sequence[str] = (),
    verbose: bool = False,
    external_buffers: bool = False,
    num_threads: int | None = None,
    quantized_io: bool = False,
    float16_weights: bool = False,
    weight_quant: str | None = None,
    block_size: int = 32,
) -> Model:
    """Converts an existing .pt2 archive (written by torch.export.save) to a TFLite model.

    path_or_bytes: a path (str or os.PathLike; the file is memory-mapped) or the archive's bytes
        (bytes, bytearray or memoryview). The other arguments are those of convert().
    The archive is untrusted input: a malformed or hostile file raises ConversionError, never
    crashes the Python process.
    """
    options = (list(dump_after), verbose, external_buffers, quantized_io, float16_weights, weight_quant or "",
               block_size)
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        tflite, dumps = _core.convert(bytes(path_or_bytes), *options)
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        tflite, dumps = _core.convert_file(os.fspath(path_or_bytes), *options)
    else:
        raise TypeError(f"expected a path or bytes, got {type(path_or_bytes).__name__}")
    if dumps:
        import sys

        sys.stderr.write(dumps)
    return Model(tflite, num_threads=num_threads)
