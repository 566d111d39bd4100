"""Rebuilds the file the converter wrote before eb4163d for a ReLU after a concatenation (RELU fused
into CONCATENATION, which LiteRT's builtin kernel ignores) and shows what pt2tflite.debug.compare
says about it. The file is today's output with the fusion redone by editing the flatbuffer (LiteRT's
own schema bindings), so no old build is needed.

    python tools/concat_relu_before_fix.py [--out DIR]
"""

from __future__ import annotations

import argparse

import flatbuffers
import torch
import torch.nn as nn
from ai_edge_litert import schema_py_generated as schema

import pt2tflite
import pt2tflite.debug as debug


class ConcatRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Conv2d(8, 5, 1)

    def forward(self, x):
        y = torch.relu(torch.cat([self.a(x), self.b(x)], 1))
        return self.head(y)


def fuse_relu_into_concat(tflite: bytes) -> bytes:
    """The CONCATENATION feeding a RELU gets fused_activation_function=RELU and the RELU's output."""
    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    g = model.subgraphs[0]
    code = lambda op: max(model.operatorCodes[op.opcodeIndex].builtinCode,  # noqa: E731
                          model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode)
    for relu in g.operators:
        if code(relu) != schema.BuiltinOperator.RELU:
            continue
        concat = next((op for op in g.operators if code(op) == schema.BuiltinOperator.CONCATENATION
                       and list(op.outputs) == [relu.inputs[0]]), None)
        if concat is None:
            continue
        concat.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU
        concat.outputs = list(relu.outputs)
        g.operators.remove(relu)
        builder = flatbuffers.Builder(len(tflite) + 1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())
    raise ValueError("no CONCATENATION followed by RELU in this file")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=".")
    out = p.parse_args().out
    torch.manual_seed(0)
    model, x = ConcatRelu().eval(), torch.randn(1, 3, 10, 6)
    fixed = pt2tflite.convert(model, (x,)).tflite_bytes
    before_fix = fuse_relu_into_concat(fixed)
    report = debug.compare(model, (x,), tflite=before_fix)
    print(report.summary())
    print(report.table(markdown=False))
    note = report.plot(f"{out}/concat_relu_before_fix.png")
    if note:
        print(note)


if __name__ == "__main__":
    main()
