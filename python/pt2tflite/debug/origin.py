"""Where an FX node came from in the user's code: its nn.Module path and source file:line."""

from __future__ import annotations

import os
import re

_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def module_path(node) -> str:
    """The innermost nn.Module path of `node` ("layer1.0.conv1"), or "" at the top level."""
    stack = _module_stack(node)
    if not stack:
        return ""
    path, _type = list(stack.values())[-1]
    # torch.export writes paths such as "L['self'].layer1[0].conv1" in some versions.
    path = re.sub(r"^L\['self'\]\.?", "", str(path))
    return re.sub(r"\[(\d+)\]", r".\1", path).strip(".")


def _module_stack(node) -> dict:
    """The node's nn_module_stack; a PT2E quantize / dequantize node has none and takes that of
    the value it quantizes."""
    stack = node.meta.get("nn_module_stack") or {}
    while not stack and "quantized_decomposed" in str(node.target) and node.args and hasattr(node.args[0], "meta"):
        node = node.args[0]
        stack = node.meta.get("nn_module_stack") or {}
    return stack


def module_type(node) -> str:
    stack = _module_stack(node)
    if not stack:
        return ""
    _path, typ = list(stack.values())[-1]
    return getattr(typ, "__name__", None) or str(typ).rsplit(".", 1)[-1].strip("'>")


def _in_torch(path: str) -> bool:
    import torch

    return os.path.abspath(path).startswith(os.path.dirname(os.path.abspath(torch.__file__)) + os.sep)


def source_line(node) -> str:
    """"file:line" of the innermost frame outside torch in the node's stack trace (the user's
    line that called the nn.Module or the function), or ""."""
    frames = _FRAME.findall(node.meta.get("stack_trace") or "")
    user = [f for f in frames if not _in_torch(f[0])] or frames
    if not user:
        return ""
    path, line = user[-1]
    return f"{path}:{line}"


def describe(node) -> str:
    """One line: node name, aten op, module path and source line."""
    parts = [node.name, str(node.target)]
    if module_path(node):
        parts.append(f"module '{module_path(node)}' ({module_type(node)})")
    if source_line(node):
        parts.append(f"at {source_line(node)}")
    return ", ".join(parts)
