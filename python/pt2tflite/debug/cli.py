"""`python -m pt2tflite.debug compare | find-culprits | inspect`, which the native CLI runs for
`pt2tflite compare MODEL.pt2`, `pt2tflite find-culprits MODEL.pt2` and
`pt2tflite inspect MODEL.tflite --pt2=MODEL.pt2`.

Exit codes: 0 nothing wrong found, 3 a failure was found (a layer past the tolerance, a failing
model shrunk), 2 bad input, 1 internal error."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_FOUND = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    from pt2tflite.debug.layer_compare import DEFAULT_MIN_SQNR_DB, DEFAULT_TOLERANCE

    p = argparse.ArgumentParser(prog="pt2tflite", description="pt2tflite debugging tools (docs/debugging.md)")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="per-layer error of the converted model against PyTorch")
    c.add_argument("model", help=".pt2 file (random inputs, seeded)")
    c.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="max |diff| / max |ref| (float)")
    c.add_argument("--min-sqnr", type=float, default=DEFAULT_MIN_SQNR_DB, help="dB, for int8 models")
    c.add_argument("--out", default=".", help="directory for compare.md and compare.png")
    f = sub.add_parser("find-culprits", help="smallest failing subgraph and a reproducer script")
    f.add_argument("model", help=".pt2 file (random inputs, seeded)")
    f.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    f.add_argument("--min-sqnr", type=float, default=DEFAULT_MIN_SQNR_DB)
    f.add_argument("--out", default=".", help="directory for pt2tflite_repro.py")
    i = sub.add_parser("inspect", help="per op: origin and XNNPACK verdict")
    i.add_argument("model", help=".tflite file")
    i.add_argument("--pt2", help="the .pt2 it was converted from (module paths, source lines)")
    i.add_argument("--profile", action="store_true", help="per-op share of run time (where reachable)")
    return p


def _compare(a) -> int:
    from pt2tflite.debug.layer_compare import compare

    report = compare(a.model, tolerance=a.tolerance, min_sqnr_db=a.min_sqnr)
    os.makedirs(a.out, exist_ok=True)
    table = os.path.join(a.out, "compare.md")
    with open(table, "w") as f:
        f.write(report.summary() + "\n\n" + report.table(markdown=True) + "\n")
    print(report.summary())
    print(report.table(markdown=False))
    note = report.plot(os.path.join(a.out, "compare.png"))
    print(f"wrote {table}" + (f"; {note}" if note else f" and {os.path.join(a.out, 'compare.png')}"))
    return EXIT_FOUND if report.first_bad is not None else EXIT_OK


def _find_culprits(a) -> int:
    from pt2tflite.debug.culprits import find_culprits

    os.makedirs(a.out, exist_ok=True)
    result = find_culprits(a.model, tolerance=a.tolerance, min_sqnr_db=a.min_sqnr,
                           reproducer=os.path.join(a.out, "pt2tflite_repro.py"))
    print(result)
    return EXIT_FOUND if result.failure is not None else EXIT_OK


def _inspect(a) -> int:
    from pt2tflite.debug.inspect_model import inspect

    print(inspect(a.model, a.pt2, profile=a.profile))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from pt2tflite.errors import ConversionError

    try:
        return {"compare": _compare, "find-culprits": _find_culprits, "inspect": _inspect}[args.command](args)
    except (ConversionError, FileNotFoundError, IsADirectoryError) as e:
        print(f"pt2tflite: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
