"""The model-based tree of the default starts (bayesgmm.em.model_tree)."""

from __future__ import annotations

import numpy as np
import pytest

from bayesgmm.em.model_tree import cut_model_tree, mclust_svd, model_tree, tree_rows


def _cost(weight: float, scatter: np.ndarray, ridge: float) -> float:
    """The criterion of the module docstring, written with numpy's slogdet."""
    n_features = scatter.shape[0]
    trace = np.trace(scatter)
    if weight <= n_features + 1:
        return weight * n_features * np.log((trace + ridge) / (weight * n_features))
    matrix = (scatter + (trace + ridge) * np.eye(n_features)) / (weight * n_features)
    return weight * np.linalg.slogdet(matrix)[1]


def _brute_force_merges(Z: np.ndarray, weights: np.ndarray) -> list[tuple[int, int]]:
    """Every pair's change recomputed from the clusters' rows at every step."""
    centred = Z - weights @ Z / weights.sum()
    ridge = (weights @ centred**2).sum() / (weights.sum() * Z.shape[1])
    clusters = {i: [i] for i in range(len(Z))}

    def cost(rows: list[int]) -> float:
        w = weights[rows]
        mean = w @ Z[rows] / w.sum()
        scatter = (Z[rows] - mean).T @ ((Z[rows] - mean) * w[:, None])
        return _cost(w.sum(), scatter, ridge)

    merges = []
    while len(clusters) > 1:
        names = sorted(clusters)
        changes = {
            (a, b): cost(clusters[a] + clusters[b]) - cost(clusters[a]) - cost(clusters[b])
            for i, a in enumerate(names)
            for b in names[i + 1 :]
        }
        a, b = min(changes, key=changes.get)
        merges.append((a, b))
        clusters[a] += clusters.pop(b)
    return merges


@pytest.mark.parametrize("n_features", [1, 2, 3])
def test_merges_follow_the_criterion(n_features):
    """The compiled agglomeration (Cholesky, cached changes, best partners) merges
    exactly as the criterion recomputed from scratch at every step."""
    rng = np.random.default_rng(n_features)
    X = np.concatenate(
        [rng.normal(size=(12, n_features)) * [3.0] + 5, rng.normal(size=(14, n_features))]
    )
    weights = rng.uniform(0.5, 2.0, len(X))
    Z, rows, merges = model_tree(X, weights, rng)
    assert len(rows) == len(X)
    assert [tuple(pair) for pair in merges] == _brute_force_merges(Z, weights)


def test_mclust_svd_scaling():
    """Standardised, rotated onto the principal axes, each axis divided by the square
    root of its singular value: uncorrelated columns whose variances are proportional
    to the singular values (a full whitening would make them equal)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)) @ np.array([[5.0, 0, 0], [2.0, 0.5, 0], [0.0, 0.3, 0.01]])
    X = X * [1.0, 100.0, 0.001] + 7.0
    Z = mclust_svd(X, np.ones(len(X)))
    standard = (X - X.mean(axis=0)) / X.std(axis=0)
    singular = np.linalg.svd(standard / np.sqrt(len(X)), compute_uv=False)
    covariance = Z.T @ Z / len(X)
    np.testing.assert_allclose(covariance, np.diag(singular), atol=1e-12 * singular[0])


def test_mclust_svd_frequency_weights_are_repeated_rows():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2)) @ [[1.0, 0.4], [0.0, 2.0]]
    counts = rng.integers(0, 4, len(X))
    weighted = mclust_svd(X, counts.astype(float))
    repeated = mclust_svd(np.repeat(X, counts, axis=0), np.ones(counts.sum()))
    np.testing.assert_allclose(
        np.abs(np.repeat(weighted, counts, axis=0)), np.abs(repeated), atol=1e-12
    )


def test_constant_features_are_dropped():
    X = np.column_stack([np.arange(6.0), np.full(6, 3.0)])
    assert mclust_svd(X, np.ones(6)).shape == (6, 1)
    assert mclust_svd(np.ones((5, 2)), np.ones(5)).shape == (5, 1)


def _adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)

    def pairs(x):
        return (x * (x - 1) / 2).sum()

    total = pairs(np.array([len(a)]))
    expected = pairs(table.sum(1)) * pairs(table.sum(0)) / total
    best = (pairs(table.sum(1)) + pairs(table.sum(0))) / 2
    return (pairs(table) - expected) / (best - expected)


def test_tree_keeps_a_thin_line_and_a_blob_apart():
    """A long thin cluster beside a round one, a clear gap between them: the cut at
    K = 2 is the two clusters (a criterion or cut that merged across the gap would
    not be)."""
    rng = np.random.default_rng(3)
    line = np.column_stack([rng.uniform(-10, 10, 200), rng.normal(0, 0.1, 200)])
    blob = rng.normal(0, 0.3, (100, 2)) + [0.0, 2.0]
    X = np.concatenate([line, blob])
    truth = np.repeat([0, 1], [200, 100])
    labels = cut_model_tree(model_tree(X, np.ones(len(X)), rng), 2)
    assert _adjusted_rand(truth, labels) == pytest.approx(1.0)


def test_large_data_build_on_a_sample_and_label_every_row():
    rng = np.random.default_rng(4)
    X = np.concatenate([rng.normal(size=(1500, 2)), rng.normal(size=(1500, 2)) + 8])
    weights = np.ones(len(X))
    weights[:10] = 0.0
    tree = model_tree(X, weights, rng)
    assert len(tree[1]) <= tree_rows(2) and set(tree[1]).isdisjoint(range(10))
    for k in (1, 2, 5):
        labels = cut_model_tree(tree, k)
        assert labels.shape == (3000,) and len(np.unique(labels)) == k
    truth = np.repeat([0, 1], 1500)
    assert _adjusted_rand(truth, cut_model_tree(tree, 2)) == pytest.approx(1.0)


def test_cut_gives_k_clusters_and_nests():
    """A cut at K has K clusters, and each cluster at K + 1 lies inside one at K."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 3))
    tree = model_tree(X, np.ones(60), rng)
    previous = None
    for k in range(1, 10):
        labels = cut_model_tree(tree, k)
        assert len(np.unique(labels)) == k
        if previous is not None:
            for cluster in np.unique(labels):
                assert len(np.unique(previous[labels == cluster])) == 1
        previous = labels
