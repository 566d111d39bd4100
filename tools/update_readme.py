"""Copies the generated summaries into README.md, so that the README's figures are the latest
generated ones and never typed by hand.

    python tools/update_readme.py

Each block of README.md between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` is
replaced:

* `zoo`: the summary line of docs/models.md (written by `python tools/zoo.py`);
* `bench`: the Summary section and the latency table of the newest bench/results/<date>.md
  (written by `python3 bench/run.py`);
* `bench-onnx2tf`: the summary bullets of the onnx2tf section of the newest
  bench/results/<date>-onnx2tf.md (`python3 bench/run.py --peers onnx2tf --date <date>-onnx2tf`);
* `bench-quant`: the Ratios section of the newest bench/results/<date>-quant.md (written by
  `python3 bench/quant_run.py`).
"""

from __future__ import annotations

import glob
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATED = re.compile(r"\d{4}-\d{2}-\d{2}")


def newest(pattern: str, suffix: str) -> str | None:
    """The newest bench result named <date><suffix>.md, or None."""
    paths = [p for p in glob.glob(os.path.join(ROOT, "bench", "results", pattern))
             if DATED.fullmatch(os.path.basename(p)[: -len(suffix + ".md")])]
    return max(paths) if paths else None


def section(markdown: str, heading: str) -> str:
    """The body of the `## heading...` section (up to the next `## `), without the heading."""
    m = re.search(rf"^## {re.escape(heading)}[^\n]*\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    if not m:
        sys.exit(f"no '## {heading}' section")
    return m.group(1).strip()


def header_line(markdown: str, prefix: str) -> str:
    for line in markdown.splitlines():
        if line.startswith(prefix):
            return line.strip()
    sys.exit(f"no line starting with {prefix!r}")


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def blocks() -> dict[str, str]:
    models = read(os.path.join(ROOT, "docs", "models.md"))
    rel = lambda p: os.path.relpath(p, ROOT)  # noqa: E731
    out = {"zoo": header_line(models, "**") + " ([docs/models.md](docs/models.md))"}
    bench_path = newest("*[0-9].md", "")
    if bench_path:
        bench = read(bench_path)
        out["bench"] = "\n\n".join([
            f"From [{rel(bench_path)}]({rel(bench_path)}); {header_line(bench, '- machine:')[2:]}; "
            f"{header_line(bench, '- command:')[2:]}.",
            section(bench, "Summary"),
            section(bench, "Latency"),
        ])
    onnx_path = newest("*-onnx2tf.md", "-onnx2tf")
    if onnx_path:
        onnx = read(onnx_path)
        out["bench-onnx2tf"] = "\n\n".join([
            f"From [{rel(onnx_path)}]({rel(onnx_path)}); {header_line(onnx, '- command:')[2:]}.",
            "\n".join(line for line in section(onnx, "Second peer").splitlines() if line.startswith("- ")),
        ])
    quant_path = newest("*-quant.md", "-quant")
    if quant_path:
        quant = read(quant_path)
        out["bench-quant"] = "\n\n".join([
            f"From [{rel(quant_path)}]({rel(quant_path)}); {header_line(quant, '- command:')[2:]}.",
            section(quant, "Ratios"),
        ])
    # A block whose results do not exist yet says how to produce them.
    for name, command in [("bench", "python3 bench/run.py"), ("bench-onnx2tf", "python3 bench/run.py --peers onnx2tf"),
                          ("bench-quant", "python3 bench/quant_run.py")]:
        out.setdefault(name, f"No results yet: run `{command}`, then `python tools/update_readme.py`.")
    return out


def main() -> int:
    path = os.path.join(ROOT, "README.md")
    text = read(path)
    for name, body in blocks().items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            sys.exit(f"README.md has no <!-- generated:{name} --> block")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    with open(path, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
