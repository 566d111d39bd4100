"""A converted model: runs in the LiteRT interpreter, exports to and loads from .tflite files."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x)


class Model:
    """A .tflite model. Calling it runs LiteRT and returns numpy arrays.

    With `xnnpack=True` (the default) LiteRT applies its XNNPACK delegate, as it does on device;
    with `xnnpack=False` every op runs on LiteRT's builtin kernels, the reference semantics."""

    def __init__(self, tflite_bytes: bytes, num_threads: int | None = None, *, xnnpack: bool = True):
        self._bytes = bytes(tflite_bytes)
        self._num_threads = num_threads or os.cpu_count() or 1
        self._xnnpack = xnnpack
        self._interpreter = None  # created on first call, then reused

    @property
    def tflite_bytes(self) -> bytes:
        return self._bytes

    def _get_interpreter(self):
        if self._interpreter is None:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            resolver = (
                OpResolverType.AUTO if self._xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
            self._interpreter = Interpreter(
                model_content=self._bytes, num_threads=self._num_threads, experimental_op_resolver_type=resolver
            )
            self._interpreter.allocate_tensors()
        return self._interpreter

    def __call__(self, *args: Any):
        """Runs the model on positional inputs (numpy arrays or torch tensors)."""
        itp = self._get_interpreter()
        inputs = itp.get_input_details()
        if len(args) != len(inputs):
            raise TypeError(f"the model takes {len(inputs)} inputs, got {len(args)}")
        for detail, arg in zip(inputs, args):
            arr = _to_numpy(arg)
            if arr.dtype != detail["dtype"]:
                arr = arr.astype(detail["dtype"])
            if tuple(arr.shape) != tuple(detail["shape"]):
                itp.resize_tensor_input(detail["index"], arr.shape)
                itp.allocate_tensors()
            itp.set_tensor(detail["index"], arr)
        itp.invoke()
        outs = [itp.get_tensor(d["index"]) for d in itp.get_output_details()]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def export(self, path: str | os.PathLike) -> None:
        """Writes the .tflite file atomically (no partial file on failure)."""
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(self._bytes)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def op_histogram(self) -> dict[str, int]:
        """Builtin op name → count, read from the flatbuffer."""
        from pt2tflite import _core

        return dict(_core.inspect(self._bytes)["op_histogram"])


def load(path: str | os.PathLike, num_threads: int | None = None, *, xnnpack: bool = True) -> Model:
    """Loads a .tflite file written by Model.export (or any other TFLite model)."""
    with open(path, "rb") as f:
        return Model(f.read(), num_threads=num_threads, xnnpack=xnnpack)
