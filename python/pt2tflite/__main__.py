"""`python -m pt2tflite export-llm MODEL_DIR -o out.litertlm`: the commands that need PyTorch.

The native `pt2tflite` CLI (convert, inspect) needs no Python; it forwards `export-llm` here."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "export-llm":
        print("usage: python -m pt2tflite export-llm MODEL_DIR -o OUT.litertlm|OUT.tflite [--prefill-lengths 8,32] "
              "[--cache-length 64] [--quantize int8|int4]", file=sys.stderr)
        return 2
    from pt2tflite.llm import main as export_llm_main

    return export_llm_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
