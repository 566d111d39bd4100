"""Accuracy and speed of PT2E int8 models converted by pt2tflite, on torchvision models with
random weights: top-1 agreement of LiteRT int8 with the PT2E reference (convert_pt2e's module run
in PyTorch), SQNR of int8 vs the fp32 model, and LiteRT latency (1 thread, median) int8 vs fp32.

    python tools/quant_eval.py                                  # resnet18 + mobilenet_v2, 200 inputs
    python tools/quant_eval.py --models resnet18 --size 224 --inputs 500 --calibration 64

Random weights: torchvision initializes batch-norm to the identity and biases to zero, which makes
every layer's statistics alike; they are drawn at random here so that calibration has something to
find. A random network's pooled features are nearly the same for every input, so its top-1 class
would be too: the classifier's bias is set to cancel the mean logit over random inputs, so the
class differs from input to input (the classes column counts the distinct fp32 top-1 classes)."""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torchvision
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

import pt2tflite
from pt2tflite.quantize import PT2EQuantizer, get_symmetric_quantization_config


def build(name: str, size: int, seed: int = 0) -> torch.nn.Module:
    """A torchvision model (or a timm one, named "timm/<name>") in eval mode with random
    batch-norm scales, shifts and biases, and batch-norm statistics measured on random
    `size`x`size` inputs (as training would have left them)."""
    torch.manual_seed(seed)
    if name.startswith("timm/"):
        import timm  # only for timm models: the torchvision ones must not need it

        model = timm.create_model(name[len("timm/") :], pretrained=False)
    else:
        model = getattr(torchvision.models, name)(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.bias.normal_(0, 0.1)  # torchvision leaves it all zero
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the batches below
            elif isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and m.bias is not None:
                m.bias.normal_(0, 0.01)
        model.train()
        for i in range(4):
            model(torch.cat(images(8, size, seed=2000 + i)))
        model.eval()
        classifier = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        features = []
        hook = classifier.register_forward_hook(lambda mod, args, out: features.append(args[0]))
        for x in images(16, size, seed=1000):
            model(x)
        hook.remove()
        classifier.bias -= classifier.weight @ torch.cat(features).mean(0)
    return model


def images(n: int, size: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, 3, size, size, generator=g) for _ in range(n)]


def quantize(model: torch.nn.Module, size: int, per_channel: bool, calibration: int) -> torch.fx.GraphModule:
    """The PT2E reference: export, prepare with pt2tflite's quantizer, calibrate, convert_pt2e."""
    sample = (torch.randn(1, 3, size, size),)
    m = torch.export.export(model, sample).module()
    m = prepare_pt2e(m, PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=per_channel)))
    with torch.no_grad():
        for x in images(calibration, size, seed=1):
            m(x)
    return convert_pt2e(m)


def sqnr_db(signal: np.ndarray, approx: np.ndarray) -> float:
    return float(10 * np.log10((signal**2).sum() / ((signal - approx) ** 2).sum()))


def accuracy(model, reference, tfl, inputs) -> dict:
    """Top-1 agreement of LiteRT int8 with the PT2E reference; SQNR (dB) of each vs fp32."""
    fp32, ref, got = [], [], []
    with torch.no_grad():
        for x in inputs:
            fp32.append(model(x).numpy())
            ref.append(reference(x).numpy())
            got.append(tfl(x))
    fp32, ref, got = np.concatenate(fp32), np.concatenate(ref), np.concatenate(got)
    return {
        "top1_agreement": float((ref.argmax(1) == got.argmax(1)).mean()),
        "top1_vs_fp32": float((fp32.argmax(1) == got.argmax(1)).mean()),
        "distinct_classes": len(set(fp32.argmax(1).tolist())),
        "sqnr_int8_db": sqnr_db(fp32, got),
        "sqnr_vs_reference_db": sqnr_db(ref, got),
        "sqnr_reference_db": sqnr_db(fp32, ref),
    }


def latency_ms(tflite_bytes: bytes, x: np.ndarray, runs: int = 50) -> float:
    """Median LiteRT invoke time, 1 thread, XNNPACK applied (the default)."""
    from ai_edge_litert.interpreter import Interpreter

    itp = Interpreter(model_content=tflite_bytes, num_threads=1)
    itp.allocate_tensors()
    index = itp.get_input_details()[0]["index"]
    itp.set_tensor(index, x)
    for _ in range(5):
        itp.invoke()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        itp.invoke()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--inputs", type=int, default=200)
    p.add_argument("--calibration", type=int, default=32)
    p.add_argument("--runs", type=int, default=50, help="timed invokes per model (median reported)")
    args = p.parse_args()
    print("| model | weights | top-1 int8 = PT2E ref | top-1 int8 = fp32 | classes | SQNR int8 vs ref dB | "
          "SQNR int8 vs fp32 dB | SQNR ref vs fp32 dB | fp32 ms | int8 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.models:
        model = build(name, args.size)
        x = images(1, args.size, seed=7)[0]
        fp32_ms = latency_ms(pt2tflite.convert(model, (x,)).tflite_bytes, x.numpy(), args.runs)
        for per_channel in (False, True):
            reference = quantize(model, args.size, per_channel, args.calibration)
            tfl = pt2tflite.convert(reference, (x,), num_threads=1)
            acc = accuracy(model, reference, tfl, images(args.inputs, args.size, seed=2))
            int8_ms = latency_ms(tfl.tflite_bytes, x.numpy(), args.runs)
            print(f"| {name} | {'per-channel' if per_channel else 'per-tensor'} | {acc['top1_agreement']:.3f} | "
                  f"{acc['top1_vs_fp32']:.3f} | {acc['distinct_classes']} | {acc['sqnr_vs_reference_db']:.1f} | "
                  f"{acc['sqnr_int8_db']:.1f} | "
                  f"{acc['sqnr_reference_db']:.1f} | {fp32_ms:.2f} | {int8_ms:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
