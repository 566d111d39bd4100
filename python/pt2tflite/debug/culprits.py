"""pt2tflite.debug.find_culprits: shrink a failing model to the smallest piece of its graph that
still fails the same way, and write a standalone reproducer for it.

Delta debugging over the FX graph, in three steps, each keeping the failure kind (conversion
error, runtime error, wrong answer):
  1. the shortest prefix of the ops that fails (binary search on its end);
  2. the shortest suffix of that prefix that still fails (binary search on its start);
  3. drop single ops from that window while it keeps failing (their values become inputs).
Every piece is fed with the values PyTorch computed for the whole model, so it sees real data."""

from __future__ import annotations

import collections
import os
import operator
from dataclasses import dataclass, field

from pt2tflite.debug import origin, reference
from pt2tflite.debug.failure import PLANT_BUG_ENV, Failure, check
from pt2tflite.debug.layer_compare import DEFAULT_MIN_SQNR_DB, DEFAULT_TOLERANCE
from pt2tflite.debug.program import is_quantized, load_program
from pt2tflite.debug.subgraph import Piece, extract, units


@dataclass
class CulpritResult:
    failure: Failure | None  # of the whole model; None when it does not fail
    piece: Piece | None = None  # the smallest failing piece
    piece_failure: Failure | None = None
    nodes: list[str] = field(default_factory=list)  # FX names of its ops, in the original graph
    origins: list[str] = field(default_factory=list)  # one line per op: module path, source line
    reproducer: str | None = None  # path of the script written, if any
    checks: int = 0  # how many pieces were converted and run

    def __str__(self) -> str:
        if self.failure is None:
            return "the model converts, runs and matches PyTorch: nothing to shrink"
        lines = [f"whole model: {self.failure.kind}: {self.failure.message}"]
        if self.piece is None:
            lines.append("no smaller piece fails the same way")
            return "\n".join(lines)
        lines.append(f"smallest failing piece: {len(self.nodes)} op(s), found in {self.checks} checks: "
                     f"{self.piece_failure.kind}: {self.piece_failure.message}")
        lines += [f"  {o}" for o in self.origins]
        if self.reproducer:
            lines.append(f"reproducer: {self.reproducer}")
        return "\n".join(lines)


def _renames(piece_nodes: list, ep) -> dict:
    """Original FX name -> name in the re-exported piece, pairing ops of the same target in order."""
    queues = collections.defaultdict(collections.deque)
    for n in piece_nodes:
        queues[n.target].append(n.name)
    out = {}
    for n in ep.graph.nodes:
        if n.op == "call_function" and queues[n.target]:
            out[queues[n.target].popleft()] = n.name
    return out


