"""Initialisation of EM: starting responsibilities from k-means, k-means++, random
draws, or a deterministic hierarchical (Ward) agglomeration as mclust uses.

Every method returns hard or soft responsibilities ``(N, K)``; the EM engine turns
them into parameters with one M-step, so there is one code path from a start to a
model. Weights are frequency weights: sampling steps draw rows with probability
proportional to their weight through a cumulative sum, so an integer weight ``w``
picks the same point as ``w`` repeated rows do, and a zero weight is never picked.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster import hierarchy

from ..kernels.compile import inline, kernel

__all__ = [
    "INIT_METHODS",
    "initial_responsibilities",
    "kmeans",
    "kmeans_plusplus",
    "ward_labels",
    "ward_tree",
    "cut_tree_at",
    "tree_sample",
    "label_every_row",
    "whiten",
    "nearest",
    "one_hot",
    "subsample",
]

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")

#: Rows used by k-means and by Ward agglomeration; larger data are subsampled for them.
KMEANS_MAX_ROWS = 50_000
WARD_MAX_ROWS = 1_000


def _weighted_choice(weights: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    cumulative = np.cumsum(weights)
    draws = rng.random(size) * cumulative[-1]
    return np.minimum(np.searchsorted(cumulative, draws, side="right"), len(weights) - 1)


def _squared_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    distances = (
        np.einsum("nd,nd->n", X, X)[:, None]
        - 2.0 * (X @ centers.T)
        + np.einsum("kd,kd->k", centers, centers)[None, :]
    )
    return np.maximum(distances, 0.0, out=distances)


@inline
def _distance(X, n, center):
    total = 0.0
    for d in range(X.shape[1]):
        delta = X[n, d] - center[d]
        total += delta * delta
    return total


@inline
def _choose(cumulative, draw):
    """The row a uniform ``draw`` picks by the cumulative weights (as ``_weighted_choice``)."""
    index = np.searchsorted(cumulative, draw * cumulative[-1], side="right")
    return min(index, cumulative.shape[0] - 1)


@kernel
def _plusplus(X, n_components, weights, uniforms, n_trials):
    """Greedy weighted k-means++ seeds, from pre-drawn uniforms (see kmeans_plusplus)."""
    n_rows = X.shape[0]
    centers = np.empty((n_components, X.shape[1]))
    first = _choose(np.cumsum(weights), uniforms[0])
    centers[0] = X[first]
    closest = np.empty(n_rows)
    for n in range(n_rows):
        closest[n] = _distance(X, n, centers[0])
    trial = np.empty(n_rows)
    best_closest = np.empty(n_rows)
    draw = 1
    for k in range(1, n_components):
        score = weights * closest
        cumulative = np.cumsum(score) if score.sum() > 0 else np.cumsum(weights)
        best_potential = np.inf
        best_row = 0
        for _ in range(n_trials):
            row = _choose(cumulative, uniforms[draw])
            draw += 1
            potential = 0.0
            for n in range(n_rows):
                trial[n] = min(closest[n], _distance(X, n, X[row]))
                potential += weights[n] * trial[n]
            if potential < best_potential:
                best_potential, best_row = potential, row
                best_closest[:] = trial
        centers[k] = X[best_row]
        closest[:] = best_closest
    return centers


def kmeans_plusplus(
    X: np.ndarray, n_components: int, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Choose ``n_components`` seeds by greedy weighted D² sampling.

    Arthur & Vassilvitskii (2007) with the greedy refinement scikit-learn uses: at
    each step ``2 + log K`` candidates are drawn with probability proportional to
    weight times squared distance to the nearest seed, and the one that lowers the
    weighted potential most is kept. Compiled; the random numbers come from ``rng``.

    Returns
    -------
    ndarray of shape (n_components, D)
        The chosen rows of X.

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [10.0], [10.1]])
    >>> np.sort(kmeans_plusplus(X, 2, np.ones(4), np.random.default_rng(0))[:, 0] > 5)
    array([False,  True])
    """
    n_trials = 2 + int(np.log(n_components))
    uniforms = rng.random(1 + (n_components - 1) * n_trials)
    X = np.ascontiguousarray(X, dtype=np.float64)
    return _plusplus(X, n_components, np.asarray(weights, dtype=np.float64), uniforms, n_trials)


