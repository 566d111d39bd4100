"""Ops whose output jumps where the input crosses a threshold: argmax/argmin, the indices of topk,
sort and max/min over a dim, floor/ceil/round/sign, fmod/remainder, floor and trunc division,
comparisons joined by logical ops, and integer arithmetic on floored values. fp32 and float64 may land on opposite sides of a jump, and
the difference would be a full step that is nobody's bug. So each op is added only when every
element its jump depends on is at least MARGIN (relative to the tensor's scale) from a threshold,
in the float64 values the builder holds; any difference left is the converter's.

Their values (topk, sort and max values) are continuous and need no margin."""

from __future__ import annotations

import torch

from difftest.builder import Builder

MARGIN = 1e-3


def _clear(distance: torch.Tensor, t: torch.Tensor) -> bool:
    """Every distance to a threshold exceeds the margin, relative to the tensor's scale."""
    return bool((distance.abs() > MARGIN * (1.0 + float(t.abs().max()))).all())


def _sorted_gaps(t: torch.Tensor, d: int, descending: bool) -> torch.Tensor:
    """Gaps between neighbours in sorted order along d: gap i separates rank i from rank i + 1."""
    s = t.sort(d, descending=descending).values
    n = t.shape[d]
    return s.narrow(d, 0, n - 1) - s.narrow(d, 1, n - 1)


def pick(b: Builder, v: int) -> int | None:
    """argmax / argmin, max / min over a dim, topk, sort: the values or the indices (made float)."""
    r = b.rng
    t = b.vals[v]
    n = len(t.shape)
    d = r.randrange(n)
    size = t.shape[d]
    kd = ", keepdim=True" if r.random() < 0.4 else ""
    form = r.choice(["argmax", "argmin", "max", "min", "topk", "topk", "sort", "argmax_all"])
    want_indices = r.random() < 0.6
    if form == "argmax_all":
        flat = t.reshape(-1)
        if flat.numel() < 2 or not _clear(_sorted_gaps(flat, 0, True).narrow(0, 0, 1), t):
            return None
        return b.add("{0}.argmax().to({0}.dtype)", [v], tag="pick")
    if size < 2:
        return None
    largest = form in ("argmax", "max") or (form in ("topk", "sort") and r.random() < 0.5)
    k = size if form == "sort" else (r.randint(1, size) if form == "topk" else 1)
    gaps = _sorted_gaps(t, d, descending=largest).narrow(d, 0, min(k, size - 1))
    if form in ("argmax", "argmin"):
        if not _clear(gaps, t):
            return None
        return b.add(f"torch.{form}({{0}}, {d}{kd}).to({{0}}.dtype)", [v], tag="pick")
    if form in ("max", "min"):
        part = 1 if want_indices else 0
        if want_indices and not _clear(gaps, t):
            return None
        tail = ".to({0}.dtype)" if want_indices else ""
        return b.add(f"{{0}}.{form}({d}{kd})[{part}]{tail}", [v], tag="pick")
    if want_indices and not _clear(gaps, t):
        return None
    call = (f"torch.topk({{0}}, {k}, {d}, largest={largest})" if form == "topk"
            else f"torch.sort({{0}}, {d}, descending={largest})")
    return b.add(call + ("[1].to({0}.dtype)" if want_indices else "[0]"), [v], tag="pick")


def rounding(b: Builder, v: int) -> int | None:
    """floor / ceil / round / sign, fmod / remainder by a constant, floor and trunc division."""
    r = b.rng
    t = b.vals[v]
    s = round(r.choice([-1, 1]) * r.uniform(0.3, 3.0), 3)
    form = r.choice(["floor", "ceil", "round", "sign", "fmod", "remainder", "div_floor", "div_trunc", "div_tensor"])
    if form == "sign":
        return b.add("torch.sign({0})", [v], tag="rounding") if _clear(t, t) else None
    if form in ("floor", "ceil", "round"):
        q = t * s
        shift = 0.5 if form == "round" else 0.0  # round jumps at half-integers
        if not _clear(q - shift - torch.round(q - shift), q):
            return None
        return b.add(f"torch.{form}({{0}} * {s!r})", [v], tag="rounding")
    if form == "div_tensor":
        w = r.choice([u for u in b.tensors() if b.shape(u) == b.shape(v)])
        q = t / (b.vals[w].abs() + 0.5)
        if not _clear(q - torch.round(q), q):
            return None
        expr = r.choice(["torch.div({0}, {1}.abs() + 0.5, rounding_mode='floor')",
                         "torch.div({0}, {1}.abs() + 0.5, rounding_mode='trunc')", "torch.remainder({0}, {1}.abs() + 0.5)"])
        return b.add(expr, [v, w], tag="rounding")
    q = t / s
    if not _clear(q - torch.round(q), q):  # every one of these jumps where x / s is an integer
        return None
    expr = {"fmod": f"torch.fmod({{0}}, {s!r})", "remainder": f"torch.remainder({{0}}, {s!r})",
            "div_floor": f"torch.div({{0}}, {s!r}, rounding_mode='floor')",
            "div_trunc": f"torch.div({{0}}, {s!r}, rounding_mode='trunc')"}[form]
    return b.add(expr, [v], tag="rounding")


