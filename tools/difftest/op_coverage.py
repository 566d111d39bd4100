"""Which ops of the lowering registry (docs/ops.md) the random programs reach: each program is
exported the way pt2tflite.convert exports it (PT2E-quantized first for int8 programs) and the
graph's targets are counted. An op no program reaches is tested by hand-written cases only.

    python tools/difftest/op_coverage.py -n 1000          # programs 0..999 of seed 0

Exit status 1 when a registry op is reached by no program and is not in UNREACHABLE below."""

from __future__ import annotations

import argparse
import collections
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Registry ops that torch.export's Core ATen output of a random program never contains, and why.
UNREACHABLE = {
    "aten._local_scalar_dense.default": "`.item()`: a run-time size (LLM attend_bucket), not an arithmetic program",
    "aten._unsafe_view.default": "not in Core ATen after run_decompositions (view → view.default)",
    "aten.reshape.default": "decomposed to view by run_decompositions",
    "aten.squeeze.default": "exported as squeeze.dims",
    "aten.squeeze.dim": "exported as squeeze.dims",
    "aten.sum.default": "exported as sum.dim_IntList",
    "aten.copy.default": "only from buffer mutation (KV caches; tests/python/test_state.py)",
    "aten.detach.default": "removed by run_decompositions",
    "aten.as_strided.default": "only from hand-written archives; torch.export emits views",
    "aten.arange.default": "folded at convert time; programs reach it through arange.start_step",
    "aten.arange.start": "folded at convert time; programs reach it through arange.start_step",
    "aten.add.Scalar": "produced by decompositions of ops the generator does not emit",
    "aten.sub.Scalar": "produced by decompositions of ops the generator does not emit",
    "aten.mul.Scalar": "produced by decompositions of ops the generator does not emit",
    "aten.div.Scalar": "produced by decompositions of ops the generator does not emit",
    "aten.rsub.Scalar": "produced by decompositions of ops the generator does not emit",
    "aten.full.default": "folded at convert time (constants)",
    "aten.index_copy.default": "decomposed to index_put by run_decompositions; the rule serves archives exported without it",
    "aten.isnan.default": "no finite program has a NaN to find; tests/python/test_ops_compare.py",
    "aten.bitwise_and.Tensor": "integer bit ops; the generator's values are floats",
    "aten.bitwise_or.Tensor": "integer bit ops; the generator's values are floats",
    "aten.bitwise_not.default": "integer bit ops; the generator's values are floats",
    "aten.reflection_pad3d.default": "5-D inputs; programs are at most 4-D",
    "aten.replication_pad3d.default": "5-D inputs; programs are at most 4-D",
    "quantized_decomposed.choose_qparams.tensor": "dynamic quantization; the int8 programs are static PT2E",
    "quantized_decomposed.quantize_per_tensor.tensor": "dynamic quantization; the int8 programs are static PT2E",
    "quantized_decomposed.dequantize_per_tensor.tensor": "dynamic quantization; the int8 programs are static PT2E",
}


def reached(seed: int, start: int, count: int) -> collections.Counter:
    import torch  # noqa: F401

    from difftest.check import int8_reference
    from difftest.generate import generate
    from difftest.program import build_module, make_inputs
    from pt2tflite.converter import export_program

    seen: collections.Counter = collections.Counter()
    for i in range(start, start + count):
        p = generate(seed, i)
        module, inputs = build_module(p), make_inputs(p)
        try:
            if p.int8:
                module, _, _ = int8_reference(p, module, inputs)
            ep = export_program(module, tuple(inputs))
        except Exception:  # a program torch.export refuses reaches nothing
            continue
        seen.update({str(n.target) for n in ep.graph.nodes if n.op == "call_function"})
    return seen


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    import pt2tflite

    registry = {op for op, _, _ in pt2tflite.supported_ops()}
    seen = reached(args.seed, args.start, args.count)
    print(f"{args.count} programs of seed {args.seed} reach {len(registry & set(seen))} of {len(registry)} registry ops")
    for op in sorted(registry & set(seen), key=lambda o: -seen[o]):
        print(f"  {seen[op]:6d}  {op}")
    missing = sorted(registry - set(seen) - set(UNREACHABLE))
    for op in sorted(registry - set(seen)):
        print(f"  {'expected' if op in UNREACHABLE else 'MISSING':>8}  {op}  {UNREACHABLE.get(op, '')}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
