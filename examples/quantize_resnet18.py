"""PT2E int8 quantization of torchvision ResNet-18 (random weights, see tools/quant_eval.py), end
to end: export, annotate with pt2tflite's quantizer, calibrate, convert_pt2e, convert to a native
int8 .tflite, then check it against the PT2E reference and fp32 and time it in LiteRT.

    python examples/quantize_resnet18.py [--size 224] [--calibration 32]
"""

import argparse
import os
import sys

import torch
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

import pt2tflite
from pt2tflite.quantize import PT2EQuantizer, get_symmetric_quantization_config

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from quant_eval import accuracy, build, images, latency_ms  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--calibration", type=int, default=32)
    p.add_argument("--out", default="resnet18_int8.tflite")
    args = p.parse_args()

    model = build("resnet18", args.size)
    sample = (torch.randn(1, 3, args.size, args.size),)

    # 1. Export, annotate, calibrate, convert to the Q/DQ reference graph.
    m = torch.export.export(model, sample).module()
    m = prepare_pt2e(m, PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True)))
    with torch.no_grad():
        for x in images(args.calibration, args.size, seed=1):
            m(x)
    reference = convert_pt2e(m)

    # 2. Convert: the Q/DQ islands become native int8 TFLite ops.
    tfl = pt2tflite.convert(reference, sample)
    tfl.export(args.out)
    print(f"wrote {args.out} ({len(tfl.tflite_bytes) / 1e6:.1f} MB), ops: {tfl.op_histogram()}")

    # 3. Check accuracy against the PT2E reference and fp32, and time int8 vs fp32 (1 thread).
    acc = accuracy(model, reference, tfl, images(50, args.size, seed=2))
    print(f"top-1 agreement with the PT2E reference: {acc['top1_agreement']:.2f}")
    print(f"SQNR vs fp32: int8 TFLite {acc['sqnr_int8_db']:.1f} dB, PT2E reference {acc['sqnr_reference_db']:.1f} dB")
    x = sample[0].numpy()
    fp32_ms = latency_ms(pt2tflite.convert(model, sample).tflite_bytes, x)
    print(f"latency (1 thread, median of 50): fp32 {fp32_ms:.1f} ms, int8 {latency_ms(tfl.tflite_bytes, x):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
