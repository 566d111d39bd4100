"""The PyTorch side of a per-layer comparison: every FX node's output in the exported graph."""

from __future__ import annotations

from collections import OrderedDict


def graph_inputs(ep, user_args: tuple, dtype=None) -> list:
    """Positional inputs of `ep.graph_module`: parameters, buffers and constants in the order the
    graph signature lifts them, then the user inputs. Floats are cast to `dtype` when given."""
    import torch

    values = []
    user = iter(user_args)
    for spec in ep.graph_signature.input_specs:
        kind = spec.kind.name
        if kind == "USER_INPUT":
            values.append(next(user))
        elif kind in ("PARAMETER", "BUFFER") and spec.target in ep.state_dict:
            values.append(ep.state_dict[spec.target])
        else:
            values.append(ep.constants[spec.target])
    if dtype is None:
        return values
    return [v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v for v in values]


def capture(ep, user_args: tuple, dtype=None) -> "OrderedDict[str, object]":
    """FX node name → the value it computes (placeholders included), in graph order.

    dtype=torch.float64 runs the whole graph in double precision: the reference against which
    both PyTorch's own float32 run and the converted model are measured."""
    import torch

    values: OrderedDict[str, object] = OrderedDict()

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            values[n.name] = out
            return out

    with torch.no_grad():
        Recorder(ep.graph_module).run(*graph_inputs(ep, user_args, dtype))
    return values


def capture_float64(ep, user_args: tuple):
    """capture() in float64, or None when some op has no float64 kernel (e.g. quantized ops)."""
    import torch

    try:
        return capture(ep, user_args, torch.float64)
    except (RuntimeError, NotImplementedError, TypeError):
        return None
