"""Where the time of an LLM conversion goes before our C++ core sees the model: torch.export (strict,
as export_llm does, and non-strict for comparison) and run_decompositions, per signature, on one of
llm_bench's random configs. This bounds what any converter built on torch.export can gain over
another one (issue 12's conversion target).

    python bench/llm_export_phases.py [--config llama] [--cache-length 1024] [--prefill-length 128] [--repeats 2]

Prints one markdown row per signature × export mode: seconds of torch.export, of run_decompositions
(or the error it raised), and the graph's node count; the first repeat pays first-call costs, the
table gives the fastest repeat.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from llm_bench import CONFIGS  # noqa: E402


def _time_export(module, args, strict: bool) -> tuple[float, str, int]:
    """(export seconds, decomposition seconds or the error it raised, node count)."""
    import torch

    from pt2tflite import llm

    t0 = time.perf_counter()
    with torch.no_grad(), llm._parameters_not_cloned_by_dynamo(), llm._scalars_captured():
        ep = torch.export.export(module, args, strict=strict)
    exported = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        ep = ep.run_decompositions()
    except Exception as e:  # noqa: BLE001 - the row reports what torch raised
        return exported, f"fails: {type(e).__name__}: {str(e).splitlines()[0][:80]}", len(ep.graph.nodes)
    return exported, f"{time.perf_counter() - t0:.2f}", len(ep.graph.nodes)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="llama", choices=sorted(CONFIGS))
    p.add_argument("--cache-length", type=int, default=1024)
    p.add_argument("--prefill-length", type=int, default=128)
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    from pt2tflite import llm

    cls_name, kwargs = CONFIGS[a.config]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(getattr(transformers, cls_name)(**kwargs), dtype=torch.float32).eval()
    model.generation_config.cache_implementation = "static"

    print(f"config {a.config}, S = {a.cache_length}, T = {a.prefill_length}, torch {torch.__version__}, "
          f"transformers {transformers.__version__}, load {os.getloadavg()[0]:.1f}\n")
    print("| signature | torch.export | export s | run_decompositions s | nodes |")
    print("|---|---|---|---|---|")
    for name, t, logits in ((f"prefill_{a.prefill_length}", a.prefill_length, False), ("decode", 1, True)):
        args = (torch.zeros(1, t, dtype=torch.int32), torch.arange(t, dtype=torch.int32))
        for strict in (True, False):
            runs = [_time_export(llm._signature_module(model, a.cache_length, logits), args, strict)
                    for _ in range(a.repeats)]
            exported, decomposed, nodes = min(runs, key=lambda r: r[0])
            print(f"| {name} | {'strict' if strict else 'non-strict'} | {exported:.2f} | {decomposed} | {nodes} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
