"""A random program as data: inputs, a DAG of nodes (one PyTorch expression each) and outputs.

A node's expression is a template over its inputs ({0}, {1}, ...) and its own constants ({p0},
...), so the same program renders to the module that is tested and to a standalone reproducer,
and the minimizer can rewire, drop and cut nodes without knowing what each op is."""

from __future__ import annotations

import dataclasses
import hashlib

import torch
import torch.nn.functional as F  # noqa: F401  (the expressions use F.)


@dataclasses.dataclass(frozen=True)
class Const:
    """A constant tensor made from a seed: a weight (nn.Parameter) or a constant operand (buffer).
    kind: "randn" (scaled normal), "positive" (uniform in [0.5, 0.5 + scale)), "index<n>" (int64
    in [0, n))."""

    shape: tuple
    seed: int
    scale: float = 1.0
    kind: str = "randn"
    buffer: bool = False


@dataclasses.dataclass(frozen=True)
class Input:
    shape: tuple
    seed: int


@dataclasses.dataclass(frozen=True)
class Node:
    expr: str  # "torch.relu({0})", "F.conv2d({0}, {p0}, {p1}, stride=2)", "{0}[1]" (tuple item)
    args: tuple  # value ids
    consts: tuple = ()  # Const
    tag: str = ""  # op family, for statistics


@dataclasses.dataclass
class Program:
    """Values 0..len(inputs)-1 are the inputs; value len(inputs)+j is node j's result."""

    inputs: list
    nodes: list
    outputs: list
    int8: bool = False
    name: str = ""
    kind: str = ""  # "image", "tensor" or "int8" (generate.py)

    def value_count(self) -> int:
        return len(self.inputs) + len(self.nodes)

    def node_of(self, v: int) -> Node | None:
        j = v - len(self.inputs)
        return self.nodes[j] if j >= 0 else None

    def tags(self) -> list:
        return [n.tag for n in self.nodes]


def make_const(c: Const) -> torch.Tensor:
    g = torch.Generator().manual_seed(c.seed)
    if c.kind == "randn":
        return torch.randn(c.shape, generator=g) * c.scale
    if c.kind == "positive":
        return torch.rand(c.shape, generator=g) * c.scale + 0.5
    if c.kind.startswith("index"):
        return torch.randint(0, int(c.kind[5:]), c.shape, generator=g)
    if c.kind.startswith("perm"):  # distinct indices: a write through them has one winner per row
        return torch.randperm(int(c.kind[4:]), generator=g)[: c.shape[0]]
    raise ValueError(c.kind)


