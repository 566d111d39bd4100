"""Grows a Program one node at a time, evaluating each new node in float64 on the program's own
inputs so that only valid, finite, reasonably scaled nodes are kept."""

from __future__ import annotations

import math
import random

import torch

from difftest.program import Const, Input, Node, Program, make_const, make_input, render_expr

MAX_NUMEL = 8192  # keeps every program small and fast
MAX_ABS = 1e4  # larger values would make fp32 references ill-conditioned for no gain


class Builder:
    def __init__(self, rng: random.Random, int8: bool, name: str):
        self.rng = rng
        self.program = Program([], [], [], int8, name)
        self.vals: list = []  # float64 value (tensor, or tuple for a split) per value id
        self.users: list = []  # reader count per value id

    # -- reading -------------------------------------------------------------------------------
    def shape(self, v: int) -> tuple:
        return tuple(self.vals[v].shape)

    def is_tensor(self, v: int) -> bool:
        return isinstance(self.vals[v], torch.Tensor) and self.vals[v].is_floating_point()

    def tensors(self, scalars: bool = False) -> list:
        """Float tensor values; rank-0 ones (a full reduction) only when `scalars`."""
        return [v for v in range(len(self.vals)) if self.is_tensor(v) and (scalars or self.vals[v].dim() > 0)]

    def absmax(self, v: int) -> float:
        t = self.vals[v]
        return float(t.abs().max()) if t.numel() else 0.0

    def seed(self) -> int:
        return self.rng.getrandbits(31)

    # -- growing -------------------------------------------------------------------------------
    def add_input(self, shape) -> int:
        i = Input(tuple(int(d) for d in shape), self.seed())
        self.program.inputs.append(i)
        assert not self.program.nodes, "inputs come first"
        self.vals.append(make_input(i).double())
        self.users.append(0)
        return len(self.vals) - 1

    def const(self, shape, scale=1.0, kind="randn", buffer=True) -> Const:
        return Const(tuple(int(d) for d in shape), self.seed(), float(scale), kind, buffer)

    def weight(self, shape, fan_in: int) -> Const:
        return self.const(shape, 1.0 / math.sqrt(max(fan_in, 1)), buffer=False)

    def add(self, expr: str, args, consts=(), tag: str = "") -> int | None:
        """Appends the node if it evaluates to a finite tensor (or tuple of tensors) of sane size;
        returns its value id, or None (and nothing changes) otherwise."""
        node = Node(expr, tuple(args), tuple(consts), tag)
        try:
            value = self._eval(node)
        except Exception:
            return None
        parts = value if isinstance(value, tuple) else (value,)
        for t in parts:
            if not isinstance(t, torch.Tensor) or t.numel() == 0 or t.numel() > MAX_NUMEL:
                return None
            if t.is_floating_point() and (not torch.isfinite(t).all() or t.abs().max() > MAX_ABS):
                return None
        self.program.nodes.append(node)
        self.vals.append(value)
        self.users.append(0)
        for a in node.args:
            self.users[a] += 1
        return len(self.vals) - 1

    def _eval(self, node: Node):
        class Holder:
            pass

        holder = Holder()
        j = len(self.program.nodes)
        for k, c in enumerate(node.consts):
            t = make_const(c)
            setattr(holder, f"c{j}_{k}", t.double() if t.is_floating_point() else t)
        env = {"torch": torch, "F": torch.nn.functional, "self": holder}
        names = []
        for a in node.args:
            env[f"a{len(names)}"] = self.vals[a]
            names.append(f"a{len(names)}")
        return eval(render_expr(node, j, names), env)
