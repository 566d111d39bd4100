"""The op catalogue: each function adds one PyTorch op (sometimes a small idiom such as a guarded
log) reading value `v` to the Builder, with random attributes valid for v's shape, and returns the
new value id or None when the op does not apply. Ops whose output jumps with their input (argmax,
rounding, comparisons) are in ops_selection.py. `python tools/difftest/op_coverage.py` lists the
ops of docs/ops.md that the generated programs reach and the ones they do not."""

from __future__ import annotations

import itertools
import math

from difftest import ops_selection as selection
from difftest import ops_zero_dim
from difftest.builder import MAX_NUMEL, Builder

# Activations that the converter may fuse into the op before them, and a few it must not.
FUSABLE_ACTIVATIONS = [
    "torch.relu({0})",
    "F.relu({0})",
    "F.relu6({0})",
    "F.hardtanh({0})",
    "F.hardtanh({0}, 0.0, 6.0)",
    "torch.clamp({0}, 0.0, 6.0)",
    "{0}.clamp(min=0.0)",
    "torch.clamp({0}, -1.0, 1.0)",
]
OTHER_ACTIVATIONS = [
    "{0}.clamp(-0.5, 2.0)",
    "{0}.clamp(max=1.0)",
    "F.leaky_relu({0}, 0.1)",
    "F.hardtanh({0}, -2.0, 3.0)",
]
# What the int8 quantizer (pt2tflite.quantize) folds into the op before it.
INT8_ACTIVATIONS = ["torch.relu({0})", "F.relu6({0})", "F.hardtanh({0}, -1.0, 1.0)"]


def activation(b: Builder, v: int) -> int | None:
    if b.program.int8:
        expr = b.rng.choice(INT8_ACTIVATIONS)
    else:
        expr = b.rng.choice(FUSABLE_ACTIVATIONS if b.rng.random() < 0.8 else OTHER_ACTIVATIONS)
    return b.add(expr, [v], tag="activation")


_UNARY = [
    "torch.sigmoid({0})",
    "torch.tanh({0})",
    "{0}.abs()",
    "-{0}",
    "torch.neg({0})",
    "F.gelu({0})",
    "F.gelu({0}, approximate='tanh')",
    "F.silu({0})",
    "F.hardswish({0})",
    "F.hardsigmoid({0})",
    "F.elu({0})",
    "F.elu({0}, alpha=0.5)",
    "F.softplus({0})",
    "F.softplus({0}, beta=2.0)",
    "F.mish({0})",
    "torch.log1p({0}.abs())",
    "torch.log({0}.abs() + 0.5)",
    "torch.sqrt({0}.abs() + 0.1)",
    "torch.rsqrt({0} * {0} + 0.5)",
    "{0} ** 2",
    "{0}.pow(3)",
    "({0}.abs() + 0.25) ** 0.5",
    "1.0 / ({0}.abs() + 1.0)",
    "torch.sin({0})",
    "torch.cos({0})",
]


def unary(b: Builder, v: int) -> int | None:
    expr = b.rng.choice(_UNARY)
    if b.rng.random() < 0.1 and b.absmax(v) < 8:
        expr = "torch.exp({0})"
    return b.add(expr, [v], tag="unary")


def int8_unary(b: Builder, v: int) -> int | None:
    expr = b.rng.choice(["torch.sigmoid({0})", "torch.tanh({0})", "F.hardswish({0})", "torch.relu({0})"])
    return b.add(expr, [v], tag="unary")


# -- binary -----------------------------------------------------------------------------------


def _broadcast_shape(a: tuple, c: tuple) -> tuple | None:
    out = []
    for x, y in itertools.zip_longest(reversed(a), reversed(c), fillvalue=1):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return tuple(reversed(out))


def _numel(shape) -> int:
    return math.prod(shape)


def _reduced_shape(b: Builder, shape: tuple) -> tuple:
    """A shape that broadcasts to `shape`: some dims set to 1, maybe leading dims dropped."""
    s = [d if b.rng.random() < 0.5 else 1 for d in shape]
    drop = b.rng.randrange(len(s) + 1) if b.rng.random() < 0.4 else 0
    return tuple(s[drop:]) or ()


