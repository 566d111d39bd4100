"""Shrinks a failing program while it keeps failing the same way, then prints a standalone
reproducer (reproducer.py).

    python tools/difftest/minimize.py --seed 0 --index 34 [-o repro.py]

Reductions, repeated until none applies: keep only one failing output; bypass a node (its readers
read one of its same-shaped operands instead); cut a node (its value becomes a new program
input, so everything upstream goes); halve or drop input dims (kept only when the program stays
valid). Every candidate is checked by converting and running it, so the failure signature (class,
runtime, op) is preserved, not just "something fails"."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from difftest.builder import MAX_ABS  # noqa: E402
from difftest.check import BUGS, Outcome, check  # noqa: E402
from difftest.program import Input, Program, eval_values, make_inputs, prune, seed_of  # noqa: E402


def signature(o: Outcome) -> tuple:
    """What must stay the same while shrinking."""
    op = re.search(r"\((\w+)\) failed", o.detail)
    if o.cls == "load_failure":
        return (o.cls, o.runtime, op.group(1) if op else "")
    if o.cls == "crash":
        return (o.cls, o.detail.split(":", 1)[0])
    if o.cls == "mismatch":
        return (o.cls, "shape" if "shape" in o.detail else "value")
    return (o.cls,)


def _valid(p: Program) -> bool:
    try:
        for v in eval_values(p, make_inputs(p)):
            for t in v if isinstance(v, tuple) else (v,):
                if t.numel() == 0 or (t.is_floating_point() and (not torch.isfinite(t).all() or t.abs().max() > MAX_ABS)):
                    return False
    except Exception:
        return False
    return bool(p.outputs) and all(v >= len(p.inputs) for v in p.outputs)


def _replace(p: Program, v: int, w: int) -> Program:
    nodes = [dataclasses.replace(n, args=tuple(w if a == v else a for a in n.args)) for n in p.nodes]
    outputs = list(dict.fromkeys(w if o == v else o for o in p.outputs))
    return prune(Program(p.inputs, nodes, outputs, p.int8, p.name, p.kind))


def _cut(p: Program, v: int, shape: tuple) -> Program:
    n_in = len(p.inputs)

    def shift(a):
        return n_in if a == v else (a if a < n_in else a + 1)

    nodes = [dataclasses.replace(n, args=tuple(shift(a) for a in n.args)) for n in p.nodes]
    inputs = p.inputs + [Input(tuple(shape), seed_of(p.name, "cut", v))]
    return prune(Program(inputs, nodes, [shift(o) for o in p.outputs], p.int8, p.name, p.kind))


def candidates(p: Program):
    """Smaller programs, roughly biggest reduction first."""
    if len(p.outputs) > 1:
        for o in p.outputs:
            yield dataclasses.replace(p, outputs=[o])
    vals = eval_values(p, make_inputs(p))
    n_in = len(p.inputs)
    for v in range(n_in, p.value_count()):  # cut early nodes first: drops the most
        if isinstance(vals[v], torch.Tensor) and vals[v].is_floating_point() and v not in p.outputs:
            if any(v in n.args for n in p.nodes):
                yield _cut(p, v, vals[v].shape)
    for v in range(p.value_count() - 1, n_in - 1, -1):
        node = p.node_of(v)
        if not isinstance(vals[v], torch.Tensor):
            continue
        for a in dict.fromkeys(node.args):
            if isinstance(vals[a], torch.Tensor) and vals[a].shape == vals[v].shape and (a >= n_in or v not in p.outputs):
                yield _replace(p, v, a)
    for i, inp in enumerate(p.inputs):
        for d, size in enumerate(inp.shape):
            for new in dict.fromkeys([1, size // 2]):
                if 1 <= new < size:
                    shape = inp.shape[:d] + (new,) + inp.shape[d + 1 :]
                    inputs = list(p.inputs)
                    inputs[i] = dataclasses.replace(inp, shape=shape)
                    yield dataclasses.replace(p, inputs=inputs)


def minimize(p: Program, log=print, max_checks: int = 400) -> tuple[Program, Outcome]:
    first = check(p)
    want = signature(first)
    log(f"{p.name}: {first.cls} {first.runtime}: {first.detail.splitlines()[0][:200] if first.detail else ''}")
    best, best_o, checks = p, first, 0
    progress = first.cls in BUGS
    while progress and checks < max_checks:
        progress = False
        for cand in candidates(best):
            if not _valid(cand):
                continue
            checks += 1
            o = check(cand)
            if signature(o) == want:
                best, best_o, progress = cand, o, True
                log(f"  -> {len(best.nodes)} nodes, inputs {[i.shape for i in best.inputs]}")
                break
            if checks >= max_checks:
                break
    return best, best_o


def main(argv=None) -> int:
    from difftest.generate import generate
    from difftest.reproducer import script

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--index", type=int, required=True)
    ap.add_argument("-o", "--output", help="write the reproducer here (default: stdout)")
    args = ap.parse_args(argv)
    p = generate(args.seed, args.index)
    small, o = minimize(p, log=lambda s: print(s, file=sys.stderr))
    if o.cls in ("pass", "refused", "invalid"):
        print(f"{p.name}: {o.cls}, nothing to minimize", file=sys.stderr)
        return 1
    text = script(small, f"{o.cls} {o.runtime}: {o.detail.splitlines()[0][:200]}")
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
