"""Errors raised by pt2tflite."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One node the converter cannot handle, and where it came from in the user's code."""

    op: str  # aten overload, e.g. "aten.gather.default"
    node: str  # node name in the exported graph
    module_path: str  # nn.Module path, e.g. "layer1.0.conv1"
    source: str  # "file:line" of the user's code
    message: str

    def __str__(self) -> str:
        where = f" (node '{self.node}'" + (f", module '{self.module_path}'" if self.module_path else "") + ")"
        at = f" at {self.source}" if self.source else ""
        return f"{self.op}{where if self.node else ''}{at}: {self.message}"


class ConversionError(Exception):
    """The model cannot be converted. `diagnostics` lists every unsupported node found."""

    def __init__(self, message: str, diagnostics: list | None = None):
        super().__init__(message)
        self.diagnostics = [d if isinstance(d, Diagnostic) else Diagnostic(**d) for d in (diagnostics or [])]
