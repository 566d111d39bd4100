"""0-d islands: a full reduction (or one element, or a 0-d model input) becomes a 0-d tensor, a short
chain of ops runs on it, and it is broadcast back into a tensor the program goes on with.

PyTorch reads dim 0 or -1 of a 0-d tensor as its one element, so softmax, cumsum, flip, sort, topk
and reductions over a dim all run on it; TFLite's kernels have no such rule (softmax of a 0-d
tensor killed the process before passes/view_0d_as_1d.cc). The rest of the generator reads only
tensors of rank 1 and up, so without this family no program held a 0-d tensor past its output."""

from __future__ import annotations

from difftest.builder import Builder

# A 0-d value from a tensor: every form is continuous in the input, so needs no margin.
SOURCES = [
    "{0}.sum()",
    "{0}.mean()",
    "{0}.amax()",
    "torch.linalg.vector_norm({0})",
    "{0}.reshape(-1)[{k}]",
]

# Ops on a 0-d tensor that PyTorch allows, each continuous in its input.
CHAIN = [
    "torch.softmax({0}, 0) * {0}",
    "torch.log_softmax({0}, -1) + {0}",
    "torch.cumsum({0}, 0)",
    "torch.flip({0}, [0])",
    "torch.sort({0}, 0)[0]",
    "torch.topk({0}, 1, 0)[0]",
    "torch.max({0}, -1)[0]",
    "{0}.amax(0)",
    "{0}.sum(0)",
    "{0}.mean(-1)",
    "torch.logsumexp({0}, 0)",
    "torch.var({0}, 0, correction=0) + {0}",
    "torch.tanh({0})",
    "torch.relu({0})",
    "{0} * {0}",
    "{0}.clamp(-1.0, 1.0)",
    "{0}.unsqueeze(0).squeeze(0)",
    "{0}.reshape(1, 1).sum()",
    "torch.stack([{0}, {0} * 2]).amax()",
]

# Back into a tensor: the 0-d value {1} meets the tensor {0}.
RETURNS = [
    "{0} * {1}",
    "{0} + {1}",
    "{0} - {1}.expand({shape})",
    "torch.stack([{1}, {1} + 1.0, -{1}])",
    "{1}.reshape(1) * {0}",
]


def zero_dim(b: Builder, v: int) -> int | None:
    r = b.rng
    numel = b.vals[v].numel()
    unread_0d = [i for i in b.tensors(scalars=True) if b.vals[i].dim() == 0 and b.users[i] == 0]
    if unread_0d and r.random() < 0.7:  # a 0-d model input
        s = unread_0d[0]
    else:
        s = b.add(r.choice(SOURCES).replace("{k}", str(r.randrange(numel))), [v], tag="zero_dim")
        if s is None:
            return None
    for _ in range(r.randint(1, 3)):
        nxt = b.add(r.choice(CHAIN), [s], tag="zero_dim")
        s = s if nxt is None else nxt
    if r.random() < 0.2:  # the 0-d value is a model output as it is
        return s
    shape = ", ".join(str(d) for d in b.shape(v))
    return b.add(r.choice(RETURNS).replace("{shape}", shape), [v, s], tag="zero_dim")