def make_input(i: Input, salt: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(i.seed + salt)
    return torch.randn(i.shape, generator=g)


def const_name(node_index: int, k: int) -> str:
    return f"c{node_index}_{k}"


def render_expr(node: Node, node_index: int, arg_names: list) -> str:
    consts = {f"p{k}": f"self.{const_name(node_index, k)}" for k in range(len(node.consts))}
    return node.expr.format(*arg_names, **consts)


def value_name(p: Program, v: int) -> str:
    return f"x{v}" if v < len(p.inputs) else f"v{v}"


_HEADER = '''import torch
import torch.nn.functional as F


def _const(shape, seed, scale, kind):
    g = torch.Generator().manual_seed(seed)
    if kind == "randn":
        return torch.randn(shape, generator=g) * scale
    if kind == "positive":
        return torch.rand(shape, generator=g) * scale + 0.5
    if kind.startswith("perm"):
        return torch.randperm(int(kind[4:]), generator=g)[: shape[0]]
    return torch.randint(0, int(kind[5:]), shape, generator=g)
'''


def module_source(p: Program) -> str:
    """Python source of `class Program(torch.nn.Module)` and `def inputs(salt=0)`."""
    lines = [_HEADER, "", "class Program(torch.nn.Module):", "    def __init__(self):", "        super().__init__()"]
    for j, n in enumerate(p.nodes):
        for k, c in enumerate(n.consts):
            make = f"_const({c.shape!r}, {c.seed}, {c.scale!r}, {c.kind!r})"
            if c.buffer or c.kind.startswith("index"):
                lines.append(f"        self.register_buffer({const_name(j, k)!r}, {make})")
            else:
                lines.append(f"        self.{const_name(j, k)} = torch.nn.Parameter({make})")
    args = ", ".join(["self"] + [value_name(p, i) for i in range(len(p.inputs))])
    lines.append(f"    def forward({args}):")
    for j, n in enumerate(p.nodes):
        v = len(p.inputs) + j
        expr = render_expr(n, j, [value_name(p, a) for a in n.args])
        lines.append(f"        {value_name(p, v)} = {expr}")
    outs = [value_name(p, v) for v in p.outputs]
    lines.append(f"        return {outs[0]}" if len(outs) == 1 else f"        return ({', '.join(outs)},)")
    lines += ["", "", "def inputs(salt=0):", "    return ("]
    for i in p.inputs:
        lines.append(f"        torch.randn({i.shape!r}, generator=torch.Generator().manual_seed({i.seed} + salt)),")
    lines.append("    )")
    return "\n".join(lines) + "\n"


def build_module(p: Program) -> torch.nn.Module:
    """The program as an nn.Module in eval mode (float32)."""
    ns: dict = {}
    exec(compile(module_source(p), f"<program {p.name}>", "exec"), ns)
    return ns["Program"]().eval()


def make_inputs(p: Program, salt: int = 0) -> tuple:
    return tuple(make_input(i, salt) for i in p.inputs)


def eval_values(p: Program, inputs: tuple, dtype=torch.float64) -> list:
    """Every value of the program (inputs and node results), computed in `dtype`. Raises whatever
    PyTorch raises for an invalid program."""

    class Holder:
        pass

    holder = Holder()
    vals = [x.to(dtype) for x in inputs]
    for j, n in enumerate(p.nodes):
        for k, c in enumerate(n.consts):
            t = make_const(c)
            setattr(holder, const_name(j, k), t.to(dtype) if t.is_floating_point() else t)
        env = {"torch": torch, "F": F, "self": holder}
        names = []
        for a in n.args:
            env[f"a{len(names)}"] = vals[a]
            names.append(f"a{len(names)}")
        vals.append(eval(render_expr(n, j, names), env))
    return vals


def union(programs: list) -> Program:
    """One program that computes every given program side by side (inputs, nodes and outputs
    concatenated and renumbered): one conversion instead of many."""
    inputs = [i for p in programs for i in p.inputs]
    nodes, outputs = [], []
    in_base, node_base = 0, len(inputs)
    for p in programs:

        def remap(v, p=p, in_base=in_base, node_base=node_base):
            return in_base + v if v < len(p.inputs) else node_base + v - len(p.inputs)

        nodes += [dataclasses.replace(n, args=tuple(remap(a) for a in n.args)) for n in p.nodes]
        outputs += [remap(v) for v in p.outputs]
        in_base += len(p.inputs)
        node_base += len(p.nodes)
    return Program(inputs, nodes, outputs, programs[0].int8, "+".join(p.name for p in programs), programs[0].kind)


def node_lines(p: Program) -> dict:
    """Line number in module_source(p) → index of the node computed on that line."""
    lines = module_source(p).splitlines()
    names = {f"        {value_name(p, len(p.inputs) + j)} = ": j for j in range(len(p.nodes))}
    out = {}
    for no, line in enumerate(lines, 1):
        head = line[: line.find("= ") + 2] if "= " in line else ""
        if head in names:
            out[no] = names[head]
    return out


def prune(p: Program) -> Program:
    """Drops nodes and inputs that no output depends on, renumbering the rest."""
    live = set(p.outputs)
    for v in range(p.value_count() - 1, len(p.inputs) - 1, -1):
        if v in live:
            live.update(p.node_of(v).args)
    keep = [v for v in range(p.value_count()) if v in live]
    new_id = {v: k for k, v in enumerate(keep)}
    inputs = [p.inputs[v] for v in keep if v < len(p.inputs)]
    nodes = [
        dataclasses.replace(p.node_of(v), args=tuple(new_id[a] for a in p.node_of(v).args))
        for v in keep
        if v >= len(p.inputs)
    ]
    return Program(inputs, nodes, [new_id[v] for v in p.outputs], p.int8, p.name, p.kind)


def seed_of(*parts) -> int:
    """A 31-bit seed derived from any values (stable across runs and platforms)."""
    h = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF
