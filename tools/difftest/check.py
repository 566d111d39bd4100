"""Checks one program: convert it with pt2tflite.convert, run the result in LiteRT with XNNPACK
(the default) and with the builtin kernels only, and compare both with PyTorch.

Float programs are compared with the module run in float64 on float64 inputs: an output passes
when max|diff| <= 1e-4·max|ref| + 1e-6, or, where PyTorch's own float32 result is far from float64
(an ill-conditioned output), when max|diff| <= 3× that distance, or, where what follows amplifies
one op's rounding, when max|diff| is no more than what a kernel's error in one computed value
(KERNEL_ULPS ulp for transcendental ops, OTHER_ULPS for the rest) moves the output
(`kernel_error_effect`). Int8 programs are compared with
their PT2E reference (convert_pt2e) in PyTorch, within INT8_LSB steps of the coarsest int8 tensor
each output depends on, or of what one step in one computed int8 tensor moves the output by (a
step upstream can be many output steps: `relu(v) ** 2`), plus two float32 ulp of max|ref| (both
sides dequantize to float32).

Classes: pass; refused (ConversionError: fine); invalid (the float64 reference is not finite:
the generator's fault, not a converter bug); load_failure (a runtime refuses the file: a bug, the
builtin kernels are the specification); mismatch (a silent wrong answer: a bug); crash (convert
or pt2tflite's PT2E quantizer raised something other than ConversionError, or the process died:
a bug)."""

from __future__ import annotations

import copy
import dataclasses
import traceback

import numpy as np
import torch

from difftest.program import Program, build_module, make_inputs

REL_TOL = 1e-4
ABS_FLOOR = 1e-6
COND_FACTOR = 3.0
# A transcendental kernel may be this many float32 ulp from the exact result: XNNPACK's EXP is up to
# 8.0 ulp off over [-10, 10] (the builtin kernel 0.5, PyTorch 0.55), its TANH 4.0, SQRT 3.1, the
# builtin LOGISTIC 5.7. Every other op: 1 ulp (a rounding, or a different order of summation).
KERNEL_ULPS = 8.0
OTHER_ULPS = 1.0
# Ops (FX targets' names) that compute a transcendental function, alone or inside a normalization.
TRANSCENDENTAL = frozenset("""
    exp exp2 expm1 log log2 log10 log1p tanh sigmoid sin cos tan atan erf pow sqrt rsqrt gelu silu elu
    selu celu softplus mish logsigmoid softmax log_softmax layer_norm group_norm batch_norm
    instance_norm normalize scaled_dot_product_attention""".split())
INT8_LSB = 4.0  # requantization rounds differently (half-even vs half-away); steps add up along a chain
RUNTIMES = ("xnnpack", "builtin")
BUGS = ("load_failure", "mismatch", "crash")


@dataclasses.dataclass
class Outcome:
    cls: str
    detail: str = ""
    runtime: str = ""
    failed_outputs: list = dataclasses.field(default_factory=list)  # indices into program.outputs
    worst: float = 0.0  # max over outputs and runtimes of err / tolerance


def interpreter(tflite: bytes, runtime: str):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if runtime == "xnnpack" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    itp = Interpreter(model_content=tflite, num_threads=1, experimental_op_resolver_type=resolver)
    itp.allocate_tensors()
    return itp


def run_tflite(itp, inputs) -> list:
    details = itp.get_input_details()
    if len(details) != len(inputs):
        raise RuntimeError(f"the model takes {len(details)} inputs, the program {len(inputs)}")
    for d, x in zip(details, inputs):
        itp.set_tensor(d["index"], np.asarray(x.numpy().astype(d["dtype"]), order="C"))
    itp.invoke()
    return [itp.get_tensor(d["index"]).copy() for d in itp.get_output_details()]