@kernel
def _lloyd(X, centers, weights, max_iter, tol):
    """Weighted Lloyd iterations from ``centers`` (in place); returns the labels."""
    n_rows, n_features = X.shape
    n_components = centers.shape[0]
    scale = 0.0
    total = 0.0
    for n in range(n_rows):
        scale += weights[n] * _distance(X, n, np.zeros(n_features))
        total += weights[n]
    scale = max(scale / total, 1e-300)
    labels = np.zeros(n_rows, dtype=np.int64)
    sums = np.empty((n_components, n_features))
    counts = np.empty(n_components)
    for _ in range(max_iter):
        for n in range(n_rows):
            best, label = np.inf, 0
            for k in range(n_components):
                distance = _distance(X, n, centers[k])
                if distance < best:
                    best, label = distance, k
            labels[n] = label
        sums[:] = 0.0
        counts[:] = 0.0
        for n in range(n_rows):
            counts[labels[n]] += weights[n]
            for d in range(n_features):
                sums[labels[n], d] += weights[n] * X[n, d]
        shift = 0.0
        for k in range(n_components):
            if counts[k] > 0:
                for d in range(n_features):
                    value = sums[k, d] / counts[k]
                    shift += (value - centers[k, d]) ** 2
                    centers[k, d] = value
        if shift <= tol * tol * scale:
            break
    return labels


