"""Cutting a piece out of an exported graph: a new GraphModule that computes only some of its
nodes, fed with the values PyTorch computed for everything outside the piece.

The unit of selection is an op together with the getitem nodes that unpack its outputs. Values
that depend only on weights stay constants (module buffers) in the piece, so the converter sees
the same constant operands as in the whole model; values computed from the user's inputs become
inputs of the piece."""

from __future__ import annotations

import operator
from dataclasses import dataclass


@dataclass
class Piece:
    module: object  # torch.fx.GraphModule
    input_names: list[str]  # FX names of the values fed from outside
    inputs: list  # their values
    constants: dict  # FX name -> value held by the module as a buffer
    nodes: list[str]  # FX names of the ops it computes (getitems excluded)
    outputs: list[str]  # FX names of the values it returns (every tensor it computes)


def units(ep) -> list[list]:
    """The ops of `ep`'s graph in order, each with the getitem nodes that read its outputs."""
    out, by_node = [], {}
    for n in ep.graph.nodes:
        if n.op != "call_function":
            continue
        if n.target is operator.getitem and n.args[0] in by_node:
            by_node[n.args[0]].append(n)
            continue
        group = [n]
        by_node[n] = group
        out.append(group)
    return out


def weight_only_nodes(ep) -> set[str]:
    """Names of nodes whose value depends on no user input (parameters, buffers, constants and
    what is computed from them alone)."""
    user = set(ep.graph_signature.user_inputs)
    const = set()
    for n in ep.graph.nodes:
        if n.op == "placeholder" and n.name not in user:
            const.add(n.name)
        elif n.op == "call_function" and all(a.name in const for a in n.all_input_nodes):
            const.add(n.name)
    return const


def extract(ep, chosen: list[list], values: dict) -> Piece:
    """The piece computing the ops of `chosen` (units, in graph order); `values` holds every FX
    node's value from a PyTorch run of the whole graph (reference.capture)."""
    import torch

    weights = weight_only_nodes(ep)
    graph = torch.fx.Graph()
    env, input_names, inputs, constants = {}, [], [], {}

    def outside(n):
        if n in env:
            return env[n]
        value = values[n.name]
        if not isinstance(value, torch.Tensor):
            env[n] = value  # a Python scalar or list: inlined as a literal
        elif n.name in weights:
            constants[n.name] = value
            env[n] = graph.get_attr(n.name)
        else:
            input_names.append(n.name)
            inputs.append(value)
            env[n] = graph.placeholder(n.name)
        return env[n]

    members = [n for unit in chosen for n in unit]
    # Placeholders first: FX wants them ahead of every other node.
    for n in members:
        for a in n.all_input_nodes:
            if a not in members and a.name not in weights and isinstance(values.get(a.name), torch.Tensor):
                outside(a)
    for n in members:
        env[n] = graph.node_copy(n, lambda a: env[a] if a in env else outside(a))
    # The piece returns what the rest of the graph reads from it (and the model's outputs), not
    # every value: an extra output would keep the converter from fusing (a RELU into the op
    # before it, ...), and fusion is where many bugs live. compare() reads the rest.
    model_outputs = set(ep.graph_signature.user_outputs)
    member_set = set(members)
    outputs = [n for n in members if isinstance(values.get(n.name), torch.Tensor)
               and (n.name in model_outputs or any(u not in member_set for u in n.users))]
    if not outputs and members:
        outputs = [members[-1]]
    graph.output(tuple(env[n] for n in outputs))
    root = torch.nn.Module()
    for name, value in constants.items():
        root.register_buffer(name, value.detach().clone())
    module = torch.fx.GraphModule(root, graph)
    return Piece(module, input_names, inputs, constants, [n.name for n in members if n.target is not operator.getitem],
                 [n.name for n in outputs])
