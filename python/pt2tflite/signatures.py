"""Several entry points in one .tflite file: `pt2tflite.signature(name, module, args).signature(...).convert()`.

Each signature is exported by torch.export on its own and lowered to its own subgraph; the C++ core
stores constants with equal bytes once, so weights shared by the signatures are written once.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from pt2tflite import _core
from pt2tflite.converter import export_program, save_archive
from pt2tflite.errors import ConversionError
from pt2tflite.model import Model


def output_names(ep) -> list[str]:
    """Names of an ExportedProgram's user outputs: dict keys / attribute names joined with '_' (a
    `{"kv_cache": {"k_0": ...}}` output gives `kv_cache_k_0`), else `output_0`, `output_1`, ..."""
    import torch.utils._pytree as pytree

    spec = ep.call_spec.out_spec
    if spec is None:
        return []
    tree = pytree.tree_unflatten(list(range(spec.num_leaves)), spec)
    leaves, _ = pytree.tree_flatten_with_path(tree)
    named = []
    for path, _leaf in leaves:
        parts = []
        for key in path:
            if isinstance(key, pytree.MappingKey):
                parts.append(str(key.key))
            elif isinstance(key, pytree.GetAttrKey):
                parts.append(key.name)
            elif isinstance(key, pytree.SequenceKey):
                parts.append(str(key.idx))
        named.append(parts)
    if not any(isinstance(k, (pytree.MappingKey, pytree.GetAttrKey)) for path, _ in leaves for k in path):
        return [f"output_{i}" for i in range(len(leaves))]
    return ["_".join(p) for p in named]


@dataclass
class _Entry:
    name: str
    module: Any
    args: tuple
    kwargs: dict | None
    dynamic_shapes: Any
    strict: bool


@dataclass
class Signatures:
    """A list of named entry points to convert into one model (see `signature`)."""

    entries: list[_Entry] = field(default_factory=list)

    def signature(self, name: str, module, sample_args, sample_kwargs: dict | None = None, *,
                  dynamic_shapes=None, strict: bool = False) -> "Signatures":
        """Adds an entry point `name` computing `module(*sample_args, **sample_kwargs)` (dynamic_shapes
        and strict as in torch.export)."""
        if any(e.name == name for e in self.entries):
            raise ValueError(f"signature '{name}' is already defined")
        if not isinstance(sample_args, (tuple, list)):
            sample_args = (sample_args,)
        self.entries.append(_Entry(name, module, tuple(sample_args), sample_kwargs, dynamic_shapes, strict))
        return self

    def convert(self, *, dump_after=(), verbose: bool = False, external_buffers: bool = False,
                num_threads: int | None = None, quantized_io: bool = False,
                float16_weights: bool = False, weight_quant: str | None = None, block_size: int = 32) -> Model:
        """Converts every signature into one Model (options as in `pt2tflite.convert`)."""
        with tempfile.TemporaryDirectory(prefix="pt2tflite_") as tmp:
            out = os.path.join(tmp, "model.tflite")
            self.export(out, dump_after=dump_after, verbose=verbose, external_buffers=external_buffers,
                        quantized_io=quantized_io, float16_weights=float16_weights, weight_quant=weight_quant,
                        block_size=block_size)
            with open(out, "rb") as f:
                tflite = f.read()
        return Model(tflite, num_threads=num_threads)

    def export(self, path, *, dump_after=(), verbose: bool = False, external_buffers: bool = False,
               quantized_io: bool = False, float16_weights: bool = False, weight_quant: str | None = None,
               block_size: int = 32) -> int:
        """Converts every signature and writes the .tflite file to `path` (no partial file on failure);
        returns its size. Neither the archives nor the file are held in memory: each signature's .pt2
        goes to a temporary file as soon as it is exported, and the C++ core streams the weights from
        the archive mappings into the output (weights shared by the signatures are written once)."""
        if not self.entries:
            raise ConversionError("no signatures to convert")
        with tempfile.TemporaryDirectory(prefix="pt2tflite_") as tmp:
            sources = []
            for i, e in enumerate(self.entries):
                ep = export_program(e.module, e.args, e.kwargs, dynamic_shapes=e.dynamic_shapes, strict=e.strict)
                archive = os.path.join(tmp, f"signature_{i}.pt2")
                save_archive(ep, archive)
                sources.append((e.name, archive, output_names(ep)))
                del ep
            size, dumps = _core.convert_signature_files(sources, os.fspath(path), list(dump_after), verbose,
                                                        external_buffers, quantized_io, float16_weights,
                                                        weight_quant or "", block_size)
        if dumps:
            import sys

            sys.stderr.write(dumps)
        return size


def signature(name: str, module, sample_args, sample_kwargs: dict | None = None, *,
              dynamic_shapes=None) -> Signatures:
    """Starts a multi-signature model: `pt2tflite.signature("a", m1, args1).signature("b", m2, args2).convert()`."""
    return Signatures().signature(name, module, sample_args, sample_kwargs, dynamic_shapes=dynamic_shapes)
