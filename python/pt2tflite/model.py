"""A converted model: runs in the LiteRT interpreter, exports to and loads from .tflite files."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    # Not np.ascontiguousarray: it returns a 0-d array as shape [1], which would resize the input.
    return np.asarray(x, order="C")


class Model:
    """A .tflite model. Calling it runs LiteRT and returns numpy arrays.

    With `xnnpack=True` (the default) LiteRT applies its XNNPACK delegate, as it does on device;
    with `xnnpack=False` every op runs on LiteRT's builtin kernels, the reference semantics."""

    def __init__(self, tflite_bytes: bytes, num_threads: int | None = None, *, xnnpack: bool = True):
        self._bytes = bytes(tflite_bytes)
        self._num_threads = num_threads or os.cpu_count() or 1
        self._xnnpack = xnnpack
        self._interpreter = None  # created on first call, then reused
        self._runners: dict[str, Any] = {}  # signature key -> SignatureRunner
        self._signature_io: dict[str, tuple[list[str], list[str]]] | None = None

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

    def signatures(self) -> dict[str, tuple[list[str], list[str]]]:
        """Signature key -> (input names, output names), in the order the model declares them."""
        if self._signature_io is None:
            from pt2tflite import _core

            info = _core.inspect(self._bytes)
            self._signature_io = {k: (list(i), list(o)) for k, (i, o) in zip(info["signatures"], info["signature_io"])}
        return self._signature_io

    def __call__(
        self, *args: Any, signature_name: str | None = None, **kwargs: Any
    ) -> np.ndarray | tuple[np.ndarray, ...]:
        """Runs the model on positional inputs (numpy arrays or torch tensors).

        signature_name: the entry point to run (required when the model has several); its inputs
        may also be passed by name as keyword arguments. A single output is returned as an array,
        several as a tuple in the signature's output order."""
        if signature_name is not None or kwargs or len(self.signatures()) > 1:
            return self._run_signature(signature_name, args, kwargs)
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

    def _run_signature(self, key: str | None, args: tuple, kwargs: dict):
        sigs = self.signatures()
        if key is None:
            if len(sigs) != 1:
                raise TypeError(f"the model has several signatures; pass signature_name= (one of {sorted(sigs)})")
            key = next(iter(sigs))
        if key not in sigs:
            raise KeyError(f"no signature '{key}' (the model has {sorted(sigs)})")
        in_names, out_names = sigs[key]
        if len(args) > len(in_names):
            raise TypeError(f"signature '{key}' takes {len(in_names)} inputs, got {len(args)}")
        feed = dict(zip(in_names, args))
        for name, value in kwargs.items():
            if name not in in_names:
                raise TypeError(f"signature '{key}' has no input '{name}' (inputs: {in_names})")
            if name in feed:
                raise TypeError(f"input '{name}' of signature '{key}' given twice")
            feed[name] = value
        missing = [n for n in in_names if n not in feed]
        if missing:
            raise TypeError(f"signature '{key}' is missing inputs {missing}")
        runner = self._runners.get(key)
        if runner is None:
            runner = self._runners[key] = self._get_interpreter().get_signature_runner(key)
        details = runner.get_input_details()
        arrays = {}
        for name, value in feed.items():
            arr = _to_numpy(value)
            want = details[name]["dtype"]
            arrays[name] = arr if arr.dtype == want else arr.astype(want)
        outs = runner(**arrays)
        result = tuple(outs[n] for n in out_names)
        return result[0] if len(result) == 1 else result

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
