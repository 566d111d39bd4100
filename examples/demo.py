"""The main job on a bundled example: torchvision ResNet-18 (random weights, seed 0).

It exports the model to a .pt2 archive, converts it with the native CLI (no Python in the
converter), runs the .tflite in LiteRT and prints the max error against PyTorch, the op
histogram, the file size and the latency.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

import pt2tflite
from pt2tflite.converter import archive_bytes, export_program


def main() -> int:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    workdir = tempfile.mkdtemp(prefix="pt2tflite-demo-")
    pt2 = os.path.join(workdir, "resnet18.pt2")
    tflite = os.path.join(workdir, "resnet18.tflite")

    t = time.perf_counter()
    with open(pt2, "wb") as f:
        f.write(archive_bytes(export_program(model, (x,))))
    export_s = time.perf_counter() - t

    cli = pt2tflite.native_cli()
    t = time.perf_counter()
    subprocess.run([cli, "convert", pt2, "-o", tflite], check=True, capture_output=True)
    convert_s = time.perf_counter() - t

    tfl = pt2tflite.load(tflite, num_threads=1)
    with torch.no_grad():
        ref = model(x).numpy()
    got = tfl(x)
    err = float(np.abs(got - ref).max())

    for _ in range(5):
        tfl(x)
    times = []
    for _ in range(30):
        t = time.perf_counter()
        tfl(x)
        times.append(time.perf_counter() - t)

    print("model           torchvision resnet18, random weights (seed 0), input 1x3x224x224")
    print(f"torch.export    {export_s:.2f} s")
    print(f"convert (CLI)   {convert_s * 1000:.0f} ms   .pt2 -> .tflite")
    print(f"max |diff|      {err:.3g}   (max |ref| {np.abs(ref).max():.3g}, top-1 agrees: {got.argmax() == ref.argmax()})")
    print(f"file size       {os.path.getsize(tflite) / 1e6:.1f} MB")
    print(f"latency         {np.median(times) * 1000:.1f} ms median of 30, LiteRT + XNNPACK, 1 thread")
    print("op histogram    " + ", ".join(f"{k} {v}" for k, v in sorted(tfl.op_histogram().items())))
    shutil.rmtree(workdir)
    return 0 if err <= 1e-4 * np.abs(ref).max() else 1


if __name__ == "__main__":
    sys.exit(main())
