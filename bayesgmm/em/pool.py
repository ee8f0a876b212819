"""The default starting partitions of every K on one data set, shared by every model.

mclust starts every model and every K from one hierarchical tree of the data, cut at
K. The pool does the same and adds partitions of other kinds, because one tree misses
optima that other starts find (on stretched data, on features of very different scales):

``vvv-tree``
    the model-based tree of :mod:`bayesgmm.em.model_tree` (an unconstrained Gaussian
    criterion in mclust's ``hcUse = "SVD"`` scaling, as mclust's own start), cut at
    every K;
``ward-svd``, ``ward-std``
    Ward's tree of the SVD-whitened rows (mclust's ``hcUse="SVD"``) and of the
    standardised rows, each built once and cut at every K;
``kmeans``, ``kmeans-svd``, ``kmeans-std``
    Lloyd's k-means from greedy k-means++ seeds on the rows as they are, whitened and
    standardised;
``random``
    the nearest of K rows drawn at random, in the whitened rows.

A partition identical to one already in the pool (the same rows together, whatever the
component numbers) is dropped: it would run the same EM twice. When no kind gives K
non-empty clusters (all rows identical), the rows are dealt round-robin (``split``).
Each K draws from its own random stream (the pool's seed and K), so the partitions of a
K do not depend on which other K or models are fitted: ``select`` and a single fit start
from the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .init import (
    KMEANS_MAX_ROWS,
    cut_tree_at,
    kmeans,
    kmeans_plusplus,
    nearest,
    subsample,
    ward_tree,
    whiten,
)
from .model_tree import cut_model_tree, model_tree

__all__ = ["StartPool", "POOL_KINDS", "canonical_labels"]

#: The kinds of partition, in the order the pool lists them, and how many of each a
#: full pool has (the trees give one each).
POOL_KINDS = {
    "vvv-tree": 1,
    "ward-svd": 1,
    "ward-std": 1,
    "kmeans": 6,
    "kmeans-svd": 6,
    "kmeans-std": 6,
    "random": 6,
}


def canonical_labels(labels: np.ndarray) -> bytes:
    """A key equal for two labellings exactly when they group the same rows together.

    Examples
    --------
    >>> canonical_labels(np.array([2, 2, 0])) == canonical_labels(np.array([1, 1, 0]))
    True
    """
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # components numbered by first appearance
    return order[inverse].astype(np.int32).tobytes()


@dataclass
class StartPool:
    """Starting partitions of one data set (rows ``X``, shifted, with ``weights``).

    Parameters
    ----------
    X : ndarray of shape (N, D)
    weights : ndarray of shape (N,)
    seed : int
        The pool's random streams: K's is ``numpy.random.default_rng([seed, K])``.
    """

    X: np.ndarray
    weights: np.ndarray
    seed: int
    _spaces: dict = field(default_factory=dict, repr=False)
    _trees: dict = field(default_factory=dict, repr=False)
    _partitions: dict = field(default_factory=dict, repr=False)

    def space(self, kind: str) -> np.ndarray:
        """The rows as k-means sees them: as they are, whitened or standardised."""
        scaling = kind.partition("-")[2]
        if scaling not in self._spaces:
            self._spaces[scaling] = self.X if not scaling else whiten(self.X, self.weights, scaling)
        return self._spaces[scaling]

    def tree(self, scaling: str) -> tuple:
        """Ward's tree of the rows in one scaling, built once."""
        if scaling not in self._trees:
            rng = np.random.default_rng([self.seed, 0])
            self._trees[scaling] = ward_tree(self.X, self.weights, rng, scaling)
        return self._trees[scaling]

    def vvv_tree(self) -> tuple:
        """The model-based tree of the rows, built once."""
        if "vvv" not in self._trees:
            rng = np.random.default_rng([self.seed, 0])
            self._trees["vvv"] = model_tree(self.X, self.weights, rng)
        return self._trees["vvv"]

    def partitions(self, n_components: int, counts: dict[str, int]) -> list[tuple[str, np.ndarray]]:
        """Distinct partitions into ``n_components`` non-empty clusters, as (kind, labels).

        ``counts`` gives how many partitions of each kind of :data:`POOL_KINDS` to
        try making (duplicates and partitions with an empty cluster are dropped).
        """
        key = (n_components, tuple(sorted(counts.items())))
        if key not in self._partitions:
            self._partitions[key] = self._make(n_components, counts)
        return self._partitions[key]

    def _make(self, n_components: int, counts: dict[str, int]) -> list[tuple[str, np.ndarray]]:
        rng = np.random.default_rng([self.seed, n_components])
        seen: set[bytes] = set()
        found = []
        for kind in POOL_KINDS:
            for _ in range(counts.get(kind, 0)):
                labels = self._labels(kind, n_components, rng)
                if len(np.unique(labels)) < n_components:
                    continue
                key = canonical_labels(labels)
                if key not in seen:
                    seen.add(key)
                    found.append((kind, labels))
            if n_components == 1 and found:
                break
        if not found:  # rows too few or too alike for K clusters (all rows identical)
            found.append(("split", np.arange(len(self.X)) % n_components))
        return found

    def _labels(self, kind: str, n_components: int, rng: np.random.Generator) -> np.ndarray:
        if kind == "vvv-tree":
            return cut_model_tree(self.vvv_tree(), n_components)
        if kind.startswith("ward-"):
            return cut_tree_at(self.tree(kind.partition("-")[2]), n_components)
        space = self.space(kind if kind.startswith("kmeans") else "random-svd")
        if kind == "random":
            centers = space[rng.choice(len(space), n_components, replace=False, p=self._p)]
            return nearest(space, centers)
        rows, row_weights = subsample(space, self.weights, rng, KMEANS_MAX_ROWS)
        centers = kmeans(rows, kmeans_plusplus(rows, n_components, row_weights, rng), row_weights)
        return nearest(space, centers)

    @property
    def _p(self) -> np.ndarray:
        return self.weights / self.weights.sum()
