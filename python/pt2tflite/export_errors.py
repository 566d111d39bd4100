"""ConversionErrors for failures on the Python side: torch.export and run_decompositions.

Both raise whatever the failing torch code raises, deep inside torch. A user needs the line of
their model that broke, the op involved, and what to try instead.
"""

from __future__ import annotations

import re
import sysconfig
import traceback

from pt2tflite.errors import ConversionError, Diagnostic

_STDLIB = sysconfig.get_paths()["stdlib"]


def _is_user_file(path: str) -> bool:
    """A file of the user's code: not torch itself, not Python's standard library, not generated."""
    if not path or path.startswith("<"):
        return False
    if "/torch/" in path or "/pt2tflite/" in path:
        return False
    return not (path.startswith(_STDLIB) and "-packages" not in path)


def _innermost_user_frame(exc: BaseException) -> str:
    """file:line of the innermost frame of user code in `exc`'s traceback (or its message, where
    torch.export quotes the user's code), or ""."""
    frames = [f"{f.filename}:{f.lineno}" for f in traceback.extract_tb(exc.__traceback__) if _is_user_file(f.filename)]
    quoted = [f"{file}:{line}" for file, line in re.findall(r'File "([^"]+)", line (\d+)', str(exc)) if _is_user_file(file)]
    found = quoted or frames
    return found[-1] if found else ""


def _first_line(exc: BaseException, limit: int = 400) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first[:limit]}"


def export_error(exc: BaseException) -> ConversionError:
    """The error for a torch.export failure: where the trace broke, and what to try."""
    where = _innermost_user_frame(exc)
    text = f"{type(exc).__name__} {exc}"
    hints = []
    if re.search(r"data.dependent|GuardOnDataDependent|Could not guard on|unbacked", text, re.IGNORECASE):
        hints.append("the model branches or sizes a tensor on tensor values (data-dependent control flow), "
                     "which a graph cannot hold: compute both sides and select with torch.where, use "
                     "torch.cond, or make the decision depend on shapes only")
    if re.search(r"strict|dynamo|graph break|Unsupported", text):
        hints.append("try the non-strict tracer: ep = torch.export.export(model, args, strict=False), "
                     "then pt2tflite.convert(ep, args)")
    if not hints:
        hints.append("export the model yourself with torch.export.export(model, args) (try strict=False too) "
                     "to see the full trace, then pass the ExportedProgram to pt2tflite.convert")
    at = f" at {where}" if where else ""
    message = f"torch.export could not capture the model{at}: {_first_line(exc)}\n  hint: " + "\n  hint: ".join(hints)
    return ConversionError(message, [Diagnostic(op="torch.export", node="", module_path="", source=where,
                                                message=_first_line(exc))])


def _node_source(node) -> tuple[str, str]:
    """(module path, file:line) of an FX node, from its export metadata."""
    stack = list((node.meta.get("nn_module_stack") or {}).values())
    module_path = stack[-1][0] if stack else ""
    frames = re.findall(r'File "([^"]+)", line (\d+)', node.meta.get("stack_trace") or "")
    user = [f"{f}:{line}" for f, line in frames if _is_user_file(f)]
    return module_path, (user[-1] if user else (f"{frames[-1][0]}:{frames[-1][1]}" if frames else ""))


def _failing_node(ep, table):
    """The first node of `ep` whose decomposition raises on its own example inputs, or None."""
    import torch

    fake_mode = None
    for node in ep.graph.nodes:
        if node.op != "call_function" or node.target not in table:
            continue
        args, kwargs = torch.fx.node.map_arg((node.args, node.kwargs), lambda a: a.meta.get("val"))
        vals = [v for v in torch.utils._pytree.tree_leaves((args, kwargs)) if isinstance(v, torch.Tensor)]
        fake_mode = fake_mode or next((getattr(v, "fake_mode", None) for v in vals if hasattr(v, "fake_mode")), None)
        try:
            if fake_mode is not None:
                with fake_mode:
                    table[node.target](*args, **kwargs)
            else:
                table[node.target](*args, **kwargs)
        except Exception as e:  # the decomposition's own failure is what we are looking for
            return node, e
    return None


def decomposition_error(ep, table, exc: BaseException) -> ConversionError:
    """The error for a run_decompositions failure, naming the op and the user's line."""
    try:
        found = _failing_node(ep, table)
    except Exception:  # finding the node is best effort; the original error still gets reported
        found = None
    if found is None:
        where = _innermost_user_frame(exc)
        at = f" at {where}" if where else ""
        return ConversionError(f"decomposing the exported program to Core ATen failed{at}: {_first_line(exc)}",
                               [Diagnostic(op="run_decompositions", node="", module_path="", source=where,
                                           message=_first_line(exc))])
    node, err = found
    op = str(node.target)
    op = op if op.startswith("aten.") else f"aten.{op}" if "." in op else op
    module_path, source = _node_source(node)
    d = Diagnostic(op=op, node=node.name, module_path=module_path, source=source,
                   message=f"its decomposition to Core ATen failed: {_first_line(err)}")
    return ConversionError(f"cannot convert the model: 1 unsupported node\n  - {d}", [d])
