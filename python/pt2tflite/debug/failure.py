"""Does a program fail to convert, fail to run in LiteRT, or give a wrong answer? One verdict,
used by find_culprits on the whole model and on every piece it tries."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from pt2tflite.debug.layer_compare import DEFAULT_MIN_SQNR_DB, DEFAULT_TOLERANCE, compare_program, convert_program

PLANT_BUG_ENV = "PT2TFLITE_TEST_PLANT_BUG"  # test-only switch read by the core (lower/plant_bug.h)


@dataclass
class Failure:
    kind: str  # "conversion", "runtime" or "mismatch"
    message: str


@contextlib.contextmanager
def planted_bug_renamed(renames: dict | None):
    """While converting a re-exported piece, points the test-only planted-bug switch at the new
    name of the node it names (torch.export renames nodes), or turns it off when the node is not
    in the piece. Does nothing when the switch is off or `renames` is None (the original graph)."""
    planted = os.environ.get(PLANT_BUG_ENV) if renames is not None else None
    if planted:
        if planted in renames:
            os.environ[PLANT_BUG_ENV] = renames[planted]
        else:
            del os.environ[PLANT_BUG_ENV]
    try:
        yield
    finally:
        if planted:
            os.environ[PLANT_BUG_ENV] = planted


def check(ep, args, *, tolerance: float = DEFAULT_TOLERANCE, min_sqnr_db: float = DEFAULT_MIN_SQNR_DB,
          renames: dict | None = None) -> tuple[Failure | None, object]:
    """(the failure of the converted `ep` on `args` or None, the CompareReport when it ran).

    A wrong answer is any output, or any intermediate tensor that maps to an FX node, past the
    tolerance of pt2tflite.debug.compare: intermediates count because an error can fade before
    the outputs (ReLUs, means), and they are read without changing the converted graph."""
    from pt2tflite.errors import ConversionError

    try:
        with planted_bug_renamed(renames):
            tflite = convert_program(ep)
    except ConversionError as e:
        first = str(e.diagnostics[0]) if e.diagnostics else (str(e).splitlines() or ["ConversionError"])[0]
        return Failure("conversion", first), None
    try:
        report = compare_program(ep, args, tflite, tolerance=tolerance, min_sqnr_db=min_sqnr_db)
    except Exception as e:  # LiteRT raises RuntimeError / ValueError when it refuses the file
        return Failure("runtime", f"{type(e).__name__}: {e}".splitlines()[0]), None
    if report.runtime_error:
        return Failure("runtime", report.runtime_error), report
    for o in report.outputs:
        if report.quantized and min(o["builtin_sqnr_db"], o["xnnpack_sqnr_db"]) < min_sqnr_db:
            return Failure("mismatch", f"output {o['name']}: SQNR {o['builtin_sqnr_db']:.1f} dB (builtin), "
                                       f"{o['xnnpack_sqnr_db']:.1f} dB (XNNPACK) < {min_sqnr_db}"), report
        if not report.quantized and max(o["builtin_rel"], o["xnnpack_rel"]) > tolerance:
            return Failure("mismatch", f"output {o['name']}: max |diff| / max |ref| = {o['builtin_rel']:.2e} "
                                       f"(builtin), {o['xnnpack_rel']:.2e} (XNNPACK) > {tolerance:g}"), report
    bad = report.first_bad
    if bad is not None:
        value = f"SQNR {bad.sqnr_db:.1f} dB" if report.quantized else f"max |diff| / max |ref| = {bad.rel:.2e}"
        return Failure("mismatch", f"layer {bad.node} ({bad.op}): {value}"), report
    return None, report
