"""LiteRT's builtin float DEPTHWISE_CONV_2D never returns above 4,832 output channels: its
accumulator holds kAccBufferMaxSize = 4832 floats, so 4832 / depth pixels per step becomes 0 and the
loop stops advancing (a DCHECK guards it, compiled out of release builds). This measures it: one 3x3
depthwise conv per channel count, converted by pt2tflite and run with XNNPACK off, each in its own
subprocess with a timeout (README, "Known, not fixed yet").

    python tools/litert_depthwise_limit.py                    # float: 4832, 4840, 8192 channels
    python tools/litert_depthwise_limit.py --int8 2056 8192   # PT2E per-channel int8 instead
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time


def run_one(channels: int, int8: bool) -> None:
    import numpy as np
    import torch
    from ai_edge_litert.interpreter import Interpreter

    import pt2tflite

    conv = torch.nn.Conv2d(channels, channels, 3, groups=channels, padding=1).eval()
    x = torch.randn(1, channels, 8, 8)
    model = conv
    if int8:
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        from pt2tflite.quantize import PT2EQuantizer, get_symmetric_quantization_config

        model = torch.export.export(conv, (x,)).module()
        config = get_symmetric_quantization_config(is_per_channel=True)
        model = prepare_pt2e(model, PT2EQuantizer().set_global(config))
        model(x)
        model = convert_pt2e(model)
    converted = pt2tflite.convert(model, (x,))
    interpreter = Interpreter(model_content=converted.tflite_bytes)
    tensors = interpreter.get_tensor_details()
    (op,) = [o for o in interpreter._get_ops_details() if o["op_name"] == "DEPTHWISE_CONV_2D"]
    kind = tensors[op["inputs"][0]]["dtype"]
    assert kind == (np.int8 if int8 else np.float32), f"the depthwise conv reads {kind}"
    builtin = pt2tflite.Model(converted.tflite_bytes, xnnpack=False)
    t = time.perf_counter()
    y = builtin(x.numpy())
    err = float(np.abs(y - model(x).detach().numpy()).max())
    print(f"{(time.perf_counter() - t) * 1e3:.1f} ms, max |diff| {err:.1e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("channels", nargs="*", type=int, default=[4832, 4840, 8192])
    parser.add_argument("--int8", action="store_true", help="PT2E per-channel int8 instead of float")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per channel count")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.int8)
        return 0
    kind = "int8" if args.int8 else "float"
    for c in args.channels:
        cmd = [sys.executable, __file__, "--one", str(c)] + (["--int8"] if args.int8 else [])
        try:
            r = subprocess.run(cmd, timeout=args.timeout, capture_output=True, text=True)
            lines = r.stdout.strip().splitlines()
            result = lines[-1] if r.returncode == 0 and lines else f"failed (exit {r.returncode})"
        except subprocess.TimeoutExpired:
            result = f"no result within {args.timeout:.0f} s"
        print(f"{kind} depthwise, {c} channels, builtin kernels: {result}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
