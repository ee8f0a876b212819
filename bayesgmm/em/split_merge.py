"""Split-and-merge moves: new starts made from the best optimum the starts found.

A local optimum of a mixture often has two components sharing one cluster while another
component covers two clusters. Restarting EM from anywhere else rarely fixes that; moving
one component does. Split-and-merge EM (Ueda, Nakano, Ghahramani & Hinton 2000) makes
new starts from the best fit: merge two components whose responsibilities overlap most
(the cosine of their responsibility vectors, Ueda's merge criterion), and split one
component (the merged one included) in two, so that K stays K. Here each move is a
partition of the rows: the best fit's hard labels, with the pair merged and the split
component's rows divided by 2-means. Its parameters come from one M-step, as every
start's do. A round's moves run :data:`MOVE_BURST` iterations together; the
:data:`MOVE_KEEP` best of them, those not degenerate by then first, go on to convergence
(:func:`bayesgmm.em.batch.run_stack`'s ``screen``).

Ueda et al. rank the split candidates by a local Kullback-Leibler divergence; every
component is tried here instead (K - 1 splits per merged pair), for the
:data:`MERGE_PAIRS` most overlapping pairs. :func:`bayesgmm.em.starts.run_starts`
repeats the moves from each better optimum, at most :data:`ROUNDS` times.
"""

from __future__ import annotations

import numpy as np

from .init import kmeans, kmeans_plusplus, nearest
from .pool import canonical_labels

__all__ = [
    "MERGE_PAIRS",
    "MOVE_BURST",
    "MOVE_KEEP",
    "ROUNDS",
    "merge_candidates",
    "split_merge_partitions",
]

#: The most overlapping pairs of components whose merge is tried.
MERGE_PAIRS = 4
#: Rounds of moves at most (each from the best optimum of the round before).
ROUNDS = 5
#: A round's moves all run this many iterations; then the MOVE_KEEP best still running
#: go on to convergence (the others stop: a move starts next to an optimum, and where
#: it is heading shows early).
MOVE_BURST = 20
MOVE_KEEP = 4


def merge_candidates(resp: np.ndarray, weights: np.ndarray, count: int) -> list[tuple[int, int]]:
    """The ``count`` pairs (i < j) of components whose responsibilities overlap most.

    Overlap is the cosine between the weighted responsibility columns (Ueda et al.'s
    merge criterion), ties broken by the pair's order.

    Examples
    --------
    >>> resp = np.array([[1.0, 0, 0], [0.5, 0.5, 0], [0, 0.5, 0.5], [0, 0, 1]])
    >>> merge_candidates(resp, np.ones(4), 2)
    [(0, 1), (1, 2)]
    """
    weighted = resp * np.sqrt(weights)[:, None]
    gram = weighted.T @ weighted
    norms = np.sqrt(np.diag(gram))
    i, j = np.triu_indices(resp.shape[1], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        overlap = np.where(norms[i] * norms[j] > 0, gram[i, j] / (norms[i] * norms[j]), 0.0)
    order = np.argsort(-overlap, kind="stable")[:count]
    return [(int(i[o]), int(j[o])) for o in order]


def split_merge_partitions(
    space: np.ndarray,
    weights: np.ndarray,
    resp: np.ndarray,
    rng: np.random.Generator,
    pairs: int = MERGE_PAIRS,
) -> list[np.ndarray]:
    """Partitions into K clusters, each one merge and one split away from ``resp``'s.

    Parameters
    ----------
    space : ndarray of shape (N, D)
        The rows as 2-means sees them (scaled as the pool's k-means starts).
    weights : ndarray of shape (N,)
    resp : ndarray of shape (N, K)
        The best fit's responsibilities; their argmax are its labels.
    rng : numpy Generator
        The 2-means seeds.
    pairs : int
        How many of the most overlapping pairs are merged (:func:`merge_candidates`).

    Returns
    -------
    list of ndarray of shape (N,)
        Labels 0..K-1, every cluster non-empty; distinct, and none equal to the fit's
        own partition.
    """
    n_components = resp.shape[1]
    if n_components < 2:
        return []
    labels = resp.argmax(axis=1)
    seen = {canonical_labels(labels)}
    made = []
    for keep, gone in merge_candidates(resp, weights, pairs):
        merged = np.where(labels == gone, keep, labels)
        for target in np.flatnonzero(np.bincount(merged, minlength=n_components)):
            rows = np.flatnonzero((merged == target) & (weights > 0))
            if len(rows) < 2 or not (space[rows[1:]] != space[rows[0]]).any():
                continue  # fewer than two distinct rows: nothing to split
            seeds = kmeans_plusplus(space[rows], 2, weights[rows], rng)
            centers = kmeans(space[rows], seeds, weights[rows])
            half = rows[nearest(space[rows], centers) == 1]
            if len(half) in (0, len(rows)):
                continue
            split = merged.copy()
            split[half] = gone  # the freed label
            key = canonical_labels(split)
            if np.bincount(split, minlength=n_components).all() and key not in seen:
                seen.add(key)
                made.append(split)
    return made
