"""SHA-256 of the .tflite files the converter writes for a fixed set of models: the fast zoo, the
fast sweep models, PT2E int8 models and the weight-quantization / float16 / quantized-I/O options.
A refactor that should not change the output proves it by comparing hashes before and after.

    python tools/output_hashes.py --write build/output_hashes/before.json   # with the old build
    python tools/output_hashes.py --check build/output_hashes/before.json   # with the new build

Each model is exported once and its .pt2 archive kept in --archives (default
build/output_hashes/archives), so a rerun converts the very same archive: a difference then comes
from the C++ core, not from torch.export. --reexport exports again (and reports archives whose
bytes changed). Takes ~5 min on a quiet 2-core machine the first time, ~1 min with the archives.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

QUANT_SIZE = 96  # tools/quant_eval.py's models at the size tests/python/test_quant_models.py uses


def zoo_case(key: str):
    import zoo

    model, shape, _ = zoo.build(key)
    if key.startswith("seg:"):
        model = zoo.SegWrapper(model).eval()
    return model, (zoo.make_input(shape, 100),)


def sweep_case(key: str):
    import sweep
    import sweep_models

    model, specs, _ = sweep_models.build(key)
    return model, sweep.make_inputs(specs, 100)


def pt2e_case(name: str, per_channel: bool):
    import torch
    from quant_eval import build, images, quantize

    reference = quantize(build(name, QUANT_SIZE), QUANT_SIZE, per_channel, calibration=4)
    return reference, (torch.cat(images(1, QUANT_SIZE, seed=7)),)


def cases() -> dict:
    """name → (builder of (model, sample args), convert options)."""
    import sweep
    import zoo

    out = {}
    for key in zoo.FAST:
        out[key] = (lambda k=key: zoo_case(k), {})
    for key in sweep.FAST:
        out[key] = (lambda k=key: sweep_case(k), {})
    for name, per_channel in [("resnet18", True), ("mobilenet_v2", False), ("mobilenetv4_conv_small", True)]:
        tag = f"pt2e:{name}:{'per_channel' if per_channel else 'per_tensor'}"
        out[tag] = (lambda n=name, p=per_channel: pt2e_case(n, p), {})
    out["pt2e:resnet18:per_channel+quantized_io"] = (lambda: pt2e_case("resnet18", True), {"quantized_io": True},
                                                     "pt2e:resnet18:per_channel")
    out["tv:resnet18+float16_weights"] = (lambda: zoo_case("tv:resnet18"), {"float16_weights": True}, "tv:resnet18")
    out["hf:distilbert+weight_quant=int8"] = (lambda: zoo_case("hf:distilbert"), {"weight_quant": "int8"},
                                              "hf:distilbert")
    out["hf:gpt2+weight_quant=int4"] = (lambda: sweep_case("hf:gpt2"), {"weight_quant": "int4", "block_size": 32},
                                        "hf:gpt2")
    return out


def archive_path(archives: str, name: str) -> str:
    return os.path.join(archives, name.replace(":", "_").replace("/", "_") + ".pt2")


def archive(name: str, build, archives: str, reexport: bool) -> tuple[bytes, bool]:
    """The model's archive bytes (exported now or read from the cache) and whether they changed."""
    import copy

    from pt2tflite.converter import archive_bytes, export_program

    path = archive_path(archives, name)
    old = open(path, "rb").read() if os.path.exists(path) else None
    if old is not None and not reexport:
        return old, False
    model, args = build()
    data = archive_bytes(export_program(copy.deepcopy(model), tuple(args)))
    os.makedirs(archives, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return data, old is not None and old != data


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--write", help="write the hashes to this JSON file")
    p.add_argument("--check", help="compare with the hashes in this JSON file; exit 1 on a difference")
    p.add_argument("--archives", default=os.path.join(HERE, "..", "build", "output_hashes", "archives"))
    p.add_argument("--reexport", action="store_true", help="export the models again instead of reusing archives")
    p.add_argument("--only", help="comma-separated case names")
    args = p.parse_args()

    import pt2tflite

    want = json.load(open(args.check)) if args.check else {}
    rows, differ = {}, []
    for name, (build, options, *source) in cases().items():
        if args.only and name not in args.only.split(","):
            continue
        t = time.perf_counter()
        data, changed = archive(source[0] if source else name, build, args.archives, args.reexport)
        tflite = pt2tflite.convert_pt2(data, **options).tflite_bytes
        rows[name] = {"archive": sha(data), "tflite": sha(tflite), "bytes": len(tflite)}
        verdict = ""
        if name in want:
            same = want[name]["tflite"] == rows[name]["tflite"]
            verdict = "same" if same else "DIFFERENT"
            if not same:
                differ.append(name)
        if changed:
            verdict += " (archive re-exported with different bytes)"
        print(f"{name:48s} {rows[name]['tflite'][:16]} {len(tflite):>10d} B {time.perf_counter() - t:6.1f} s "
              f"{verdict}", flush=True)
    if args.write:
        os.makedirs(os.path.dirname(os.path.abspath(args.write)), exist_ok=True)
        with open(args.write, "w") as f:
            json.dump(rows, f, indent=1, sort_keys=True)
    if args.check:
        missing = sorted(set(want) - set(rows)) if not args.only else []
        print(f"{len(rows) - len(differ)}/{len(rows)} identical" + (f"; different: {', '.join(differ)}" if differ else "")
              + (f"; not run: {', '.join(missing)}" if missing else ""))
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
