"""A model-based hierarchical tree of the data: agglomeration by a Gaussian criterion.

mclust starts EM from one tree of the data, built by merging, at each step, the two
clusters whose union lowers the classification likelihood of an unconstrained (VVV)
Gaussian model least (Banfield & Raftery 1993; Fraley 1998), in its ``hcUse = "SVD"``
scaling. Ward's tree (:func:`bayesgmm.em.init.ward_tree`) is the spherical, equal-volume
special case; this one lets a cluster grow along its own directions, which is what finds
the elongated and differently oriented components of the ellipsoidal models.

The cost of a cluster of weight ``n`` with centred scatter matrix ``W`` (D x D) is

    ``n D log((tr W + a) / (n D))``                       while ``n <= D + 1``,
    ``n log det((W + (tr W + a) I) / (n D))``              past it,

and each step merges the pair whose union raises the total cost least. ``a``, the mean
variance per feature of all rows (``tr W_all / (N D)``), keeps the cost finite for
singletons; while a cluster has too few rows for a proper covariance, it is judged by
its spread alone (the spherical criterion), then by its ridge-regularised determinant,
whose ridge ``tr W`` shrinks in relative weight as the cluster's shape becomes known.
This is our own choice, written from the papers (mclust's Fortran is not open for
reuse); on iris, crabs and wine its cuts at K = 2..9 agree with mclust's tree to an
adjusted Rand index of 0.5 to 1 (0.9 to 1 on crabs and wine).

The merges cost ``O(L^2 D^3)`` for ``L`` rows, so the tree is built on at most
:data:`TREE_MAX_ROWS` rows, fewer in many dimensions (:func:`tree_rows`); the other rows
join the nearest cluster centre when it is cut.
"""

from __future__ import annotations

import numpy as np

from ..kernels.compile import inline, kernel
from .init import label_every_row, tree_sample

__all__ = ["TREE_MAX_ROWS", "mclust_svd", "model_tree", "cut_model_tree", "tree_rows"]

#: Rows the tree is built on, at most (a weighted sample of larger data).
TREE_MAX_ROWS = 1_000
#: Work (L^2 D^3) of the merges up to which the tree takes :data:`TREE_MAX_ROWS` rows.
TREE_WORK = 2e9


