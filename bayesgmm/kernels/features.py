"""The feature block ``[q(x - shift), x - shift, 1]`` of rows, once per kernel layout,
and the two products an E-step makes with it.

Every covariance model's weighted log-density is linear in a few features of a row,
``log pi_k + log N(x | mu_k, Sigma_k) = theta_k . z(x)``, where the second-order part
``q`` depends only on the model's kernel layout:

=============  ================================  ==========================
layout         ``q(x)``                          rows of ``q`` (Q)
=============  ================================  ==========================
full           ``vech(x x^T)`` (upper triangle)  ``D (D + 1) / 2``
shared-full    none (``x^T Lambda x`` is common)  0
diagonal       ``x**2``                          ``D``
spherical      ``|x|**2``                        1
=============  ================================  ==========================

:func:`fill_linear` writes the shifted rows transposed and the constant 1; the
``fill_*`` functions add their layout's ``q``. :func:`logits` is ``theta @ Z`` and
:func:`feature_sums` the M-step's ``R @ Z^T`` (summed in float64), both chunk by chunk.
"""

from __future__ import annotations

import numpy as np

from .compile import inline, kernel, sum_kernel
from .rows import CHUNK

__all__ = [
    "fill_linear",
    "fill_full",
    "fill_shared",
    "fill_diagonal",
    "fill_spherical",
    "logits",
    "feature_sums",
    "scale_weighted_sums",
    "ROW_BYTES",
]

#: Rows longer than this many bytes are transposed in memory order (see fill_linear).
ROW_BYTES = 32


@inline
def fill_linear(X, shift, Z, q):
    """Write ``x - shift`` of rows X (B, D) into rows ``q .. q + D`` of Z (P, B), and 1s
    into its last row."""
    n_rows, n_features = X.shape
    if Z.shape[0] != q + n_features + 1 or Z.shape[1] != n_rows:
        raise ValueError("fill features: Z must have shape (Q + D + 1, B)")
    flat = Z.reshape(-1)  # Z is C-ordered
    for start in range(0, n_rows, CHUNK):
        stop = min(start + CHUNK, n_rows)
        if n_features * X.itemsize > ROW_BYTES:
            # long rows are read in memory order (writes go to Z's cached columns):
            # reading one feature of every row is a strided walk through X that runs
            # 3x slower when X comes from memory. Unsigned flat indices: numba checks
            # signed ones for wraparound, which keeps the loop scalar
            for b in range(start, stop):
                x = X[b]
                base = np.uint64(q * n_rows + b)
                for d in range(n_features):
                    flat[base + np.uint64(d * n_rows)] = np.float64(x[d]) - shift[d]
        else:  # short rows: one feature of every row at a time, vectorised over rows
            for d in range(n_features):
                row = Z[q + d, start:stop]
                centre = shift[d]
                for b in range(stop - start):
                    row[b] = np.float64(X[start + b, d]) - centre
        ones = Z[q + n_features, start:stop]
        for b in range(stop - start):
            ones[b] = 1.0


@kernel
def fill_full(X, shift, Z):
    """Features of the full layout: ``[vech((x-s)(x-s)^T), x - s, 1]``."""
    n_rows, n_features = X.shape
    q = n_features * (n_features + 1) // 2
    fill_linear(X, shift, Z, q)
    for start in range(0, n_rows, CHUNK):
        stop = min(start + CHUNK, n_rows)
        out = 0
        for i in range(n_features):
            left = Z[q + i, start:stop]
            for j in range(i, n_features):
                right = Z[q + j, start:stop]
                target = Z[out, start:stop]
                for b in range(stop - start):
                    target[b] = left[b] * right[b]
                out += 1


@kernel
def fill_shared(X, shift, Z):
    """Features of the shared-full layout: ``[x - s, 1]``."""
    fill_linear(X, shift, Z, 0)


@kernel
def fill_diagonal(X, shift, Z):
    """Features of the diagonal layout: ``[(x - s)**2, x - s, 1]``."""
    n_rows, n_features = X.shape
    fill_linear(X, shift, Z, n_features)
    for start in range(0, n_rows, CHUNK):
        stop = min(start + CHUNK, n_rows)
        for d in range(n_features):
            source = Z[n_features + d, start:stop]
            target = Z[d, start:stop]
            for b in range(stop - start):
                target[b] = source[b] * source[b]


