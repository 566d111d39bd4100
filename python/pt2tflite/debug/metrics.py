"""Error measures between a reference tensor and a converted model's tensor."""

from __future__ import annotations

import math

import numpy as np


def max_abs(ref: np.ndarray, got: np.ndarray) -> float:
    return float(np.max(np.abs(ref.astype(np.float64) - got.astype(np.float64)), initial=0.0))


def relative(ref: np.ndarray, got: np.ndarray) -> float:
    """max |ref - got| / max |ref| (the measure the zoo tables use); inf when `got` has NaNs."""
    if np.isnan(got).any():
        return math.inf
    scale = float(np.max(np.abs(ref.astype(np.float64)), initial=0.0))
    err = max_abs(ref, got)
    return err / scale if scale > 0 else (0.0 if err == 0 else math.inf)


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    """Signal to quantization noise ratio in dB (inf when identical)."""
    ref = ref.astype(np.float64)
    noise = float(np.sum((ref - got.astype(np.float64)) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)
