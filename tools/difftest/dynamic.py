"""The differential check with run-time dims: a float program is exported with some input dims
left to torch.export (`Dim.AUTO`: a dim stays dynamic unless the program pins it), converted as
`convert(..., dynamic_shapes=...)` does, and run in LiteRT at its sample size and at two other
sizes of every dynamic dim, each compared with PyTorch in float64 as check.py compares them.

Which dims: an image program's batch (and, one time in six, its height and width too, which the
converter refuses today); a tensor program's leading dim more often than not, and any other dim
one time in four. A chosen dim of sample size 1 is first grown to 3 when the program stays valid,
since torch.export pins a dim whose sample is 1.

The static check converts every program at one shape; a rule that is right only for the sample's
sizes (a reshape that bakes in a dim, a broadcast that assumed the sample's extent, an index
computed once from the hint) passes there and is wrong at any other size. This check is what
finds such rules.

Extra class: "static" (torch.export kept no input dim dynamic, so there is nothing to resize).
A size that torch.export's own guards (the range constraints) or eager PyTorch reject is skipped,
not counted: that is the program's limit, not the converter's."""

from __future__ import annotations

import dataclasses
import random
import traceback

import numpy as np
import torch

from difftest.builder import MAX_ABS
from difftest.check import RUNTIMES, Outcome, _compare, conversion_failure, float_tolerances
from difftest.program import Program, build_module, eval_values, make_inputs

# The resized variants of every dynamic dim with sample size h: larger and odd, then smaller.
SIZE_VARIANTS = (lambda h: 2 * h + 1, lambda h: 2 if h > 2 else h + 2)


def check_dynamic(p: Program) -> Outcome:
    try:
        return _check(*with_dynamic_dims(p))
    except Exception as e:  # the harness's own fault, but it must not pass unnoticed
        return Outcome("crash", f"dynamic check raised {type(e).__name__}: {e}"[:500] + "\n" + traceback.format_exc()[-1500:])


def with_dynamic_dims(p: Program) -> tuple:
    """(program, the dims of each input to leave dynamic); see the module docstring."""
    rng = random.Random(f"dynamic:{p.name}")
    chosen = []
    for k, x in enumerate(p.inputs):
        if p.kind == "image":
            dims = {0} | ({2, 3} if len(x.shape) == 4 and rng.random() < 1 / 6 else set())
        else:
            dims = {d for d in range(len(x.shape)) if rng.random() < (0.6 if d == 0 else 0.25)}
            if k == 0 and not dims:
                dims = {rng.randrange(len(x.shape))}
        chosen.append(dims)
    for k, dims in enumerate(chosen):
        for d in sorted(dims):
            if p.inputs[k].shape[d] == 1:
                shape = list(p.inputs[k].shape)
                shape[d] = 3
                grown = dataclasses.replace(p, inputs=[*p.inputs[:k], dataclasses.replace(p.inputs[k], shape=tuple(shape)),
                                                       *p.inputs[k + 1 :]])
                if _valid(grown):
                    p = grown
    return p, chosen


def _valid(p: Program) -> bool:
    try:
        for v in eval_values(p, make_inputs(p)):
            for t in v if isinstance(v, tuple) else (v,):
                if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel() and (
                        not torch.isfinite(t).all() or t.abs().max() > MAX_ABS):
                    return False
    except Exception:
        return False
    return True


