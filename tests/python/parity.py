"""Shared check for the op parity tests: convert a tiny module, run it in LiteRT, compare with eager."""

from __future__ import annotations

import collections

import numpy as np
import torch

import pt2tflite


class Fn(torch.nn.Module):
    """Wraps a function of the inputs as a module, for ops that have no nn.Module."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def check(module, inputs, *, atol=1e-5, rtol=1e-5, has=(), lacks=()):
    """Asserts that LiteRT matches PyTorch eager on `inputs` within the tolerances, with XNNPACK
    and with the builtin kernels alone (the reference semantics: a file only XNNPACK accepts can
    hide a wrong answer), that every op in `has` appears in the TFLite model and that none in
    `lacks` does. Returns the op histogram."""
    module = module.eval()
    inputs = tuple(inputs)
    model = pt2tflite.convert(module, inputs)
    with torch.no_grad():
        want = module(*inputs)
    want = tuple(want) if isinstance(want, (tuple, list)) else (want,)
    builtin = pt2tflite.Model(model.tflite_bytes, xnnpack=False)
    for runtime, got in (("XNNPACK", model(*inputs)), ("builtin kernels", builtin(*inputs))):
        got = got if isinstance(got, tuple) else (got,)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            w = w.numpy()
            assert g.shape == w.shape, f"{runtime}: shape {g.shape} != {w.shape}"
            if w.dtype == np.bool_ or np.issubdtype(w.dtype, np.integer):
                np.testing.assert_array_equal(g, w, err_msg=runtime)
            else:
                np.testing.assert_allclose(g, w, atol=atol, rtol=rtol, err_msg=runtime)
    hist = model.op_histogram()
    for op in has:
        assert op in hist, f"{op} missing from {hist}"
    for op in lacks:
        assert op not in hist, f"{op} present in {hist}"
    return hist


def undelegated(model) -> dict[str, int]:
    """Op name → count of the ops that LiteRT's default XNNPACK delegate leaves on the builtin
    kernels. The interpreter lists every original op plus the DELEGATE nodes; walking back from
    the outputs through the DELEGATE that produces a tensor reaches exactly the ops left outside."""
    from ai_edge_litert.interpreter import Interpreter

    itp = Interpreter(model_content=model.tflite_bytes, num_threads=1)
    itp.allocate_tensors()
    ops = itp._get_ops_details()
    by_index = {o["index"]: o for o in ops}
    producer = {}
    for o in sorted(ops, key=lambda o: o["op_name"] == "DELEGATE"):  # DELEGATE nodes win
        for t in o["outputs"]:
            producer[int(t)] = o["index"]
    stack = [int(d["index"]) for d in itp.get_output_details()]
    seen_t, seen_n = set(), set()
    while stack:
        t = stack.pop()
        if t < 0 or t in seen_t:
            continue
        seen_t.add(t)
        n = producer.get(t)
        if n is None or n in seen_n:
            continue
        seen_n.add(n)
        stack.extend(int(x) for x in by_index[n]["inputs"])
    names = (by_index[n]["op_name"] for n in seen_n)
    return dict(collections.Counter(name for name in names if name != "DELEGATE"))