def _grown_shape(b: Builder, shape: tuple) -> tuple:
    """A shape that broadcasts with `shape` to a larger one: size-1 dims grow, or a dim is added."""
    s = [b.rng.randint(2, 4) if d == 1 and b.rng.random() < 0.7 else (1 if b.rng.random() < 0.5 else d) for d in shape]
    if len(s) < 4 and (b.rng.random() < 0.5 or s == list(shape)):
        s = [b.rng.randint(2, 3)] + s
    return tuple(s)


def binary(b: Builder, v: int) -> int | None:
    r = b.rng
    op = r.choice(["+", "-", "*", "/", "+", "*"])
    shape = b.shape(v)
    kind = r.choice(["value", "value", "const", "const", "scalar", "noop", "grow", "where", "self"])
    if b.program.int8:
        kind = r.choice(["value", "value", "const", "scalar"])
        op = r.choice(["+", "*"]) if kind != "scalar" else op
    if kind == "noop":
        expr = r.choice(["{0} * 1.0", "{0} + 0.0", "{0} - 0.0", "{0} / 1.0", "1.0 * {0}", "{0} * 1"])
        return b.add(expr, [v], tag="noop")
    if kind == "self":  # one value read twice, as residuals and gates do: v * 2 + v, v * v - v
        s = round(r.uniform(0.25, 2.5), 3)
        expr = r.choice([f"{{0}} * {s!r} + {{0}}", f"{{0}} {op} {{0}}", f"{{0}} * {{0}} {op} {{0}}", f"{{0}} - {{0}} * {s!r}"])
        return b.add(expr.replace("/ {0}", "/ ({0}.abs() + 0.5)"), [v], tag="binary")
    if kind == "scalar":
        s = round(r.choice([-1, 1]) * r.uniform(0.25, 2.5), 3)
        expr = r.choice([f"{{0}} {op} {s!r}", f"{s!r} {op} ({{0}}.abs() + 0.5)" if op == "/" else f"{s!r} {op} {{0}}"])
        return b.add(expr, [v], tag="scalar")
    if kind == "where":
        w = _partner(b, v)
        thr = round(r.uniform(-0.5, 0.5), 2)
        other = "{1}" if w is not None else r.choice(["0.0", "-{0}", "{0} * 0.5"])
        return b.add(f"torch.where({{0}} > {thr!r}, {{0}}, {other})", [v] + ([w] if w is not None else []), tag="where")
    if kind in ("const", "grow"):
        cshape = _reduced_shape(b, shape) if kind == "const" else _grown_shape(b, shape)
        out = _broadcast_shape(shape, cshape)
        if out is None or _numel(out) > MAX_NUMEL:
            return None
        if op == "/":
            c = b.const(cshape, 1.5, kind="positive")
        else:
            c = b.const(cshape, 1.0)
        expr = f"{{0}} {op} {{p0}}" if r.random() < 0.7 or op == "/" else f"{{p0}} {op} {{0}}"
        return b.add(expr, [v], [c], tag="const" if kind == "const" else "broadcast")
    w = _partner(b, v)
    if w is None:
        return None
    if op == "/":
        return b.add("{0} / ({1}.abs() + 0.5)", [v, w], tag="binary")
    return b.add(f"{{0}} {op} {{1}}", [v, w], tag="binary")


def _partner(b: Builder, v: int) -> int | None:
    """Another value (or v itself) that broadcasts with v, preferring the same shape."""
    shape = b.shape(v)
    same = [w for w in b.tensors() if b.shape(w) == shape]
    other = [w for w in b.tensors() if (s := _broadcast_shape(shape, b.shape(w))) is not None and _numel(s) <= MAX_NUMEL]
    if b.rng.random() < 0.6 and same:
        return b.rng.choice(same)
    return b.rng.choice(other) if other else None


def compare(b: Builder, v: int) -> int | None:
    """A comparison made float again (bool tensors, CAST, SELECT_V2 paths)."""
    r = b.rng
    w = _partner(b, v)
    cond = r.choice([f"{{0}} > {round(r.uniform(-0.5, 0.5), 2)!r}", "{0} <= {1}", "{0} != {1}", "{0} >= 0.0"])
    args = [v, w] if "{1}" in cond and w is not None else [v]
    if "{1}" in cond and w is None:
        return None
    form = r.choice(["({c}).to({{0}}.dtype)", "({c}).to({{0}}.dtype) * {{0}}", "torch.where({c}, 1.0, -1.0).to({{0}}.dtype)"])
    return b.add(form.format(c=cond), args, tag="compare")


# -- data movement ----------------------------------------------------------------------------


