"""pt2tflite: PyTorch → TFLite / LiteRT with a C++ core.

    model = pt2tflite.convert(torch_module.eval(), (sample_input,))
    out = model(sample_input)           # runs in LiteRT
    model.export("model.tflite")
    model = pt2tflite.load("model.tflite")
    print(pt2tflite.inspect(model))     # per op: origin, XNNPACK verdict; xnnpack_report(model) in numbers

    ep = pt2tflite.export_program(torch_module.eval(), (sample_input,))   # the export convert() uses
    pt2tflite.save_archive(ep, "model.pt2")                               # for the native CLI
"""

from pt2tflite.cli import native_cli
from pt2tflite.converter import (
    archive_bytes,
    convert,
    convert_pt2,
    export_program,
    pass_names,
    save_archive,
    supported_ops,
)
from pt2tflite.debug.inspect_model import inspect, xnnpack_report
from pt2tflite.errors import ConversionError, Diagnostic
from pt2tflite.layout import to_channel_last_io
from pt2tflite.model import Model, load
from pt2tflite.signatures import Signatures, signature

__all__ = ["native_cli", "convert", "convert_pt2", "load", "Model", "ConversionError", "Diagnostic", "pass_names",
           "supported_ops", "to_channel_last_io", "inspect", "xnnpack_report", "signature", "Signatures",
           "export_program", "archive_bytes", "save_archive"]
__version__ = "0.1.0"