def logic(b: Builder, v: int) -> int | None:
    """Comparisons of two values (or a value and a threshold) joined by and / or / not, made float."""
    r = b.rng
    t = b.vals[v]
    same = [u for u in b.tensors() if b.shape(u) == b.shape(v) and u != v]
    thr = round(r.uniform(-0.5, 0.5), 2)
    if same and r.random() < 0.6:
        w = r.choice(same)
        if not _clear(t - b.vals[w], t):
            return None
        a, args = r.choice(["{0} < {1}", "{0} > {1}", "torch.gt({0}, {1})", "torch.ge({0}, {1})", "torch.lt({0}, {1})"]), [v, w]
    else:
        if not _clear(t - thr, t):
            return None
        a, args = r.choice([f"{{0}} > {thr!r}", f"{{0}} <= {thr!r}", f"torch.lt({{0}}, {thr!r})"]), [v]
    if not _clear(t, t):
        return None
    c = r.choice(["{0} > 0.0", "{0} < 0.0"])
    form = r.choice(["({a}) & ({c})", "({a}) | ({c})", "~({a})", "torch.logical_and({a}, {c})",
                     "torch.logical_or({a}, {c})", "torch.logical_not({a})", "({a}) == ({c})", "({a}) != ({c})",
                     "({a}).to({{0}}.dtype) == 1.0", "({a}).to({{0}}.dtype) != 0.0"])
    cond = form.format(a=a, c=c)
    out = r.choice(["({x}).to({{0}}.dtype)", "torch.where({x}, {{0}}, -{{0}})", "({x}).to({{0}}.dtype) * {{0}}"])
    return b.add(out.format(x=cond), args, tag="logic")


_INTEGER_DTYPES = ["torch.int8", "torch.uint8", "torch.int16", "torch.int32", "torch.int64"]
# Integer steps on x (and y, the same value at another scale): LiteRT's kernels compute few of them
# in int8, uint8, int16 or bool as PyTorch does (lower/kernel_dtypes.h), so wrong dtypes show here.
_INTEGER_STEPS = [
    "{x} + {y}", "{x} - {y}", "{x} * {y}", "{x} + 3", "{x} * 2", "{x} - 1", "torch.relu({x})", "{x}.clamp(min=0)",
    "{x}.clamp(-2, 5)", "torch.maximum({x}, {y})", "torch.minimum({x}, {y})", "torch.where({x} > {y}, {x}, {y})",
    "({x} == {y}).to({x}.dtype)", "-{x}", "{x} % 3", "torch.relu({x} + {y})", "({x} < 2) | ({y} > 0)",
    # Python ints outside the dtype's range wrap into it (uint8: -2 is 254, 300 is 44).
    "({x} > -2).to({x}.dtype)", "({x} < 300).to({x}.dtype)", "{x} + (-3)", "torch.add({x}, {y}, alpha=-1)",
    "{x}.clamp(min=-3)", "torch.maximum({x}, torch.tensor(-2))",
]


def integer(b: Builder, v: int) -> int | None:
    """v floored to an integer dtype at two scales, one to three integer steps, made float again.
    The floors take the margin; everything after them is exact in every dtype (narrow results wrap
    in PyTorch and must wrap the same way in LiteRT)."""
    r = b.rng
    t = b.vals[v]
    dt = r.choice(_INTEGER_DTYPES)
    lo, hi = (0, 200) if dt == "torch.uint8" else (-100, 100)
    scales = [round(r.uniform(0.5, 6.0), 3) for _ in range(2)]
    for s in scales:
        q = t * s
        if not _clear(q - torch.floor(q), q):
            return None
    x, y = (f"torch.floor({{0}} * {s!r}).clamp({lo}, {hi}).to({dt})" for s in scales)
    for _ in range(r.randint(1, 3)):
        x = r.choice(_INTEGER_STEPS).format(x=f"({x})", y=f"({y})")
    if r.random() < 0.3:
        x = f"({x}).{r.choice(['sum', 'amax', 'cumsum'])}(-1)"
    return b.add(f"({x}).to({{0}}.dtype)", [v], tag="integer")
