"""pt2tflite: PyTorch → TFLite / LiteRT with a C++ core.

    model = pt2tflite.convert(torch_module.eval(), (sample_input,))
    out = model(sample_input)           # runs in LiteRT
    model.export("model.tflite")
    model = pt2tflite.load("model.tflite")
"""

from pt2tflite.cli import native_cli
from pt2tflite.converter import convert, convert_pt2, pass_names, supported_ops
from pt2tflite.debug.inspect_model import inspect
from pt2tflite.errors import ConversionError, Diagnostic
from pt2tflite.layout import to_channel_last_io
from pt2tflite.model import Model, load
from pt2tflite.signatures import Signatures, signature

__all__ = ["native_cli", "convert", "convert_pt2", "load", "Model", "ConversionError", "Diagnostic", "pass_names",
           "supported_ops", "to_channel_last_io", "inspect", "signature", "Signatures"]
__version__ = "0.1.0"
