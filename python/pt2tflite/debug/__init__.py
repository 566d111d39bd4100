"""Debugging tools: where a converted model departs from PyTorch, and the smallest piece that shows it.

    report = pt2tflite.debug.compare(model, (x,))      # per-layer error, first layer past tolerance
    result = pt2tflite.debug.find_culprits(model, (x,))  # smallest failing subgraph + reproducer script
    info = pt2tflite.debug.inspect("model.tflite", program="model.pt2")  # per op: origin, XNNPACK

Command line: `pt2tflite compare model.pt2`, `pt2tflite find-culprits model.pt2`,
`pt2tflite inspect model.tflite --pt2=model.pt2` (see docs/debugging.md)."""

from pt2tflite.debug.culprits import CulpritResult, find_culprits
from pt2tflite.debug.inspect_model import Inspection, inspect
from pt2tflite.debug.layer_compare import CompareReport, LayerRow, compare

__all__ = ["compare", "CompareReport", "LayerRow", "find_culprits", "CulpritResult", "inspect", "Inspection"]