def kmeans(
    X: np.ndarray,
    centers: np.ndarray,
    weights: np.ndarray,
    *,
    max_iter: int = 100,
    tol: float = 1e-6,
) -> np.ndarray:
    """Weighted Lloyd iterations from ``centers``; returns the final centres (K, D).

    Written here (compiled) rather than taken from scikit-learn (a test-only
    dependency) or ``scipy.cluster.vq.kmeans2`` (no sample weights). An empty
    cluster keeps its centre.
    """
    centers = np.array(centers, dtype=np.float64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    _lloyd(X, centers, np.asarray(weights, dtype=np.float64), max_iter, tol)
    return centers


def whiten(X: np.ndarray, weights: np.ndarray, scaling: str) -> np.ndarray:
    """Scale the data by its SVD (mclust's ``hcUse = "SVD"``) or per feature ("VARS")."""
    center = np.average(X, axis=0, weights=weights)
    if scaling == "std":
        spread = np.sqrt(np.average((X - center) ** 2, axis=0, weights=weights))
        return (X - center) / np.where(spread > 0, spread, 1.0)
    Xc = (X - center) * np.sqrt(weights / weights.sum())[:, None]
    _, singular, vt = np.linalg.svd(Xc, full_matrices=False)
    keep = singular > singular[0] * 1e-10
    return (X - center) @ vt[keep].T / singular[keep]


def ward_tree(
    X: np.ndarray, weights: np.ndarray, rng: np.random.Generator, scaling: str = "svd"
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Ward agglomeration of scaled data: the scaled rows, the rows agglomerated and the
    linkage (None when fewer than two rows have a positive weight).

    Data with more than ``WARD_MAX_ROWS`` positive-weight rows are agglomerated on a
    weighted subsample. One tree serves every number of clusters (:func:`cut_tree_at`).
    """
    Z = whiten(X, weights, scaling)
    rows = tree_sample(weights, rng, WARD_MAX_ROWS)
    if len(rows) < 2:
        return Z, rows, None
    return Z, rows, hierarchy.linkage(Z[rows], method="ward")


def cut_tree_at(tree: tuple, n_components: int) -> np.ndarray:
    """Labels (N,) of the tree of :func:`ward_tree` cut at ``n_components`` clusters:
    every row joins the nearest centre of the agglomerated rows' clusters."""
    Z, rows, linkage = tree
    if linkage is None:
        return np.zeros(len(Z), dtype=np.intp)
    labels = hierarchy.fcluster(linkage, t=n_components, criterion="maxclust") - 1
    return label_every_row(Z, rows, labels)


def tree_sample(weights: np.ndarray, rng: np.random.Generator, max_rows: int) -> np.ndarray:
    """The rows a tree is built on: every row of positive weight, or, past ``max_rows``
    of them, the distinct rows of a weighted draw of ``max_rows``."""
    rows = np.flatnonzero(weights > 0)
    if len(rows) > max_rows:
        rows = np.unique(_weighted_choice(weights, max_rows, rng))
    return rows


def label_every_row(Z: np.ndarray, rows: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Labels (N,) of all rows Z from the labels of the tree's ``rows``: the others join
    the nearest centre of the tree's clusters."""
    labels = np.unique(labels, return_inverse=True)[1].astype(np.intp)
    if len(rows) == len(Z):
        return labels
    centers = np.array([Z[rows][labels == k].mean(axis=0) for k in range(labels.max() + 1)])
    return nearest(Z, centers)


def ward_labels(
    X: np.ndarray,
    n_components: int,
    weights: np.ndarray,
    rng: np.random.Generator,
    scaling: str = "svd",
) -> np.ndarray:
    """Deterministic start: Ward agglomeration on scaled data, cut at K clusters.

    ``scaling="svd"`` whitens the data by its singular value decomposition (mclust's
    default ``hcUse="SVD"``); ``"std"`` divides each feature by its standard deviation.

    Data with more than ``WARD_MAX_ROWS`` positive-weight rows are agglomerated on a
    weighted subsample; every row then joins the nearest cluster centre.
    """
    return cut_tree_at(ward_tree(X, weights, rng, scaling), n_components)


def nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Labels (N,): the nearest of ``centers`` (K, D) to each row of X."""
    return _squared_distances(X, centers).argmin(axis=1)


def one_hot(labels: np.ndarray, n_components: int) -> np.ndarray:
    resp = np.zeros((len(labels), n_components))
    resp[np.arange(len(labels)), labels] = 1.0
    return resp


def subsample(
    X: np.ndarray, weights: np.ndarray, rng: np.random.Generator, max_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    if len(X) <= max_rows:
        return X, weights
    rows = _weighted_choice(weights, max_rows, rng)
    return X[rows], np.ones(max_rows)


def initial_responsibilities(
    X: np.ndarray,
    n_components: int,
    method: str,
    weights: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Starting responsibilities ``(N, K)`` for one EM run.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    n_components : int
    method : {"kmeans", "k-means++", "random", "random_from_data", "ward-svd", "ward-std"}
        ``kmeans``: Lloyd's k-means from k-means++ seeds; ``k-means++``: nearest
        seed; ``random``: uniform random soft responsibilities;
        ``random_from_data``: nearest of K random rows; ``ward-svd`` / ``ward-std``:
        the deterministic hierarchical start (Ward agglomeration on SVD-whitened or
        standardised data), used among the default starts.
    weights : ndarray of shape (N,)
    rng : numpy Generator

    Returns
    -------
    ndarray of shape (N, K)

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> initial_responsibilities(X, 2, "ward-svd", np.ones(4), np.random.default_rng(0))
    array([[1., 0.],
           [1., 0.],
           [0., 1.],
           [0., 1.]])
    """
    if method == "random":
        resp = rng.uniform(size=(len(X), n_components))
        return resp / resp.sum(axis=1, keepdims=True)
    if method == "random_from_data":
        centers = X[_weighted_choice(weights, n_components, rng)]
        return one_hot(_squared_distances(X, centers).argmin(axis=1), n_components)
    if method == "k-means++":
        centers = kmeans_plusplus(X, n_components, weights, rng)
        return one_hot(_squared_distances(X, centers).argmin(axis=1), n_components)
    if method.startswith("ward-"):
        labels = ward_labels(X, n_components, weights, rng, scaling=method[len("ward-") :])
        return one_hot(labels, n_components)
    Xs, ws = subsample(X, weights, rng, KMEANS_MAX_ROWS)
    centers = kmeans(Xs, kmeans_plusplus(Xs, n_components, ws, rng), ws)
    return one_hot(_squared_distances(X, centers).argmin(axis=1), n_components)
