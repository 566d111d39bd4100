"""File size and latency of convert-time weight quantization: fp32 vs int8 vs int4 (block 32) on
a decode-only Llama (about 20M parameters, cache 256) and on torchvision's resnet18 / mobilenet_v2
(random weights, 224x224), all in one process with invocations interleaved (bench/latency.py).

    python3 bench/weight_quant.py [--threads 1 2] [--runs 30] [--out DIR]

About 3 minutes on 2 cores (the three Llama exports take most of it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from latency import interleaved  # noqa: E402

MODES = ("fp32", "int8", "int4")


def export_all(out: str) -> dict[str, dict[str, str]]:
    import torch
    import torchvision
    from transformers import LlamaConfig, LlamaForCausalLM

    import pt2tflite
    from pt2tflite.llm import export_llm

    torch.manual_seed(0)
    files: dict[str, dict[str, str]] = {}
    cfg = LlamaConfig(vocab_size=8192, hidden_size=512, intermediate_size=1408, num_hidden_layers=4,
                      num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=512)
    hf = LlamaForCausalLM(cfg).eval()
    files["llama20m_decode"] = {}
    for mode in MODES:
        path = os.path.join(out, f"llama20m_decode_{mode}.tflite")
        # prefill_lengths=(): the decode signature alone, so that it is subgraph 0 (what latency.py runs).
        export_llm(hf, prefill_lengths=(), cache_length=256, quantize=None if mode == "fp32" else mode).export(path)
        files["llama20m_decode"][mode] = path
    x = torch.randn(1, 3, 224, 224)
    for name in ("resnet18", "mobilenet_v2"):
        net = getattr(torchvision.models, name)().eval()
        files[name] = {}
        for mode in MODES:
            path = os.path.join(out, f"{name}_{mode}.tflite")
            pt2tflite.convert(net, (x,), weight_quant=None if mode == "fp32" else mode).export(path)
            files[name][mode] = path
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--out", default=None, help="where to keep the .tflite files (default: a temporary directory)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        files = export_all(args.out or tmp)
        print("| model | threads | fp32 | int8 | int4 |\n|---|---|---|---|---|")
        for name, paths in files.items():
            sizes = " | ".join(f"{os.path.getsize(paths[m]) / 1e6:.1f} MB" for m in MODES)
            print(f"| {name} | size | {sizes} |")
            for n, entry in interleaved(paths, threads=tuple(args.threads), runs=args.runs, warmup=5).items():
                ms = " | ".join(f"{entry[m]['median_ms']:.2f} ms" for m in MODES)
                print(f"| {name} | {n} | {ms} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