class _Shrinker:
    def __init__(self, ep, args, kind: str, tolerance: float, min_sqnr_db: float):
        self.ep, self.kind = ep, kind
        self.values = reference.capture(ep, args)
        self.units = units(ep)
        self.tolerance, self.min_sqnr_db = tolerance, min_sqnr_db
        self.checks = 0

    def verdict(self, chosen: list[list]):
        """(piece, its re-exported program or None, its failure or None)."""
        from pt2tflite.converter import export_program

        piece = extract(self.ep, chosen, self.values)
        self.checks += 1
        try:
            sub = export_program(piece.module, tuple(piece.inputs))
        except Exception:  # a piece torch.export cannot take is not a reproducer
            return piece, None, None
        members = [n for u in chosen for n in u if n.target is not operator.getitem]
        failure, _report = check(sub, tuple(piece.inputs), tolerance=self.tolerance, min_sqnr_db=self.min_sqnr_db,
                                 renames=_renames(members, sub))
        return piece, sub, failure

    def fails(self, chosen: list[list]) -> bool:
        _piece, _sub, failure = self.verdict(chosen)
        return failure is not None and failure.kind == self.kind

    def unit_of(self, name: str | None) -> int | None:
        return next((i for i, u in enumerate(self.units) if any(n.name == name for n in u)), None)

    def shortest_failing_prefix(self) -> int | None:
        """The smallest end e such that units [0, e] fail (binary search), or None."""
        if not self.fails(self.units):
            return None
        lo, hi = 0, len(self.units) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.fails(self.units[: mid + 1]):
                hi = mid
            else:
                lo = mid + 1
        return lo

    def latest_failing_start(self, end: int) -> int | None:
        """The largest start s such that units [s, end] fail: windows doubling backwards from
        `end` (a one-op bug costs one check), then a binary search in the last doubling."""
        size, passed = 1, end + 1  # `passed`: smallest start known not to fail
        while True:
            start = max(0, end - size + 1)
            if self.fails(self.units[start : end + 1]):
                break
            passed = start
            if start == 0:
                return None
            size *= 2
        lo, hi = start, passed - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.fails(self.units[mid : end + 1]):
                lo = mid
            else:
                hi = mid - 1
        return lo

    def shrink(self, hint_node: str | None) -> list[list]:
        """The smallest failing window of units; `hint_node` is where the failure shows first (the
        first layer past the tolerance, the node a ConversionError names), when known."""
        end = self.unit_of(hint_node)
        start = self.latest_failing_start(end) if end is not None else None
        if start is None:
            end = self.shortest_failing_prefix()
            if end is None:
                return []
            start = self.latest_failing_start(end)
        window = self.units[start : end + 1]
        changed = True
        while changed and len(window) > 1:  # drop single ops while it keeps failing
            changed = False
            for i in range(len(window)):
                trial = window[:i] + window[i + 1 :]
                if self.fails(trial):
                    window, changed = trial, True
                    break
        return window


def find_culprits(model, args=None, *, tolerance: float = DEFAULT_TOLERANCE,
                  min_sqnr_db: float = DEFAULT_MIN_SQNR_DB, reproducer: str | None = "pt2tflite_repro.py",
                  seed: int = 0) -> CulpritResult:
    """Shrinks a failing model to its smallest failing piece and writes a reproducer script.

    model: nn.Module (eval mode), ExportedProgram or .pt2 path; args: sample inputs (random when
    None and the model is a program). A failure is a ConversionError, a LiteRT error, or an output
    past `tolerance` (max |diff| / max |ref| against float64 PyTorch) or, for int8 models, below
    `min_sqnr_db` against the PT2E reference. `reproducer`: where to write the script (None: don't)."""
    from pt2tflite.debug.reproducer import write_reproducer

    ep, args = load_program(model, args, seed=seed)
    whole, report = check(ep, args, tolerance=tolerance, min_sqnr_db=min_sqnr_db)
    result = CulpritResult(whole)
    if whole is None:
        return result
    hint = report.first_bad.node if report is not None and report.first_bad is not None else None
    if whole.kind == "conversion":
        hint = _diagnosed_node(ep)
    shrinker = _Shrinker(ep, args, whole.kind, tolerance, min_sqnr_db)
    window = shrinker.shrink(hint)
    if not window:
        result.checks = shrinker.checks
        return result
    piece, sub, failure = shrinker.verdict(window)
    result.checks = shrinker.checks
    result.piece, result.piece_failure = piece, failure
    by_name = {n.name: n for n in ep.graph.nodes}
    result.nodes = list(piece.nodes)
    result.origins = [origin.describe(by_name[name]) for name in piece.nodes]
    if reproducer:
        members = [by_name[name] for name in piece.nodes]
        planted = _renames(members, sub).get(os.environ.get(PLANT_BUG_ENV, "")) if sub is not None else None
        write_reproducer(reproducer, piece, failure, result.origins, tolerance=tolerance, min_sqnr_db=min_sqnr_db,
                         quantized=is_quantized(ep), planted=planted, seed=seed)
        result.reproducer = reproducer
    return result


def _diagnosed_node(ep) -> str | None:
    """The node the converter's first diagnostic names, for a model that fails to convert."""
    from pt2tflite.debug.layer_compare import convert_program
    from pt2tflite.errors import ConversionError

    try:
        convert_program(ep)
    except ConversionError as e:
        return next((d.node for d in e.diagnostics if d.node), None)
    return None