@kernel
def fill_spherical(X, shift, Z):
    """Features of the spherical layout: ``[|x - s|**2, x - s, 1]``."""
    n_rows, n_features = X.shape
    fill_linear(X, shift, Z, 1)
    for start in range(0, n_rows, CHUNK):
        stop = min(start + CHUNK, n_rows)
        target = Z[0, start:stop]
        for b in range(stop - start):
            target[b] = 0.0
        for d in range(n_features):
            source = Z[1 + d, start:stop]
            for b in range(stop - start):
                target[b] += source[b] * source[b]


@kernel
def logits(theta, Z, L):
    """``L = theta @ Z``: (K, P) coefficients times (P, B) features, chunk by chunk.

    For small blocks this beats a BLAS call (no threads, no packing); the block engine
    uses BLAS on its larger blocks.
    """
    n_components, n_columns = theta.shape
    n_rows = Z.shape[1]
    for start in range(0, n_rows, CHUNK):
        stop = min(start + CHUNK, n_rows)
        for k in range(n_components):
            out = L[k, start:stop]
            constant = theta[k, n_columns - 1]  # the feature 1
            for b in range(stop - start):
                out[b] = constant
            for p in range(n_columns - 1):
                coefficient = theta[k, p]
                feature = Z[p, start:stop]
                for b in range(stop - start):
                    out[b] += coefficient * feature[b]


@sum_kernel
def feature_sums(R, Z, T):
    """``T = R @ Z^T`` in float64: sums in the blocks' precision over chunks of rows."""
    n_components, n_rows = R.shape
    n_columns = Z.shape[0]
    for k in range(n_components):
        for p in range(n_columns):
            T[k, p] = 0.0
    zero = np.zeros(1, dtype=Z.dtype)[0]  # sums within a chunk in the blocks' precision
    for start in range(0, n_rows, CHUNK):
        stop = min(start + CHUNK, n_rows)
        for k in range(n_components):
            weights = R[k, start:stop]
            for p in range(n_columns):
                feature = Z[p, start:stop]
                total = zero
                for b in range(stop - start):
                    total += weights[b] * feature[b]
                T[k, p] += total


@sum_kernel
def scale_weighted_sums(R, U, Z, T, counts, dof_stats, data_second, shared):
    """The M-step's sums of a family with scale weights (Student-t), in float64.

    From responsibilities ``R`` (K, B) and scale weights ``U`` (K, B): ``T = (R U) Z^T``,
    the counts ``sum_b R``, the degrees-of-freedom sums ``sum_b R (log U - U)`` and, for
    the shared layout (whose features start with the D rows ``x - s``), the
    scale-weighted second moment ``sum_b (sum_k R U) z_b z_b^T`` into ``data_second``.
    """
    n_components, n_rows = R.shape
    n_columns = Z.shape[0]
    weighted = np.empty(n_rows)
    for k in range(n_components):
        total, stat = 0.0, 0.0
        for b in range(n_rows):
            r = np.float64(R[k, b])
            u = np.float64(U[k, b])
            total += r
            if u > 0.0:
                stat += r * (np.log(u) - u)
        counts[k] = total
        dof_stats[k] = stat
        for b in range(n_rows):
            weighted[b] = np.float64(R[k, b]) * np.float64(U[k, b])
        for p in range(n_columns):
            feature = Z[p]
            value = 0.0
            for b in range(n_rows):
                value += weighted[b] * feature[b]
            T[k, p] = value
    if shared:
        n_features = data_second.shape[0]
        mass = np.zeros(n_rows)
        for k in range(n_components):
            for b in range(n_rows):
                mass[b] += np.float64(R[k, b]) * np.float64(U[k, b])
        for i in range(n_features):
            for j in range(i, n_features):
                value = 0.0
                for b in range(n_rows):
                    value += mass[b] * Z[i, b] * Z[j, b]
                data_second[i, j] = value
                data_second[j, i] = value
