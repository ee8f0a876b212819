"""Kernels of the full layout's stacked path, for many features (D > ~24).

There the ``D (D + 1) / 2`` quadratic features would make the feature block larger
than the data, so the E-step runs on the K stacked precision factors instead: one
``(B, D) x (D, K D)`` product gives every component's whitened rows, these two kernels
turn them into log-densities and into the rows weighted once per component, and one
``(D, B) x (B, K D)`` product gives all K second moments.
"""

from __future__ import annotations

import numpy as np

from .compile import kernel, sum_kernel

__all__ = ["stacked_log_densities", "weight_rows"]


@sum_kernel
def stacked_log_densities(Y, offsets, L):
    """``L[k, b] -= |Y[b, kW:(k+1)W] - offsets[kW:(k+1)W]|^2 / 2``, W = Y's width / K.

    ``Y`` (B, K W) holds the rows times the K stacked precision factors (or a block of
    their columns); ``L`` (K, B) starts at the components' constants and ends as the
    weighted log-densities of the full-covariance components.
    """
    n_rows, width = Y.shape
    n_components = L.shape[0]
    n_columns = width // n_components
    if width != n_components * n_columns or L.shape[1] != n_rows:
        raise ValueError("stacked_log_densities: Y must be (B, K W) and L (K, B)")
    if offsets.shape[0] != width:
        raise ValueError("stacked_log_densities: offsets must be (K W,)")
    for b in range(n_rows):
        row = Y[b]
        for k in range(n_components):
            total = 0.0
            base = k * n_columns
            for d in range(n_columns):
                value = np.float64(row[base + d]) - np.float64(offsets[base + d])
                total += value * value
            L[k, b] -= 0.5 * total


@kernel
def weight_rows(R, X, first, out):
    """``out[b, k W + d] = R[k, b] X[b, first + d]``: a block of W columns of the rows,
    once per component, weighted by its responsibilities."""
    n_components, n_rows = R.shape
    n_columns = out.shape[1] // n_components
    if X.shape[0] != n_rows or out.shape[0] != n_rows:
        raise ValueError("weight_rows: R, X and out disagree on B")
    if out.shape[1] != n_components * n_columns or first + n_columns > X.shape[1] or first < 0:
        raise ValueError("weight_rows: out must be (B, K W) with W columns of X from first")
    for b in range(n_rows):
        row = X[b]
        target = out[b]
        for k in range(n_components):
            weight = R[k, b]
            base = k * n_columns
            for d in range(n_columns):
                target[base + d] = weight * row[first + d]
