"""Differential testing of the whole pipeline (issue 10), in the spirit of NNSmith: random valid
PyTorch programs (generate.py) are converted and run in LiteRT with XNNPACK and with the builtin
kernels only, and compared with PyTorch in float64 (check.py); run.py runs many in parallel and
writes a summary; minimize.py shrinks a failing program to a standalone reproducer. See
docs/difftest.md."""