def _as_list(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def float_tolerances(module, inputs) -> tuple[list, list]:
    """(float64 references, tolerance per output)."""
    m64 = copy.deepcopy(module).double()
    with torch.no_grad():
        ref64 = [t.numpy() for t in _as_list(m64(*[x.double() for x in inputs]))]
        ref32 = [t.numpy() for t in _as_list(module(*inputs))]
    tols = []
    for r64, r32 in zip(ref64, ref32):
        scale = float(np.abs(r64).max()) if r64.size else 0.0
        e32 = float(np.abs(r32.astype(np.float64) - r64).max()) if r64.size else 0.0
        tols.append(max(REL_TOL * scale + ABS_FLOOR, COND_FACTOR * e32))
    return ref64, tols


def kernel_error_effect(module, inputs, ref64: list) -> list:
    """Per output, the largest change that a kernel's error in one computed value makes: the module
    is rerun in float64 with every element of one op's result moved by KERNEL_ULPS float32 ulp for
    a transcendental op, OTHER_ULPS for any other (up or down at random), for each op in turn.
    What follows can amplify a kernel's few-ulp error far past the plain bar, and past PyTorch's own float32 distance when PyTorch's kernel is the more
    accurate one: cos(exp(6.0)) turns XNNPACK's 3.7-ulp exp(6.0) into 1.1e-4 of an output of
    scale 1 (program 0:19306). A real bug moves the output much further than one op's rounding.
    Empty when the module cannot be traced (the plain bar then stands alone)."""
    try:
        gm = torch.fx.symbolic_trace(copy.deepcopy(module).double())
    except Exception:
        return []
    args = [x.double() for x in inputs]
    ops = [n for n in gm.graph.nodes if n.op in ("call_function", "call_method", "call_module")]
    moved = [0.0] * len(ref64)
    for target in ops:
        with torch.no_grad():
            outs = _as_list(_PerturbOne(gm, target).run(*args))
        for k, (o, r) in enumerate(zip(outs, ref64)):
            if isinstance(o, torch.Tensor) and o.is_floating_point() and r.size:
                moved[k] = max(moved[k], float(np.abs(o.numpy() - r).max()))
    return moved


class _PerturbOne(torch.fx.Interpreter):
    """Runs a traced module, moving every element of one node's float result by its kernel's error
    in float32 ulp, with a fixed random sign per element."""

    def __init__(self, gm, target):
        super().__init__(gm)
        self.target = target

    def run_node(self, n):
        out = super().run_node(n)
        if n is self.target and isinstance(out, torch.Tensor) and out.is_floating_point():
            ulp = torch.from_numpy(np.asarray(np.spacing(np.abs(out.numpy()).astype(np.float32)), np.float64))  # 0-d too
            signs = _random_signs(out.shape)
            name = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", "")
            out = out + (KERNEL_ULPS if name in TRANSCENDENTAL else OTHER_ULPS) * ulp * signs
        return out


def int8_reference(p: Program, module, inputs):
    """(PT2E reference module, its outputs, tolerance per output: INT8_LSB steps of the coarsest
    int8 tensor upstream or what one step at every element of one computed int8 tensor moves the
    output by, whichever is larger; for an output left in float, 1% of max|ref|)."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from pt2tflite.quantize import PT2EQuantizer, get_symmetric_quantization_config

    m = torch.export.export(module, tuple(inputs)).module()
    m = prepare_pt2e(m, PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True)))
    for salt in range(4):
        m(*make_inputs(p, salt))
    ref = convert_pt2e(m)
    with torch.no_grad():
        want = [t.detach().numpy().astype(np.float64) for t in _as_list(ref(*inputs))]
    out_node = next(n for n in ref.graph.nodes if n.op == "output")
    moved = _one_step_effect(ref, inputs, want)
    tols = []
    for n, w, m in zip(_as_list(out_node.args[0]), want, moved):
        step = _largest_step_upstream(n)
        scale = float(np.abs(w).max()) if w.size else 0.0
        tols.append(max(INT8_LSB * step, m) * (1 + 1e-6) + _float32_rounding(scale) if step
                    else 1e-2 * scale + ABS_FLOOR)
    return ref, want, tols


def _float32_rounding(scale: float) -> float:
    """Both sides dequantize to float32, each value rounded to within half a float32 ulp, so a
    difference of exactly k steps can read up to one ulp of max|ref| more than k * step: 0:81229 was
    4 steps apart (within the bar) and read as 0.22178078 against a bar of 0.22178076."""
    return 2.0 * float(np.spacing(np.float32(scale)))


def _one_step_effect(ref, inputs, want) -> list:
    """Per output, the largest change that moving one int8 activation tensor by one step makes (the
    reference rerun with every element of that tensor one step up or down at random, for each
    tensor in turn; random signs, since rounding differences do not all go one way).
    A rounding difference upstream is amplified by what follows it: a one-step difference in a
    linear's output became four steps of `relu(stack(v)) ** 2` (x·x doubles |x|·dx). Measuring
    that at the output keeps the bar in output units without a rule per op."""
    dq = torch.ops.quantized_decomposed.dequantize_per_tensor.default
    # The model's own input is quantized the same way by both (round to nearest; only exact ties
    # could differ), so only tensors some op computed count.
    names = [n.name for n in ref.graph.nodes if n.target == dq and isinstance(n.args[1], float)
             and not _quantizes_an_input(n)]
    moved = [0.0] * len(want)
    for name in names:
        gm = copy.deepcopy(ref)
        n = next(x for x in gm.graph.nodes if x.name == name)
        with gm.graph.inserting_after(n):
            bumped = gm.graph.call_function(_one_step_apart, (n, n.args[1]))
        n.replace_all_uses_with(bumped, delete_user_cb=lambda user: user is not bumped)
        gm.recompile()
        with torch.no_grad():
            outs = _as_list(gm(*inputs))
        for k, (o, w) in enumerate(zip(outs, want)):
            if w.size:
                moved[k] = max(moved[k], float(np.abs(o.detach().numpy().astype(np.float64) - w).max()))
    return moved


def _quantizes_an_input(dq_node) -> bool:
    q = dq_node.args[0]
    return isinstance(q, torch.fx.Node) and any(a.op == "placeholder" for a in q.all_input_nodes)


def _one_step_apart(x: torch.Tensor, step: float) -> torch.Tensor:
    return x + step * _random_signs(x.shape).to(x.dtype)


def _random_signs(shape) -> torch.Tensor:
    """±1 per element, the same for every call with that shape."""
    return torch.randint(0, 2, shape, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _largest_step_upstream(node) -> float:
    """The largest quantization step among the int8 tensors `node` depends on. One step of a
    coarse intermediate (a rounding difference, within spec) can be many steps of a finer output:
    relu(a*b) with step 0.031 then hardtanh(-1, 1) with step 0.0039 turns 1 LSB into 8."""
    dq = torch.ops.quantized_decomposed.dequantize_per_tensor.default
    seen, stack, step = set(), [node], 0.0
    while stack:
        n = stack.pop()
        if not isinstance(n, torch.fx.Node) or n in seen:
            continue
        seen.add(n)
        if n.target == dq:
            step = max(step, float(n.args[1]))
        stack.extend(n.all_input_nodes)
    return step


def check(p: Program) -> Outcome:
    import pt2tflite

    module = build_module(p)
    inputs = make_inputs(p)
    try:
        if p.int8:
            module, want, tols = int8_reference(p, module, inputs)
        else:
            want, tols = float_tolerances(module, inputs)
    except Exception as e:
        # PT2E with pt2tflite's quantizer must handle every valid program; float references
        # are evaluated by the generator already, so a failure there is the harness's own.
        cls = "crash" if p.int8 else "invalid"
        return Outcome(cls, f"reference: {type(e).__name__}: {e}".splitlines()[0][:500])
    if not all(np.isfinite(w).all() for w in want):
        return Outcome("invalid", "reference is not finite")
    try:
        tflite = pt2tflite.convert(module, inputs, num_threads=1).tflite_bytes
    except Exception as e:
        return conversion_failure(e)
    got_by_rt = {}
    for rt in RUNTIMES:
        try:
            got_by_rt[rt] = run_tflite(interpreter(tflite, rt), inputs)
        except Exception as e:
            return Outcome("load_failure", f"{rt}: {e}".strip().replace("\n", " ")[:400], rt)
        if len(got_by_rt[rt]) != len(want):
            return Outcome("mismatch", f"{rt}: {len(got_by_rt[rt])} outputs, expected {len(want)}", rt,
                           list(range(len(want))), np.inf)
    outcome = _compare(got_by_rt, want, tols)
    if outcome.cls == "mismatch" and not p.int8 and outcome.worst < np.inf:
        # Only where the plain bar fails: one rerun per op is cheap, but not free.
        moved = kernel_error_effect(module, inputs, want)
        if moved:
            outcome = _compare(got_by_rt, want, [max(t, m * (1 + 1e-6)) for t, m in zip(tols, moved)])
    return outcome


def conversion_failure(e: Exception) -> Outcome:
    """A ConversionError is a refusal; anything else that conversion raised is a crash."""
    import pt2tflite

    if isinstance(e, pt2tflite.ConversionError):
        # The message lists only the first few nodes; batch.py attributes a union's refusal to its
        # members by every node's line, so list them all.
        head = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return Outcome("refused", "\n".join([head] + [f"  - {d}" for d in e.diagnostics])[:2000]
                       if e.diagnostics else str(e).strip()[:2000])
    return Outcome("crash", f"convert raised {type(e).__name__}: {e}".strip()[:500] + "\n" + traceback.format_exc()[-1500:])


def _compare(got_by_rt: dict, want: list, tols: list) -> Outcome:
    worst, failed, fail_rt, detail = 0.0, set(), "", []
    for rt, got in got_by_rt.items():
        for k, (g, w, tol) in enumerate(zip(got, want, tols)):
            if tuple(g.shape) != tuple(w.shape):
                err = np.inf
                detail.append(f"{rt} output {k}: shape {tuple(g.shape)} != {tuple(w.shape)}")
            else:
                err = float(np.abs(g.astype(np.float64) - w).max()) if w.size else 0.0
                if not np.isfinite(err):
                    err = np.inf
            ratio = err / tol if tol > 0 else (0.0 if err == 0 else np.inf)
            worst = max(worst, ratio)
            if ratio > 1.0:
                failed.add(k)
                fail_rt = fail_rt if fail_rt in ("", rt) else "both"
                fail_rt = fail_rt or rt
                scale = float(np.abs(w).max()) if w.size else 0.0
                detail.append(f"{rt} output {k}: max|diff| {err:.3g} (tolerance {tol:.3g}, max|ref| {scale:.3g})")
    if failed:
        return Outcome("mismatch", "; ".join(detail), fail_rt, sorted(failed), worst)
    return Outcome("pass", worst=worst)
