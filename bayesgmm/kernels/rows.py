"""Log-sum-exp over components, in place: log-probabilities to weighted responsibilities.

The whole step runs over chunks of :data:`CHUNK` rows held in the first-level cache,
with the polynomial ``exp`` and ``log`` of :mod:`~bayesgmm.kernels.fastmath` (about 1.2 ns
an ``exp`` and 3-5 ns a term for the whole step in float64; float32 blocks run in
float32, 8 terms an instruction, their log-likelihood summed in float64). Inner loops
index 1-d row views: 2-d indexing there does not vectorise.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.extending import overload

from .compile import kernel
from .fastmath import LOWEST, LOWEST32, fast_exp, fast_exp32, fast_log, fast_log32

__all__ = ["CHUNK", "responsibilities", "responsibilities32", "responsibilities_of"]

#: Rows of a block processed together (their (K, CHUNK) terms stay in cache).
CHUNK = 256


@kernel
def responsibilities(L, weights):
    """In place: log-probabilities ``L`` (K, B) -> responsibilities times row weights.

    Every entry must be finite (an empty component's log-weight is a large negative
    number, not -inf). Returns the weighted sum of the rows' log-likelihoods.
    """
    n_components, n_rows = L.shape
    if weights.shape[0] != n_rows:
        raise ValueError("responsibilities: L must be (K, B) and weights (B,)")
    top = np.empty(CHUNK)
    norm = np.empty(CHUNK)
    work = np.empty((n_components, CHUNK))
    partial = np.zeros(CHUNK)
    # 1-d row views in the inner loops: 2-d indexing there does not vectorise
    for start in range(0, n_rows, CHUNK):
        width = min(CHUNK, n_rows - start)
        stop = start + width
        for b in range(width):
            top[b] = -np.inf
            norm[b] = 0.0
        for k in range(n_components):
            source = L[k, start:stop]
            row = work[k]
            for b in range(width):
                row[b] = np.float64(source[b])
            for b in range(width):
                top[b] = row[b] if row[b] > top[b] else top[b]
        for k in range(n_components):
            row = work[k]
            for b in range(width):
                row[b] -= top[b]
            for b in range(width):  # in place: the fastest form of this loop
                d = row[b]
                e = fast_exp(d if d > LOWEST else LOWEST)
                row[b] = e if d >= LOWEST else 0.0
            for b in range(width):
                norm[b] += row[b]
        row_weights = weights[start:stop]
        for b in range(width):  # norm is in [1, K]: the largest term is exp(0) = 1
            w = row_weights[b]
            partial[b] += w * (top[b] + fast_log(norm[b]))
            norm[b] = w / norm[b]
        for k in range(n_components):
            target = L[k, start:stop]
            row = work[k]
            for b in range(width):
                target[b] = row[b] * norm[b]
    total = 0.0
    for b in range(CHUNK):
        total += partial[b]
    return total


@kernel
def responsibilities32(L, weights):
    """:func:`responsibilities` for float32 blocks, in float32 (8 terms an instruction).

    The log-likelihood is summed in float64; what float32 coefficients lose is added
    by the caller through the feature sums.
    """
    n_components, n_rows = L.shape
    if weights.shape[0] != n_rows:
        raise ValueError("responsibilities32: L must be (K, B) and weights (B,)")
    top = np.empty(CHUNK, dtype=np.float32)
    norm = np.empty(CHUNK, dtype=np.float32)
    scale = np.empty(CHUNK, dtype=np.float32)
    partial = np.zeros(CHUNK)
    for start in range(0, n_rows, CHUNK):
        width = min(CHUNK, n_rows - start)
        stop = start + width
        for b in range(width):
            top[b] = -np.inf
            norm[b] = 0.0
        for k in range(n_components):
            row = L[k, start:stop]
            for b in range(width):
                top[b] = row[b] if row[b] > top[b] else top[b]
        for k in range(n_components):
            row = L[k, start:stop]
            for b in range(width):
                row[b] -= top[b]
            for b in range(width):
                d = row[b]
                e = fast_exp32(d if d > LOWEST32 else LOWEST32)
                row[b] = e if d >= LOWEST32 else np.float32(0.0)
            for b in range(width):
                norm[b] += row[b]
        row_weights = weights[start:stop]
        for b in range(width):  # norm is in [1, K]: the largest term is exp(0) = 1
            w = row_weights[b]
            partial[b] += w * (np.float64(top[b]) + np.float64(fast_log32(norm[b])))
            scale[b] = np.float32(w) / norm[b]
        for k in range(n_components):
            row = L[k, start:stop]
            for b in range(width):
                row[b] *= scale[b]
    total = 0.0
    for b in range(CHUNK):
        total += partial[b]
    return total


def _in_precision(L, weights):
    """:func:`responsibilities` or :func:`responsibilities32` by L's dtype (compiled only)."""
    raise NotImplementedError("only called from compiled code")


@overload(_in_precision)
def _in_precision_typed(L, weights):
    if L.dtype == types.float32:
        return lambda L, weights: responsibilities32(L, weights)
    return lambda L, weights: responsibilities(L, weights)


@kernel
def responsibilities_of(L, weights):
    """:func:`responsibilities` in L's precision (float32 or float64), from anywhere."""
    return _in_precision(L, weights)
