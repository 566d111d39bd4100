"""Checks several programs with one conversion: their union (program.union) is converted and run
once, which divides torch.export's fixed cost (most of a small program's time) among them. Any
failure is attributed to the member programs and re-checked one by one, so every program gets
the outcome it would get alone. A failure that only the union shows is reported as the union."""

from __future__ import annotations

import re

from difftest.check import Outcome, check
from difftest.program import Program, node_lines, union


def check_programs(programs: list) -> list:
    """[(program, Outcome)] for each program, plus (union, Outcome) for a union-only failure."""
    if len(programs) == 1:
        return [(programs[0], check(programs[0]))]
    u = union(programs)
    o = check(u)
    if o.cls == "pass":
        return [(p, Outcome("pass", worst=o.worst)) for p in programs]
    owners = _owners(programs, u, o)
    if owners is None:  # not attributable: every member alone
        results = [(p, check(p)) for p in programs]
    elif o.cls == "refused":  # the members refused for their own nodes; the rest together
        rest = [p for k, p in enumerate(programs) if k not in owners]
        refused = [(programs[k], Outcome("refused", _member_detail(o.detail, programs[k]))) for k in sorted(owners)]
        return refused + (check_programs(rest) if rest else [])
    else:  # mismatch in known outputs: those members alone, the others passed
        results = [(p, check(p) if k in owners else Outcome("pass")) for k, p in enumerate(programs)]
    if all(r.cls in ("pass", "refused", "invalid") for _, r in results) and o.cls not in ("refused", "invalid"):
        results.append((u, o))
    return results


def _owners(programs: list, u: Program, o: Outcome) -> set | None:
    """Indices of the member programs a failure belongs to, or None when unknown."""
    if o.cls == "mismatch" and o.failed_outputs:
        bounds, start = [], 0
        for p in programs:
            bounds.append((start, start + len(p.outputs)))
            start += len(p.outputs)
        return {k for k, (a, b) in enumerate(bounds) for out in o.failed_outputs if a <= out < b}
    if o.cls == "refused":
        lines = node_lines(u)
        nodes = [lines.get(int(m)) for m in re.findall(r"<program [^>]*>:(\d+)", o.detail)]
        if not nodes or None in nodes:
            return None
        bounds, start = [], 0
        for p in programs:
            bounds.append((start, start + len(p.nodes)))
            start += len(p.nodes)
        return {k for k, (a, b) in enumerate(bounds) for j in nodes if a <= j < b}
    return None


def _member_detail(detail: str, p: Program) -> str:
    """The union's refusal message, for one member (line numbers refer to the union)."""
    lines = [line for line in detail.splitlines() if line.strip().startswith("- ")]
    return "cannot convert the model: " + "; ".join(line.strip()[2:] for line in lines)[:1000]
