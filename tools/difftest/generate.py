"""Random valid PyTorch programs, reproducible from (seed, index).

Three kinds: "image" (NCHW tensors through convolutions and pooling, so the NHWC layout pass is
exercised), "tensor" (rank 1-4 tensors, broadcasting, matmuls, data movement) and "int8" (an
image or tensor program quantized with PT2E). After most ops an activation follows, so that
fusing it into every kind of op is tried."""

from __future__ import annotations

import random

from difftest import ops
from difftest.builder import Builder
from difftest.program import Program, prune

KINDS = (("image", 40), ("tensor", 45), ("int8", 15))
ACTIVATION_RATE = 0.4


def generate(seed: int, index: int, kind: str | None = None) -> Program:
    rng = random.Random(f"difftest:{seed}:{index}")
    kind = kind or rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    int8 = kind == "int8"
    b = Builder(rng, int8, f"{seed}:{index}")
    b.program.kind = kind
    image = kind == "image" or (int8 and rng.random() < 0.6)
    _inputs(b, image)
    table = ops.INT8_OPS if int8 else ops.FLOAT_OPS
    fns, weights = [f for f, _ in table], [w for _, w in table]
    if image and rng.random() < 0.7:  # most CNNs start with a convolution
        first = ops.conv(b, 0)
        if first is not None and rng.random() < 0.6:
            ops.activation(b, first)
    elif int8:  # a quantized program needs a quantized op to anchor its scales
        ops.linear(b, 0)
    target = rng.randint(2, 9)
    tries = 0
    while len(b.program.nodes) < target * 2 and tries < 60 and _main_ops(b) < target:
        tries += 1
        v = _pick(b)
        fn = rng.choices(fns, weights)[0]
        out = fn(b, v)
        if out is not None and b.is_tensor(out) and rng.random() < ACTIVATION_RATE:
            ops.activation(b, out)
    _outputs(b)
    return prune(b.program)


def _main_ops(b: Builder) -> int:
    return sum(1 for n in b.program.nodes if n.tag not in ("activation", "item"))


def _inputs(b: Builder, image: bool) -> None:
    r = b.rng
    if image:
        shape = (r.choice([1, 1, 2]), r.randint(1, 8), r.randint(4, 12), r.randint(4, 12))
    else:
        rank = r.choice([1, 2, 2, 3, 3, 4])
        shape = tuple(r.choice([1, 2, 3, 4, 5, 6, 8]) for _ in range(rank))
    b.add_input(shape)
    if r.random() < 0.35:  # a second input: same shape, broadcastable, or unrelated
        form = r.choice(["same", "broadcast", "other"])
        if form == "same":
            b.add_input(shape)
        elif form == "broadcast":
            b.add_input(tuple(d if r.random() < 0.5 else 1 for d in shape)[r.randrange(len(shape)):] or (1,))
        else:
            b.add_input(tuple(r.choice([1, 2, 3, 4, 6]) for _ in range(r.randint(0, 4))))  # 0-d: a scalar input


def _pick(b: Builder) -> int:
    """The value the next op reads: mostly the newest, sometimes any earlier one (so values get
    several readers)."""
    vs = b.tensors()
    if b.rng.random() < 0.6:
        return vs[-1]
    unread = [v for v in vs if b.users[v] == 0]
    if unread and b.rng.random() < 0.5:
        return b.rng.choice(unread)
    return b.rng.choice(vs)


def _outputs(b: Builder) -> None:
    n_in = len(b.program.inputs)
    sinks = [v for v in b.tensors(scalars=True) if v >= n_in and b.users[v] == 0]
    if not sinks:  # every op was refused: a single activation keeps the program valid
        sinks = [ops.activation(b, 0) or b.add("torch.relu({0})", [0], tag="activation")]
    outs = sinks[-3:]
    read = [v for v in b.tensors() if v >= n_in and b.users[v] > 0 and v not in outs]
    if read and b.rng.random() < 0.2:  # an output that is also read inside the graph
        outs.insert(0, b.rng.choice(read))
    b.program.outputs = outs
