"""The standalone script find_culprits writes: the failing piece as an nn.Module with random
weights and inputs (seeded, with the mean and spread of the real ones), converted and checked the
way the tools check it. It needs torch and pt2tflite only, and exits 1 when the failure shows."""

from __future__ import annotations

import os
import textwrap

_SMALL = 64  # integer / boolean tensors up to this size are written out as they are


def _tensor_expr(value, gen: str) -> str:
    """Python source for a random tensor like `value` (same shape, dtype, mean and spread)."""
    import torch

    shape = tuple(value.shape)
    dtype = str(value.dtype)
    if value.is_floating_point():
        v = value.detach().double()
        mean, std = (float(v.mean()), float(v.std())) if v.numel() > 1 else (float(v.sum()), 0.0)
        return f"(torch.randn({shape}, generator={gen}, dtype=torch.float64) * {std:.6g} + {mean:.6g}).to({dtype})"
    if value.numel() <= _SMALL:
        return f"torch.tensor({value.tolist()!r}, dtype={dtype}).reshape({shape})"
    if value.dtype == torch.bool:
        return f"torch.rand({shape}, generator={gen}) > 0.5"
    lo, hi = int(value.min()), int(value.max())
    return f"torch.randint({lo}, {hi + 1}, {shape}, generator={gen}).to({dtype})"


def render(piece, failure, origins: list[str], *, tolerance: float, min_sqnr_db: float, quantized: bool,
           planted: str | None, seed: int = 0) -> str:
    code = piece.module.code.strip("\n")
    forward = textwrap.indent(code, "    ")
    buffers = "\n".join(f"        self.register_buffer({name!r}, {_tensor_expr(value, 'g')})"
                        for name, value in piece.constants.items()) or "        pass"
    inputs = ",\n        ".join(_tensor_expr(v, "g") for v in piece.inputs)
    plant = ""
    if planted:
        plant = ("# TEST ONLY: the bug was planted in the converter (lower/plant_bug.h) on this node.\n"
                 f"os.environ['PT2TFLITE_TEST_PLANT_BUG'] = {planted!r}\n")
    where = "\n".join(f"  {o}" for o in origins)
    return f'''#!/usr/bin/env python3
"""pt2tflite reproducer, written by pt2tflite.debug.find_culprits.

Failure ({failure.kind}): {failure.message}
The ops of the original model it keeps (FX node, aten op, nn.Module, source line):
{where}

Weights and inputs are random (seeded), with the mean and spread of the original values.
Run: python {{this file}}  -> exit status 1 and "FAILS" when the failure shows, 0 otherwise."""

import math
import os
import sys

import torch
from torch import device  # noqa: F401  (the generated forward may name a device)

inf, nan = math.inf, math.nan
{plant}
import pt2tflite  # noqa: E402

SEED = {seed}
TOLERANCE = {tolerance!r}  # max |diff| / max |ref| against float64 PyTorch
MIN_SQNR_DB = {min_sqnr_db!r}  # for int8 (PT2E) graphs, against the graph run in PyTorch
QUANTIZED = {quantized!r}
if QUANTIZED:
    import torchao.quantization.pt2e  # noqa: F401  (registers the quantized_decomposed ops)


class Piece(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(SEED)
{buffers}

{forward}


def inputs():
    g = torch.Generator().manual_seed(SEED + 1)
    return (
        {inputs},
    )


def main() -> int:
    args = inputs()
    model = Piece().eval()
    try:
        converted = pt2tflite.convert(model, args)
        # LiteRT's builtin kernels are the reference semantics (XNNPACK may hide a wrong file).
        got = pt2tflite.Model(converted.tflite_bytes, xnnpack=False)(*args)
    except Exception as e:
        print(f"FAILS: {{type(e).__name__}}: {{e}}")
        return 1
    got = got if isinstance(got, tuple) else (got,)
    with torch.no_grad():
        try:
            if QUANTIZED:
                raise TypeError("int8 graphs are checked against their own float32 run")
            want = Piece().double()(*[a.double() if a.is_floating_point() else a for a in args])
        except (RuntimeError, TypeError):
            want = model(*args)
    worst = None
    for i, (w, t) in enumerate(zip(want, got)):
        w = w.double().numpy()
        t = t.astype("float64")
        if QUANTIZED:
            noise = ((w - t) ** 2).sum()
            sqnr = math.inf if noise == 0 else 10 * math.log10((w ** 2).sum() / noise)
            bad = sqnr < MIN_SQNR_DB
            msg = f"output {{i}}: SQNR {{sqnr:.1f}} dB (threshold {{MIN_SQNR_DB}})"
        else:
            rel = abs(w - t).max() / max(abs(w).max(), 1e-30)
            bad = rel > TOLERANCE
            msg = f"output {{i}}: max |diff| / max |ref| = {{rel:.3e}} (tolerance {{TOLERANCE}})"
        print(msg)
        worst = worst or (msg if bad else None)
    if worst:
        print(f"FAILS: {{worst}}")
        return 1
    print("does not reproduce")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def write_reproducer(path, piece, failure, origins, *, tolerance, min_sqnr_db, quantized, planted, seed=0) -> None:
    text = render(piece, failure, origins, tolerance=tolerance, min_sqnr_db=min_sqnr_db, quantized=quantized,
                  planted=planted, seed=seed)
    with open(os.fspath(path), "w") as f:
        f.write(text)