def _factorize(b: Builder, n: int, rank: int) -> list:
    dims = []
    for _ in range(rank - 1):
        divs = [d for d in range(1, n + 1) if n % d == 0]
        d = b.rng.choice(divs)
        dims.append(d)
        n //= d
    dims.append(n)
    b.rng.shuffle(dims)
    return dims


def reshape(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    form = r.choice(["reshape", "view", "flatten", "unsqueeze", "squeeze", "merge"])
    if form == "flatten" and len(shape) >= 2:
        s = r.randrange(len(shape) - 1)
        return b.add(f"{{0}}.flatten({s})" if s else "{0}.flatten()", [v], tag="reshape")
    if form == "unsqueeze" and len(shape) < 4:
        d = r.randint(-len(shape) - 1, len(shape))
        return b.add(f"{{0}}.unsqueeze({d})", [v], tag="reshape")
    if form == "squeeze" and 1 in shape:
        d = r.choice([i for i, s in enumerate(shape) if s == 1])
        return b.add(r.choice([f"{{0}}.squeeze({d})", "{0}.squeeze()"]), [v], tag="reshape")
    if form == "merge" and len(shape) >= 2:  # merge two neighbours, the layout-friendly reshape
        i = r.randrange(len(shape) - 1)
        new = list(shape[:i]) + [shape[i] * shape[i + 1]] + list(shape[i + 2 :])
        return b.add(f"{{0}}.reshape({tuple(new)!r})", [v], tag="reshape")
    rank = r.randint(1, 4)
    dims = _factorize(b, _numel(shape), rank)
    if r.random() < 0.3:
        dims[r.randrange(rank)] = -1
    method = "view" if form == "view" else "reshape"
    return b.add(f"{{0}}.{method}({', '.join(map(str, dims))})", [v], tag="reshape")


def permute(b: Builder, v: int) -> int | None:
    r = b.rng
    n = len(b.shape(v))
    if n < 2:
        return None
    form = r.choice(["permute", "transpose", "transpose", "t"] if n == 2 else ["permute", "permute", "transpose"])
    if form == "t":
        return b.add("{0}.t()", [v], tag="permute")
    if form == "transpose":
        i, j = r.sample(range(n), 2)
        return b.add(f"{{0}}.transpose({i}, {j})", [v], tag="permute")
    perm = list(range(n))
    r.shuffle(perm)
    return b.add(f"{{0}}.permute({', '.join(map(str, perm))})", [v], tag="permute")


def expand(b: Builder, v: int) -> int | None:
    shape = b.shape(v)
    new = [b.rng.randint(2, 4) if d == 1 else d for d in shape]
    if len(new) < 4 and b.rng.random() < 0.6:
        new = [b.rng.randint(2, 3)] + new
    if list(new) == list(shape) or _numel(new) > MAX_NUMEL:
        return None
    return b.add(f"{{0}}.expand({', '.join(map(str, new))})", [v], tag="expand")


def slice_(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    d = r.randrange(len(shape))
    n = shape[d]
    idx = [":"] * len(shape)
    form = r.choice(["range", "range", "step", "select", "narrow"])
    if form == "select" and len(shape) >= 2:
        i = r.randrange(-n, n)
        idx[d] = str(i)
    elif form == "narrow" and n >= 2:
        start = r.randrange(n - 1)
        return b.add(f"{{0}}.narrow({d}, {start}, {r.randint(1, n - start)})", [v], tag="slice")
    elif form == "step" and n >= 3:
        idx[d] = f"{r.randrange(2)}::{r.choice([2, 3])}"
    elif n >= 2:
        start = r.randrange(n)
        end = r.randint(start + 1, n)
        idx[d] = f"{start}:{end}" if r.random() < 0.7 else f"{start - n}:"
    else:
        return None
    return b.add(f"{{0}}[{', '.join(idx)}]", [v], tag="slice")


def cat(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    d = r.randrange(len(shape))
    # Tensors that fit: v itself, values of the same shape except along d, or a constant.
    fits = [w for w in b.tensors() if len(b.shape(w)) == len(shape) and all(
        x == y for k, (x, y) in enumerate(zip(b.shape(w), shape)) if k != d)]
    parts, consts = [v], []
    for _ in range(r.randint(1, 2)):
        if r.random() < 0.25 and not b.program.int8:
            cshape = list(shape)
            cshape[d] = r.randint(1, 3)
            consts.append(b.const(cshape))
            parts.append(f"{{p{len(consts) - 1}}}")
        else:
            parts.append(r.choice(fits))
    args, names = [], []
    for p in parts:
        if isinstance(p, str):
            names.append(p)
        else:
            names.append(f"{{{len(args)}}}")
            args.append(p)
    dim = d if r.random() < 0.7 else d - len(shape)
    if r.random() < 0.15 and len(shape) < 4:
        return b.add(f"torch.stack([{', '.join(names)}], {r.randint(0, len(shape))})", args, consts, tag="cat") if all(
            not isinstance(p, str) and b.shape(p) == shape for p in parts) else None
    return b.add(f"torch.cat([{', '.join(names)}], {dim})", args, consts, tag="cat")


def split(b: Builder, v: int) -> int | None:
    """A split whose pieces are all read: the split node, one item node per piece, and a node
    that recombines some of them (or leaves them to later ops)."""
    r = b.rng
    shape = b.shape(v)
    ds = [d for d, n in enumerate(shape) if n >= 2]
    if not ds:
        return None
    d = r.choice(ds)
    n = shape[d]
    if r.random() < 0.5 and n % 2 == 0:
        expr, count = f"{{0}}.chunk(2, {d})", 2
    else:
        sizes = []
        left = n
        while left > 0:
            s = r.randint(1, left)
            sizes.append(s)
            left -= s
        expr, count = f"torch.split({{0}}, {sizes!r}, {d})", len(sizes)
    t = b.add(expr, [v], tag="split")
    if t is None:
        return None
    pieces = [b.add(f"{{0}}[{k}]", [t], tag="item") for k in range(count)]
    if count >= 2 and r.random() < 0.6 and b.shape(pieces[0]) == b.shape(pieces[1]):
        return b.add(f"{{0}} {r.choice(['+', '*', '-'])} {{1}}", [pieces[0], pieces[1]], tag="binary")
    return pieces[-1]


def pad(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    k = r.randint(1, min(2, len(shape)))
    pads = [r.randint(0, 2) for _ in range(2 * k)]
    if not any(pads):
        pads[0] = 1
    mode = r.choice(["constant", "constant", "reflect", "replicate"])
    if mode == "constant":
        value = r.choice([0.0, 0.0, 1.5])
        return b.add(f"F.pad({{0}}, {tuple(pads)!r}, value={value!r})" if value else f"F.pad({{0}}, {tuple(pads)!r})", [v], tag="pad")
    if len(shape) not in (3, 4):
        return None
    if any(p >= s for p, s in zip(pads, [shape[-1 - i // 2] for i in range(len(pads))])):
        return None
    return b.add(f"F.pad({{0}}, {tuple(pads)!r}, mode={mode!r})", [v], tag="pad")


def roll(b: Builder, v: int) -> int | None:
    shape = b.shape(v)
    d = b.rng.randrange(len(shape))
    return b.add(f"torch.roll({{0}}, {b.rng.randint(-3, 3)}, {d})", [v], tag="roll")


def index(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    d = r.randrange(len(shape))
    idx = b.const((r.randint(1, 4),), kind=f"index{shape[d]}")
    if r.random() < 0.5:
        return b.add(f"{{0}}.index_select({d}, {{p0}})", [v], [idx], tag="index")
    return b.add(f"{{0}}[{', '.join([':'] * d + ['{p0}'])}]", [v], [idx], tag="index")


def noop(b: Builder, v: int) -> int | None:
    expr = b.rng.choice(["{0} * 1.0", "{0}.clone()", "{0}.contiguous()", "{0}.reshape({0}.shape)", "{0}[:]", "{0} + 0.0",
                         "{0} + torch.arange({0}.shape[-1], dtype={0}.dtype) * 0.25",
                         "{0} * torch.full_like({0}, 0.5)"])
    return b.add(expr, [v], tag="noop")


# -- reductions and normalization -------------------------------------------------------------


def reduce(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    n = len(shape)
    dims = sorted(r.sample(range(n), r.randint(1, n)))
    if r.random() < 0.3:
        dims = [d - n for d in dims]
    keep = r.random() < 0.5
    kd = ", keepdim=True" if keep else ""
    fn = r.choice(["sum", "mean", "mean", "amax", "amin", "var", "all"])
    if fn == "all":
        return b.add(r.choice(["{0}.sum()", "{0}.mean()", "{0}.max()", "{0}.min()"]), [v], tag="reduce")
    if fn == "var":
        if _numel([shape[d] for d in dims]) < 2:
            return None
        return b.add(f"{{0}}.var({tuple(dims)!r}{kd})", [v], tag="reduce")
    return b.add(f"{{0}}.{fn}({tuple(dims)!r}{kd})", [v], tag="reduce")


def softmax(b: Builder, v: int) -> int | None:
    r = b.rng
    n = len(b.shape(v))
    d = r.randrange(-n, n)
    fn = r.choice(["torch.softmax", "F.softmax", "F.log_softmax", "torch.cumsum"])
    if b.program.int8:
        fn = "torch.softmax"
    return b.add(f"{fn}({{0}}, {d})", [v], tag="softmax")


def _well_spread(t, groups) -> bool:
    """Every normalized group's spread is well above its rounding noise. A near-constant group
    (layer norm of cat([x, x, x])) has (x - mean) made of float32 rounding alone, scaled by
    1/sqrt(eps) ~ 300: the output is noise that fp32 PyTorch only matches by luck (2026:358)."""
    g = t.reshape(groups, -1)
    return bool((g.std(1, correction=0) >= 0.01 * (1.0 + g.mean(1).abs())).all())


def norm(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    t = b.vals[v]
    form = r.choice(["layer", "layer", "batch", "group", "batch_own"])
    if form == "batch_own":  # batch norm with the input's own statistics (weight standardization)
        if len(shape) < 2 or _numel(shape) // shape[1] < 2 or not _well_spread(t.transpose(0, 1), shape[1]):
            return None
        return b.add("F.batch_norm({0}, None, None, training=True)", [v], tag="norm")
    if form == "layer":
        k = r.randint(1, min(2, len(shape)))
        ns = shape[-k:]
        if _numel(ns) < 2 or not _well_spread(t, _numel(shape[:-k])):
            return None
        if r.random() < 0.5:
            return b.add(f"F.layer_norm({{0}}, {tuple(ns)!r})", [v], tag="norm")
        return b.add(f"F.layer_norm({{0}}, {tuple(ns)!r}, {{p0}}, {{p1}})", [v],
                     [b.const(ns, 0.5, "positive"), b.const(ns, 0.5)], tag="norm")
    if len(shape) < 2:
        return None
    c = shape[1]
    if form == "batch":
        consts = [b.const((c,), 0.5), b.const((c,), 1.0, "positive"), b.const((c,), 0.5, "positive"), b.const((c,), 0.5)]
        return b.add("F.batch_norm({0}, {p0}, {p1}, {p2}, {p3}, False)", [v], consts, tag="norm")
    groups = [g for g in range(1, c + 1) if c % g == 0]
    g = r.choice(groups)
    if _numel(shape[1:]) // g < 2 or not _well_spread(t, shape[0] * g):
        return None
    return b.add(f"F.group_norm({{0}}, {g}, {{p0}}, {{p1}})", [v], [b.const((c,), 0.5, "positive"), b.const((c,), 0.5)], tag="norm")


# -- linear algebra ---------------------------------------------------------------------------


def linear(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    k = shape[-1]
    n = r.randint(1, 16)
    if _numel(shape[:-1]) * n > MAX_NUMEL:
        return None
    form = r.choice(["linear", "linear_nobias", "matmul_const", "addmm"]) if not b.program.int8 else "linear"
    w = b.weight((n, k), k)
    if form == "addmm" and len(shape) == 2:
        return b.add("torch.addmm({p1}, {0}, {p0})", [v], [b.weight((k, n), k), b.const((n,), 0.5, buffer=False)],
                     tag="linear")
    if form == "linear":
        return b.add("F.linear({0}, {p0}, {p1})", [v], [w, b.const((n,), 0.5, buffer=False)], tag="linear")
    if form == "linear_nobias":
        return b.add("F.linear({0}, {p0})", [v], [w], tag="linear")
    return b.add("{0} @ {p0}", [v], [b.weight((k, n), k)], tag="linear")


def matmul(b: Builder, v: int) -> int | None:
    """Activation × activation (BATCH_MATMUL), with batch-dim broadcasting."""
    r = b.rng
    shape = b.shape(v)
    if len(shape) < 2:
        return None
    if r.random() < 0.4:  # attention-like: x @ x^T
        return b.add("{0} @ {0}.transpose(-1, -2)", [v], tag="matmul")
    k = shape[-1]
    cands = [w for w in b.tensors() if len(b.shape(w)) >= 2 and b.shape(w)[-2] == k
             and _broadcast_shape(shape[:-2], b.shape(w)[:-2]) is not None]
    if cands:
        w = r.choice(cands)
        fn = r.choice(["{0} @ {1}", "torch.matmul({0}, {1})"])
        if len(shape) == 3 and b.shape(w)[:-2] == shape[:-2] and r.random() < 0.3:
            fn = "torch.bmm({0}, {1})"
        return b.add(fn, [v, w], tag="matmul")
    cands = [w for w in b.tensors() if len(b.shape(w)) >= 2 and b.shape(w)[-1] == k
             and _broadcast_shape(shape[:-2], b.shape(w)[:-2]) is not None]
    if cands:
        return b.add("{0} @ {1}.transpose(-1, -2)", [v, r.choice(cands)], tag="matmul")
    return None


# -- image ops (NCHW) -------------------------------------------------------------------------


def conv(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    if len(shape) == 3:
        return _conv1d(b, v)
    if len(shape) != 4:
        return None
    _, c, h, w = shape
    form = r.choice(["conv", "conv", "depthwise", "grouped", "transpose"])
    k = r.choice([1, 3, 3, 5])
    stride = r.choice([1, 1, 2])
    dil = 1 if r.random() < 0.85 else 2
    pad = r.choice([0, k // 2, k // 2, "'same'"]) if stride == 1 else r.choice([0, k // 2])
    bias = r.random() < 0.8
    if form == "transpose" and not b.program.int8:
        o = r.randint(1, 8)
        p = r.randint(0, max(0, k // 2))
        op = r.randint(0, stride - 1) if stride > 1 else 0
        consts = [b.weight((c, o, k, k), c * k * k)] + ([b.const((o,), 0.2, buffer=False)] if bias else [])
        return b.add(f"F.conv_transpose2d({{0}}, {{p0}}, {'{p1}' if bias else 'None'}, stride={stride}, padding={p}, output_padding={op})",
                     [v], consts, tag="conv")
    groups = 1
    if form == "depthwise":
        groups = c
    elif form == "grouped":
        groups = r.choice([g for g in range(1, c + 1) if c % g == 0])
    o = groups * r.randint(1, max(1, 8 // groups)) if form != "depthwise" else c * r.choice([1, 1, 2])
    consts = [b.weight((o, c // groups, k, k), c // groups * k * k)] + ([b.const((o,), 0.2, buffer=False)] if bias else [])
    extra = (f", stride={stride}" if stride != 1 else "") + (f", padding={pad}" if pad else "") + (
        f", dilation={dil}" if dil != 1 else "") + (f", groups={groups}" if groups != 1 else "")
    return b.add(f"F.conv2d({{0}}, {{p0}}, {'{p1}' if bias else 'None'}{extra})", [v], consts, tag="conv")


def _conv1d(b: Builder, v: int) -> int | None:
    r = b.rng
    _, c, length = b.shape(v)
    k = r.choice([1, 3])
    o = r.randint(1, 8)
    groups = c if r.random() < 0.3 else 1
    if groups > 1:
        o = c
    stride = r.choice([1, 2])
    consts = [b.weight((o, c // groups, k), c // groups * k), b.const((o,), 0.2, buffer=False)]
    return b.add(f"F.conv1d({{0}}, {{p0}}, {{p1}}, stride={stride}, padding={k // 2}, groups={groups})", [v], consts, tag="conv")


def pool(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    if len(shape) != 4:
        return None
    form = r.choice(["max", "max", "avg", "avg", "adaptive", "global"])
    if form == "global":
        return b.add(r.choice(["{0}.mean((2, 3), keepdim=True)", "{0}.mean((-1, -2))", "F.adaptive_avg_pool2d({0}, 1)"]), [v], tag="pool")
    if form == "adaptive":
        h, w = shape[2:]
        oh = r.choice([d for d in range(1, h + 1) if h % d == 0])
        ow = r.choice([d for d in range(1, w + 1) if w % d == 0])
        return b.add(f"F.adaptive_avg_pool2d({{0}}, ({oh}, {ow}))", [v], tag="pool")
    k = r.choice([2, 2, 3])
    s = r.choice([1, 2, k])
    p = r.randint(0, k // 2)
    ceil = r.random() < 0.2
    extra = f", stride={s}, padding={p}" + (", ceil_mode=True" if ceil else "")
    if form == "max":
        return b.add(f"F.max_pool2d({{0}}, {k}{extra})", [v], tag="pool")
    cip = ", count_include_pad=False" if r.random() < 0.5 else ""
    return b.add(f"F.avg_pool2d({{0}}, {k}{extra}{cip})", [v], tag="pool")


def resize(b: Builder, v: int) -> int | None:
    r = b.rng
    shape = b.shape(v)
    if len(shape) != 4:
        return None
    form = r.choice(["nearest", "bilinear", "bilinear_ac", "shuffle", "size"])
    if form == "size":  # an output size that is not a multiple of the input's
        size = (r.randint(1, 2 * shape[2]), r.randint(1, 2 * shape[3]))
        mode = r.choice(["'nearest'", "'bilinear', align_corners=False", "'bilinear', align_corners=True"])
        if r.random() < 0.3:  # the overloads F.interpolate does not export (.default), as some models call them
            call = (f"torch.ops.aten.upsample_nearest2d.default({{0}}, {list(size)!r})" if "nearest" in mode else
                    f"torch.ops.aten.upsample_bilinear2d.default({{0}}, {list(size)!r}, {'True' in mode})")
            return b.add(call, [v], tag="resize")
        return b.add(f"F.interpolate({{0}}, size={size!r}, mode={mode})", [v], tag="resize")
    if form == "shuffle":
        if shape[1] % 4:
            return None
        return b.add("F.pixel_shuffle({0}, 2)", [v], tag="resize")
    if form == "nearest":
        return b.add("F.interpolate({0}, scale_factor=2, mode='nearest')", [v], tag="resize")
    ac = form == "bilinear_ac"
    return b.add(f"F.interpolate({{0}}, scale_factor=2, mode='bilinear', align_corners={ac})", [v], tag="resize")


def image_misc(b: Builder, v: int) -> int | None:
    """Channel idioms of CNNs: squeeze-and-excitation, PReLU, per-channel scale."""
    r = b.rng
    shape = b.shape(v)
    if len(shape) != 4:
        return None
    c = shape[1]
    form = r.choice(["se", "prelu", "chscale"])
    if form == "se":
        return b.add("{0} * torch.sigmoid({0}.mean((2, 3), keepdim=True))", [v], tag="se")
    if form == "prelu":
        return b.add("F.prelu({0}, {p0})", [v], [b.const((c,), 0.25, buffer=False)], tag="prelu")
    return b.add("{0} * {p0} + {p1}", [v], [b.const((c, 1, 1)), b.const((c, 1, 1))], tag="const")


# -- more data movement, selection by constant indices, and writes -----------------------------


def minmax(b: Builder, v: int) -> int | None:
    """Elementwise maximum / minimum / clamp by another value or a constant."""
    r = b.rng
    w = _partner(b, v)
    if w is not None and r.random() < 0.7:
        expr = r.choice(["torch.maximum({0}, {1})", "torch.minimum({0}, {1})", "torch.clamp({0}, min={1})",
                         "torch.clamp({0}, max={1})", "torch.max({0}, {1})"])
        return b.add(expr, [v, w], tag="minmax")
    c = b.const(_reduced_shape(b, b.shape(v)), 0.5)
    return b.add(r.choice(["torch.maximum({0}, {p0})", "torch.minimum({p0}, {0})"]), [v], [c], tag="minmax")


def rearrange(b: Builder, v: int) -> int | None:
    """flip, repeat, unfold: data movement with no arithmetic."""
    r = b.rng
    shape = b.shape(v)
    n = len(shape)
    form = r.choice(["flip", "repeat", "unfold"])
    if form == "flip":
        dims = sorted(r.sample(range(n), r.randint(1, n)))
        return b.add(f"{{0}}.flip({dims!r})", [v], tag="rearrange")
    if form == "repeat":
        reps = [r.choice([1, 1, 2, 3]) for _ in range(n + (1 if n < 4 and r.random() < 0.3 else 0))]
        return b.add(f"{{0}}.repeat({', '.join(map(str, reps))})", [v], tag="rearrange")
    d = r.randrange(n)
    if shape[d] < 2:
        return None
    size = r.randint(1, shape[d])
    return b.add(f"{{0}}.unfold({d}, {size}, {r.randint(1, 3)})", [v], tag="rearrange")


def gather(b: Builder, v: int) -> int | None:
    """Reads through constant indices: gather, embedding of a run-time table."""
    r = b.rng
    shape = b.shape(v)
    if len(shape) == 2 and r.random() < 0.4:
        ids = b.const(r.choice([(r.randint(1, 6),), (r.randint(1, 3), r.randint(1, 4))]), kind=f"index{shape[0]}")
        return b.add("F.embedding({p0}, {0})", [v], [ids], tag="gather")
    d = r.randrange(len(shape))
    ishape = list(shape)
    ishape[d] = r.randint(1, 4)
    return b.add(f"torch.gather({{0}}, {d}, {{p0}})", [v], [b.const(ishape, kind=f"index{shape[d]}")], tag="gather")


def write(b: Builder, v: int) -> int | None:
    """Functional writes into a value: slice_scatter, index_copy and index_put of rows computed
    from the value itself (distinct indices, so every written row has one source)."""
    r = b.rng
    shape = b.shape(v)
    d = r.randrange(len(shape))
    n = shape[d]
    m = r.randint(1, n)
    src = f"({{0}}.narrow({d}, {r.randint(0, n - m)}, {m}) * {round(r.uniform(-2, 2), 2)!r} + 0.5)"
    form = r.choice(["slice_scatter", "index_copy", "index_put"])
    if form == "slice_scatter":
        start = r.randint(0, n - m)
        return b.add(f"torch.slice_scatter({{0}}, {src}, {d}, {start}, {start + m})", [v], tag="write")
    idx = b.const((m,), kind=f"perm{n}")
    if form == "index_copy":
        return b.add(f"{{0}}.index_copy({d}, {{p0}}, {src})", [v], [idx], tag="write")
    if d != 0:
        src = src.replace(f"narrow({d},", "narrow(0,") if shape[0] >= m else None
        if src is None:
            return None
        n = shape[0]
        idx = b.const((m,), kind=f"perm{n}")
    return b.add(f"torch.index_put({{0}}, ({{p0}},), {src})", [v], [idx], tag="write")


def attention(b: Builder, v: int) -> int | None:
    """scaled_dot_product_attention over the last two dims: self-attention, causal or with an
    additive constant mask."""
    r = b.rng
    shape = b.shape(v)
    if len(shape) not in (3, 4) or shape[-2] < 2:
        return None
    form = r.choice(["plain", "causal", "mask"])
    if form == "mask":
        mask = b.const((shape[-2], shape[-2]), 1.0)
        return b.add("F.scaled_dot_product_attention({0}, {0} * 0.5, {0}, attn_mask={p0})", [v], [mask], tag="attention")
    causal = ", is_causal=True" if form == "causal" else ""
    return b.add(f"F.scaled_dot_product_attention({{0}}, {{0}} * 0.5, {{0}}{causal})", [v], tag="attention")


def sample(b: Builder, v: int) -> int | None:
    """grid_sample (bilinear: continuous in the grid) at a constant grid."""
    r = b.rng
    shape = b.shape(v)
    if len(shape) != 4:
        return None
    n, _, h, w = shape
    grid = b.const((n, r.randint(1, h + 2), r.randint(1, w + 2), 2), 0.7)
    pm = r.choice(["zeros", "border"])
    ac = r.random() < 0.5
    return b.add(f"F.grid_sample({{0}}, {{p0}}, mode='bilinear', padding_mode={pm!r}, align_corners={ac})", [v], [grid],
                 tag="sample")


FLOAT_OPS = [  # (function, weight)
    (unary, 6), (binary, 12), (compare, 1), (reshape, 6), (permute, 6), (expand, 3), (slice_, 4), (cat, 6),
    (split, 3), (pad, 2), (roll, 1), (index, 1), (noop, 3), (reduce, 4), (softmax, 3), (norm, 2),
    (linear, 4), (matmul, 3), (conv, 6), (pool, 3), (resize, 1), (image_misc, 2),
    (minmax, 2), (rearrange, 2), (gather, 1), (write, 1), (attention, 1), (sample, 1),
    (selection.pick, 2), (selection.rounding, 2), (selection.logic, 2), (selection.integer, 2),
    (ops_zero_dim.zero_dim, 2),
]
INT8_OPS = [
    (int8_unary, 3), (binary, 8), (reshape, 3), (permute, 3), (cat, 4), (linear, 5), (conv, 8),
    (pool, 4), (softmax, 1), (pad, 1),
]