def mclust_svd(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """mclust's ``hcUse = "SVD"`` scaling: standardise each feature, rotate onto the
    principal axes and divide each by the square root of its singular value (a half
    whitening: the leading axes keep more spread than the trailing ones).

    Constant features are dropped.
    """
    total = weights.sum()
    center = weights @ X / total
    spread = np.sqrt(weights @ (X - center) ** 2 / total)
    kept = spread > 0
    if not kept.any():
        return np.zeros((len(X), 1))
    standard = (X[:, kept] - center[kept]) / spread[kept]
    _, singular, vt = np.linalg.svd(
        standard * np.sqrt(weights / total)[:, None], full_matrices=False
    )
    axes = singular > singular[0] * 1e-10
    return standard @ vt[axes].T / np.sqrt(singular[axes])


def tree_rows(n_features: int) -> int:
    """How many rows the tree is built on in ``n_features`` dimensions."""
    return int(min(TREE_MAX_ROWS, max(100, np.sqrt(TREE_WORK / max(n_features, 1) ** 3))))


@inline
def _cost(weight, scatter, trace, ridge, work):
    """A cluster's cost (module docstring) from its weight, scatter matrix and trace."""
    n_features = scatter.shape[0]
    scale = weight * n_features
    if weight <= n_features + 1:
        return scale * np.log((trace + ridge) / scale)
    for i in range(n_features):  # Cholesky of W + (tr W + a) I, in place in ``work``
        for j in range(i + 1):
            value = scatter[i, j] + (trace + ridge if i == j else 0.0)
            for k in range(j):
                value -= work[i, k] * work[j, k]
            if i == j:
                work[i, i] = np.sqrt(value)
            else:
                work[i, j] = value / work[j, j]
    total = 0.0
    for i in range(n_features):
        total += 2.0 * np.log(work[i, i] / np.sqrt(scale))
    return weight * total


@inline
def _merged(weights, means, scatters, traces, i, j, out):
    """The scatter matrix of clusters i and j together (into ``out``) and its trace."""
    n_features = means.shape[1]
    weight = weights[i] + weights[j]
    factor = weights[i] * weights[j] / weight
    trace = traces[i] + traces[j]
    for a in range(n_features):
        da = means[i, a] - means[j, a]
        trace += factor * da * da
        for b in range(n_features):
            out[a, b] = (
                scatters[i, a, b] + scatters[j, a, b] + factor * da * (means[i, b] - means[j, b])
            )
    return weight, trace


@kernel
def _agglomerate(Z, weights, ridge):  # pragma: no cover - compiled
    """The merges (L - 1, 2) of rows Z with ``weights``: row m says cluster ``merges[m, 1]``
    joined cluster ``merges[m, 0]`` (each named by its first row)."""
    n_rows, n_features = Z.shape
    means = Z.copy()
    sizes = weights.copy()
    scatters = np.zeros((n_rows, n_features, n_features))
    traces = np.zeros(n_rows)
    costs = np.empty(n_rows)
    work = np.zeros((n_features, n_features))
    merged = np.empty((n_features, n_features))
    for i in range(n_rows):
        costs[i] = _cost(sizes[i], scatters[i], 0.0, ridge, work)
    change = np.full((n_rows, n_rows), np.inf)
    for i in range(n_rows):
        for j in range(i + 1, n_rows):
            weight, trace = _merged(sizes, means, scatters, traces, i, j, merged)
            change[i, j] = _cost(weight, merged, trace, ridge, work) - costs[i] - costs[j]
            change[j, i] = change[i, j]
    active = np.ones(n_rows, dtype=np.bool_)
    partner = np.empty(n_rows, dtype=np.int64)
    for i in range(n_rows):
        partner[i] = np.argmin(change[i]) if n_rows > 1 else 0
    merges = np.empty((max(n_rows - 1, 0), 2), dtype=np.int64)
    for step in range(n_rows - 1):
        best, first = np.inf, -1
        for i in range(n_rows):
            if active[i] and change[i, partner[i]] < best:
                best, first = change[i, partner[i]], i
        second = partner[first]
        keep, gone = min(first, second), max(first, second)
        merges[step, 0], merges[step, 1] = keep, gone
        weight, trace = _merged(sizes, means, scatters, traces, keep, gone, merged)
        for a in range(n_features):
            means[keep, a] = (sizes[keep] * means[keep, a] + sizes[gone] * means[gone, a]) / weight
        scatters[keep] = merged
        sizes[keep], traces[keep] = weight, trace
        costs[keep] = _cost(weight, scatters[keep], trace, ridge, work)
        active[gone] = False
        change[gone, :] = np.inf
        change[:, gone] = np.inf
        for k in range(n_rows):
            if active[k] and k != keep:
                size, trace = _merged(sizes, means, scatters, traces, keep, k, merged)
                change[keep, k] = _cost(size, merged, trace, ridge, work) - costs[keep] - costs[k]
                change[k, keep] = change[keep, k]
        change[keep, keep] = np.inf
        partner[keep] = np.argmin(change[keep])
        for k in range(n_rows):
            if not active[k] or k == keep:
                continue
            if partner[k] == keep or partner[k] == gone:
                partner[k] = np.argmin(change[k])
            elif change[k, keep] < change[k, partner[k]]:
                partner[k] = keep
    return merges


def model_tree(
    X: np.ndarray, weights: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tree of the rows X (module docstring): their scaled values, the rows it was
    built on, and its merges (see :func:`cut_model_tree`)."""
    Z = mclust_svd(X, weights)
    rows = tree_sample(weights, rng, tree_rows(Z.shape[1]))
    sampled = len(rows) < np.count_nonzero(weights > 0)
    row_weights = np.ones(len(rows)) if sampled else weights[rows]
    points = np.ascontiguousarray(Z[rows])
    spread = row_weights @ (points - row_weights @ points / row_weights.sum()) ** 2
    ridge = max(spread.sum() / (row_weights.sum() * Z.shape[1]), np.finfo(float).tiny)
    merges = _agglomerate(points, np.asarray(row_weights, dtype=np.float64), ridge)
    return Z, rows, merges


def cut_model_tree(tree: tuple, n_components: int) -> np.ndarray:
    """Labels (N,) of :func:`model_tree`'s tree cut at ``n_components`` clusters; rows
    the tree was not built on join the nearest cluster centre (in the scaled rows)."""
    Z, rows, merges = tree
    n_rows = len(rows)
    owner = np.arange(n_rows)
    for keep, gone in merges[: max(n_rows - n_components, 0)]:
        owner[owner == gone] = keep
    return label_every_row(Z, rows, owner)
