"""Side-by-side latency and graph statistics of two (or more) .tflite files.

All files run in the same process on the same ai-edge-litert Interpreter
build (XNNPACK is applied by default), with invocations interleaved
A, B, A, B, ... (interleaved() takes any number of files) so that CPU frequency changes, thermal state and noisy
neighbours hit both models alike.

    python bench/latency.py A.tflite B.tflite [--threads 1 2] [--runs 50]
                            [--warmup 10] [--json out.json]

    from latency import compare, interleaved
    result = compare("a.tflite", "b.tflite")
    per_file = interleaved({"x": "x.tflite", "y": "y.tflite", "z": "z.tflite"})

Works in either environment (pt2tflite's or the incumbent venv): it needs only
numpy and ai-edge-litert.
"""

from __future__ import annotations

import argparse
import collections
import importlib.metadata
import json
import os
import statistics
import sys
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType


def graph_stats(path: str) -> dict:
    """Size and op counts of the model as written (before any delegation).

    Uses an interpreter without default delegates: with XNNPACK applied,
    _get_ops_details() also lists the DELEGATE nodes that replace partitions.
    """
    interp = Interpreter(
        model_path=path,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    ops = collections.Counter(d["op_name"] for d in interp._get_ops_details())
    return {
        "path": os.path.abspath(path),
        "bytes": os.path.getsize(path),
        "ops": sum(ops.values()),
        "transposes": ops.get("TRANSPOSE", 0),
        "op_histogram": dict(ops.most_common()),
    }


def _random_input(detail: dict, rng: np.random.Generator) -> np.ndarray:
    shape, dtype = detail["shape"], np.dtype(detail["dtype"])
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        # Small non-negative values: safe as indices/lengths for most models.
        return rng.integers(0, 8, size=shape).astype(dtype)
    return rng.standard_normal(size=shape).astype(dtype)


def _prepared_interpreter(path: str, num_threads: int, seed: int) -> tuple[Interpreter, int]:
    """An allocated interpreter with random inputs set, and its DELEGATE count."""
    interp = Interpreter(model_path=path, num_threads=num_threads)
    interp.allocate_tensors()
    # Same seed for A and B: if their inputs have the same shapes they get the
    # same values, so data-dependent kernels cannot favour one side.
    rng = np.random.default_rng(seed)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], _random_input(detail, rng))
    delegates = sum(1 for d in interp._get_ops_details() if d["op_name"] == "DELEGATE")
    return interp, delegates


def _summary_ms(samples_ns: list[int]) -> dict:
    ms = sorted(s / 1e6 for s in samples_ns)
    return {
        "median_ms": statistics.median(ms),
        "min_ms": ms[0],
        "p90_ms": ms[min(len(ms) - 1, int(0.9 * len(ms)))],
        "mean_ms": statistics.fmean(ms),
        "runs": len(ms),
    }


def interleaved(
    paths: dict[str, str],
    threads: tuple[int, ...] = (1, 2),
    runs: int = 50,
    warmup: int = 10,
    seed: int = 0,
) -> dict:
    """Measure any number of files with invokes interleaved (A, B, C, A, B, C, ...).

    Returns {str(num_threads): {label: summary, ..., "xnnpack_partitions":
    {label: DELEGATE count}}}. One file alone is just a plain measurement.
    """
    out = {}
    for n in threads:
        prepared = {label: _prepared_interpreter(p, n, seed) for label, p in paths.items()}
        interps = [(label, interp) for label, (interp, _) in prepared.items()]
        for _ in range(warmup):
            for _, interp in interps:
                interp.invoke()
        samples: dict[str, list[int]] = {label: [] for label, _ in interps}
        for _ in range(runs):
            for label, interp in interps:
                t0 = time.perf_counter_ns()
                interp.invoke()
                samples[label].append(time.perf_counter_ns() - t0)
        entry = {label: _summary_ms(s) for label, s in samples.items()}
        entry["xnnpack_partitions"] = {label: parts for label, (_, parts) in prepared.items()}
        out[str(n)] = entry
        # Free them all before the next thread count: big models x N x threads.
        del prepared, interps
    return out


def compare(
    path_a: str,
    path_b: str,
    threads: tuple[int, ...] = (1, 2),
    runs: int = 50,
    warmup: int = 10,
    seed: int = 0,
) -> dict:
    """Measure A and B interleaved; return a JSON-serialisable dict.

    result["latency"][str(num_threads)] has "A" and "B" summaries (median,
    min, p90, mean in ms), "B_over_A" (ratio of medians) and "xnnpack_partitions"
    per side (DELEGATE nodes after delegation; 1 usually means the whole
    graph runs in XNNPACK, more means some ops fell back to the builtin kernels
    and split the graph).
    """
    result = {
        "ai_edge_litert_version": importlib.metadata.version("ai-edge-litert"),
        "runs": runs,
        "warmup": warmup,
        "A": graph_stats(path_a),
        "B": graph_stats(path_b),
        "latency": {},
    }
    for n, v in interleaved({"A": path_a, "B": path_b}, threads, runs, warmup, seed).items():
        v["B_over_A"] = v["B"]["median_ms"] / v["A"]["median_ms"]
        result["latency"][n] = v
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="first .tflite (A)")
    ap.add_argument("b", help="second .tflite (B)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=50, help="timed invokes per model")
    ap.add_argument("--warmup", type=int, default=10, help="untimed invokes per model first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args(argv)

    result = compare(args.a, args.b, tuple(args.threads), args.runs, args.warmup, args.seed)
    text = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
