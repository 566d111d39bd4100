"""How a CompareReport is shown: a one-paragraph summary, a per-layer table and a PNG plot."""

from __future__ import annotations

import math
import os


def _short_source(source: str) -> str:
    return os.path.basename(source.rsplit(":", 1)[0]) + ":" + source.rsplit(":", 1)[1] if ":" in source else source


def _fmt(x: float | None, kind: str = "e") -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.2e}" if kind == "e" else f"{x:.1f}"


def summary(report) -> str:
    lines = []
    measure = (f"SQNR (dB) against the {report.reference}, threshold {report.min_sqnr_db} dB" if report.quantized
               else f"max |diff| / max |ref| against the {report.reference} run, tolerance {report.tolerance:g}")
    if not report.runtime_error:
        lines.append(f"compared {len(report.rows)} layers ({report.nodes_without_tensor} FX nodes have no tensor "
                     f"of their own: folded, fused or views); {measure}")
    bad = report.first_bad
    if report.runtime_error:
        lines.append(f"LiteRT's builtin kernels refuse the file: {report.runtime_error}")
        if bad is not None:
            where = f"module '{bad.module_path}'" if bad.module_path else "top-level module"
            at = f" at {bad.source}" if bad.source else ""
            lines.append(f"first bad layer: the TFLite {bad.tfl_op} writing {bad.node} ({bad.op}, {where}{at}); "
                         "per-layer values need the builtin kernels, so only the outputs (XNNPACK) are measured")
    elif bad is None:
        lines.append("no layer past the tolerance")
    else:
        value = f"SQNR {_fmt(bad.sqnr_db, 'f')} dB" if report.quantized else f"relative error {bad.rel:.2e}"
        where = f"module '{bad.module_path}'" if bad.module_path else "top-level module"
        at = f" at {bad.source}" if bad.source else ""
        lines.append(f"first layer past the tolerance: {bad.node} ({bad.op}, {where}{at}): {value}, "
                     f"max |diff| {bad.max_abs:.2e}; the TFLite op writing it: {bad.tfl_op or '?'}")
    for o in report.outputs:
        if report.quantized:
            lines.append(f"output {o['name']}: SQNR {_fmt(o['builtin_sqnr_db'], 'f')} dB (builtin kernels), "
                         f"{_fmt(o['xnnpack_sqnr_db'], 'f')} dB (XNNPACK)")
        else:
            lines.append(f"output {o['name']}: relative error {o['builtin_rel']:.2e} (builtin kernels), "
                         f"{o['xnnpack_rel']:.2e} (XNNPACK)")
    return "\n".join(lines)


def table(report, markdown: bool = True) -> str:
    head = ["depth", "node", "op", "module", "source", "TFLite op", "layout", "max abs", "rel", "SQNR dB",
            "torch f32 rel"]
    rows = []
    for r in report.rows:
        mark = " <-- first past tolerance" if r is report.first_bad else (" *" if report.past_tolerance(r) else "")
        rows.append([str(r.depth), r.node + mark, r.op.replace("aten.", "").replace(".default", ""),
                     r.module_path or "-", _short_source(r.source) or "-", r.tfl_op or "-", r.layout or "-",
                     _fmt(r.max_abs),
                     _fmt(r.rel), _fmt(r.sqnr_db, "f"), _fmt(r.torch_f32_rel)])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return "\n".join(out)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = lambda row: "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head)] + [fmt(row) for row in rows])


def plot(report, path) -> str | None:
    """Writes the error-against-depth PNG to `path`; returns a note instead when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot (pip install matplotlib)"
    if report.runtime_error:
        return "no plot: LiteRT's builtin kernels refuse the file, so there are no per-layer values"
    depth = [r.depth for r in report.rows]
    fig, ax = plt.subplots(figsize=(9, 4))
    if report.quantized:
        ax.plot(depth, [r.sqnr_db if math.isfinite(r.sqnr_db) else float("nan") for r in report.rows], ".-",
                label="TFLite int8 vs PT2E reference")
        ax.axhline(report.min_sqnr_db, color="gray", ls="--", label=f"threshold {report.min_sqnr_db} dB")
        ax.set_ylabel("SQNR (dB)")
    else:
        floor = 1e-12  # exact layers sit at the floor of the log scale
        ax.semilogy(depth, [max(r.rel, floor) for r in report.rows], ".-", label="TFLite (builtin kernels)")
        if any(r.torch_f32_rel is not None for r in report.rows):
            ax.semilogy(depth, [max(r.torch_f32_rel or 0.0, floor) for r in report.rows], ".-", alpha=0.6,
                        label="PyTorch float32")
        ax.axhline(report.tolerance, color="gray", ls="--", label=f"tolerance {report.tolerance:g}")
        ax.set_ylabel(f"max |diff| / max |ref| vs {report.reference}")
    if report.first_bad is not None:
        ax.axvline(report.first_bad.depth, color="red", alpha=0.5, label=f"first past: {report.first_bad.node}")
    ax.set_xlabel("layer (graph order, layers with a tensor of their own)")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)
    plt.close(fig)
    return None