def _check(p: Program, chosen: list) -> Outcome:
    import pt2tflite
    from pt2tflite import _core
    from pt2tflite.converter import archive_bytes, export_program

    module = build_module(p)
    inputs = make_inputs(p)
    auto = torch.export.Dim.AUTO
    dynamic_shapes = tuple({d: auto for d in dims} or None for dims in chosen)
    try:
        ep = export_program(module, inputs, dynamic_shapes=dynamic_shapes)
    except pt2tflite.ConversionError as e:  # torch.export itself: the static check covers the program
        return Outcome("invalid", f"torch.export with Dim.AUTO: {str(e).strip().splitlines()[0][:300]}")
    dims = _input_dims(ep)
    symbols = {s for shape in dims for d in shape if not isinstance(d, int) for s in d.free_symbols}
    if not symbols:
        return Outcome("static", "torch.export specialized every input dim")
    try:
        tflite, _ = _core.convert(archive_bytes(ep), [], False, False, False, False, "", 32)
    except Exception as e:
        return conversion_failure(e)
    hints = _hints(dims, inputs)
    if symbols - hints.keys():  # a symbol only inside expressions (2*s0): no size to start from
        return Outcome("static", f"no input dim is the bare symbol {sorted(map(str, symbols - hints.keys()))}")
    worst, checked = 0.0, []
    for variant in (None, *SIZE_VARIANTS):
        sizes = hints if variant is None else _resized(ep, hints, variant)
        if sizes is None:
            continue
        shapes = [tuple(int(d) if isinstance(d, int) else int(d.subs(sizes)) for d in shape) for shape in dims]
        xs = tuple(torch.randn(s, generator=torch.Generator().manual_seed(1000 + k)) for k, s in enumerate(shapes))
        if variant is not None and not _accepted(ep, module, xs):
            continue
        try:
            want, tols = float_tolerances(module, xs)
        except Exception:
            continue
        if not all(np.isfinite(w).all() for w in want):
            continue
        got_by_rt = {}
        for rt in RUNTIMES:
            try:
                got_by_rt[rt] = _run_resized(tflite, rt, xs)
            except Exception as e:
                return Outcome("load_failure", f"{rt} at input shapes {shapes}: {e}".strip().replace("\n", " ")[:400], rt)
            if len(got_by_rt[rt]) != len(want):
                return Outcome("mismatch", f"{rt}: {len(got_by_rt[rt])} outputs, expected {len(want)}", rt,
                               list(range(len(want))), np.inf)
        o = _compare(got_by_rt, want, tols)
        if o.cls != "pass":
            o.detail = f"at input shapes {shapes}: {o.detail}"
            return o
        worst = max(worst, o.worst)
        checked.append(shapes)
    if len(checked) < 2:  # only the sample size ran: no resized variant was valid
        return Outcome("static", f"no resized variant valid (checked {checked})", worst=worst)
    return Outcome("pass", f"shapes {checked}", worst=worst)


def _input_dims(ep) -> list:
    """Per user input, its dims: an int, or the sympy expression of a symbolic dim."""
    from torch.export.graph_signature import InputKind

    names = [s.arg.name for s in ep.graph_signature.input_specs if s.kind == InputKind.USER_INPUT]
    vals = {n.name: n.meta["val"] for n in ep.graph.nodes if n.op == "placeholder"}
    return [[d if isinstance(d, int) else d.node.expr for d in vals[name].shape] for name in names]


def _hints(dims: list, inputs: tuple) -> dict:
    """Each symbol's sample value, read where a dim is the bare symbol."""
    hints = {}
    for shape, x in zip(dims, inputs):
        for d, size in zip(shape, x.shape):
            if not isinstance(d, int) and d.is_Symbol:
                hints[d] = int(size)
    return hints


def _resized(ep, hints: dict, variant) -> dict | None:
    """Every symbol moved by `variant`, within its range constraint (None when none can move)."""
    sizes, moved = {}, False
    for s, h in hints.items():
        r = ep.range_constraints.get(s)
        lo = int(r.lower) if r is not None else 2
        hi = _bound(r.upper) if r is not None else 1 << 20
        v = min(max(variant(h), lo), hi)
        sizes[s] = v
        moved |= v != h
    return sizes if moved else None


def _bound(upper) -> int:
    """A range constraint's upper end as an int (torch's int_oo, unbounded, calls itself finite)."""
    from torch.utils._sympy.numbers import int_oo

    return 1 << 20 if upper == int_oo else int(upper)


def _accepted(ep, module, xs: tuple) -> bool:
    """Whether the exported program's guards and eager PyTorch both take inputs `xs`."""
    try:
        with torch.no_grad():
            ep.module()(*xs)
            module(*xs)
    except Exception:
        return False
    return True


def _run_resized(tflite: bytes, runtime: str, xs: tuple) -> list:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if runtime == "xnnpack" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    itp = Interpreter(model_content=tflite, num_threads=1, experimental_op_resolver_type=resolver)
    details = itp.get_input_details()
    if len(details) != len(xs):
        raise RuntimeError(f"the model takes {len(details)} inputs, the program {len(xs)}")
    for d, x in zip(details, xs):
        itp.resize_tensor_input(d["index"], list(x.shape), strict=True)
    itp.allocate_tensors()
    for d, x in zip(details, xs):
        itp.set_tensor(d["index"], np.asarray(x.numpy().astype(d["dtype"]), order="C"))
    itp.invoke()
    return [itp.get_tensor(d["index"]).copy() for d in itp.get_output_details()]
