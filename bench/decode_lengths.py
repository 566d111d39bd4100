"""Decode step time of `decode` (attention over the whole cache) against `decode_{L}` (the first L rows
only, export_llm's decode_lengths) on the same file: the bench's random 'llama' config (4 layers,
hidden 512, GQA 8/2, vocabulary 8192), fp32, one token at position 200, interleaved invokes.

    python bench/decode_lengths.py [--cache-lengths 2048,4096] [--length 256] [--threads 2] [--runs 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from llm_runtime import _Prepared, _summary  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache-lengths", default="2048,4096")
    p.add_argument("--length", type=int, default=256, help="L of decode_{L}")
    p.add_argument("--position", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=100)
    args = p.parse_args()
    import torch
    import transformers
    from ai_edge_litert.interpreter import Interpreter

    from pt2tflite.llm import export_llm_file

    print("| S | signature | median ms | min ms | p90 ms |\n|---|---|---|---|---|")
    for s in (int(x) for x in args.cache_lengths.split(",")):
        torch.manual_seed(0)
        cfg = transformers.LlamaConfig(vocab_size=8192, hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                                       num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=s)
        hf = transformers.LlamaForCausalLM(cfg).eval()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "llama.tflite")
            export_llm_file(hf, path, prefill_lengths=(128,), cache_length=s, decode_lengths=(args.length,))
            interp = Interpreter(model_path=path, num_threads=args.threads)
            rng = np.random.default_rng(0)
            keys = ("decode", f"decode_{args.length}")
            preps = {k: _Prepared(interp, k, np.array([7], np.int32), np.array([args.position]), args.position, rng)
                     for k in keys}
            for _ in range(3):
                for prep in preps.values():
                    prep.invoke_ns()
            samples = {k: [] for k in keys}
            for _ in range(args.runs):  # interleaved: both signatures see the same machine load
                for k, prep in preps.items():
                    samples[k].append(prep.invoke_ns())
            for k in keys:
                m = _summary(samples[k])
                print(f"| {s} | {k} | {m['median_ms']:.2f} | {m['min_ms']:.2f} | {m['p90_ms']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
