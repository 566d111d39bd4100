"""Lining up a TFLite tensor with the FX value it holds: the file stores activations channels-last
(NHWC) where PyTorch has NCHW, so a tensor may be a permutation of the FX value."""

from __future__ import annotations

import numpy as np


def _candidate_perms(rank: int) -> list[tuple[int, ...]]:
    identity = tuple(range(rank))
    if rank < 3:
        return [identity]
    channels_last = (0, *range(2, rank), 1)
    return [identity, channels_last]


def align(ref: np.ndarray, tfl: np.ndarray) -> tuple[np.ndarray, str] | None:
    """`ref` (PyTorch order) permuted to `tfl`'s storage order, and the layout name ("" for
    PyTorch order, "NHWC" for channels-last, "NHWC?" when both orders fit the shape and the closer
    one was taken); None when no permutation maps one onto the other."""
    fits = [p for p in _candidate_perms(ref.ndim) if tuple(ref.transpose(p).shape) == tuple(tfl.shape)]
    if not fits:
        return None
    if len(fits) == 1 or ref.ndim < 3:
        p = fits[0]
        return ref.transpose(p), ("" if p == tuple(range(ref.ndim)) else "NHWC")
    # A shape such as 1x8x8x8 fits both orders: take the closer one and say it was a guess.
    errors = [np.max(np.abs(ref.transpose(p) - tfl), initial=0.0) for p in fits]
    p = fits[int(np.argmin(errors))]
    return ref.transpose(p), ("" if p == tuple(range(ref.ndim)) else "NHWC") + "?"
