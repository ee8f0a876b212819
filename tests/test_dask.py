"""Dask: fits on chunked data equal the in-memory fit, on the local scheduler and on a
``dask.distributed`` cluster of worker processes, with the chunk sums added by a tree and
the data sent to the workers once."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bayesgmm import GaussianMixture
from bayesgmm.em.blocks import SPLIT_EVERY, chunk_sums

da = pytest.importorskip("dask.array")


def _data(n_samples, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (3, n_features))
    labels = rng.integers(3, size=n_samples)
    return rng.normal(size=(n_samples, n_features)) + centers[labels]


def _fit(X, **options):
    start = np.asarray(X[[5, 500, 1500]])
    model = GaussianMixture(
        3, n_init=1, tol=0.0, max_iter=8, means_init=start, weights_init=np.full(3, 1 / 3),
        precisions_init=np.repeat(np.eye(X.shape[1])[None], 3, axis=0), **options,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return model.fit(X)


def test_chunk_sums_are_a_tree_of_bounded_fan_in():
    """64 chunks: no node of the reduction adds more than SPLIT_EVERY parts."""
    from dask.core import get_dependencies

    X = da.ones((6400, 2), chunks=(100, 2))
    total = chunk_sums(lambda rows, w: w @ rows, X, da.ones(6400, chunks=100))
    graph = dict(total.__dask_graph__())
    fan_in = max(len(get_dependencies(graph, key)) for key in graph)
    assert fan_in <= SPLIT_EVERY < X.numblocks[0]
    np.testing.assert_array_equal(total.compute(), [6400.0, 6400.0])


@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_dask_fit_equals_numpy(weighted):
    """Row weights reach every chunk (a path that validated them and then dropped them
    passed the old suite)."""
    X = _data(4000)
    row_weights = np.random.default_rng(3).uniform(0, 3, len(X)) if weighted else None
    numpy_fit = _fit(X).fit(X, sample_weight=row_weights)
    chunked = _fit(da.from_array(X, chunks=(900, 3))).fit(
        da.from_array(X, chunks=(900, 3)), sample_weight=row_weights
    )
    assert chunked.lower_bound_ == pytest.approx(numpy_fit.lower_bound_, rel=1e-12)
    np.testing.assert_allclose(chunked.weights_, numpy_fit.weights_, rtol=1e-10)
    np.testing.assert_allclose(chunked.covariances_, numpy_fit.covariances_, rtol=1e-10)


def _generated(n_chunks, rows, n_features, seed=4):
    """A dask array whose chunks are made on the workers (small graph, as data read from
    files would be), and the same rows in memory."""

    def chunk(block_info=None):
        index = block_info[None]["chunk-location"][0]
        return _data(rows, n_features, seed=seed + index)

    lazy = da.map_blocks(
        chunk,
        chunks=((rows,) * n_chunks, (n_features,)),
        dtype=np.float64,
        meta=np.empty((0, n_features)),
    )
    return lazy, np.concatenate([_data(rows, n_features, seed=seed + i) for i in range(n_chunks)])


def test_local_cluster_with_worker_processes():
    """Fit on a LocalCluster of two worker processes: the numpy answer, and no pass sends a
    large graph (each carries only the parameters; the data stay on the workers)."""
    distributed = pytest.importorskip("distributed")
    lazy, X = _generated(6, 25_000, 10)
    numpy_fit = _fit(X)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        chunked = _fit(lazy)
    large = [w for w in caught if "large graph" in str(w.message).lower()]
    assert not large, [str(w.message) for w in large]
    assert chunked.lower_bound_ == pytest.approx(numpy_fit.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(chunked.means_, numpy_fit.means_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(chunked.covariances_, numpy_fit.covariances_, rtol=1e-9)


def test_per_row_results_of_dask_data_are_lazy_and_equal_numpy():
    """Dask in, dask out: chunked like the input rows, the numpy values once computed;
    criteria reduce lazily to the same numbers."""
    X = _data(3000)
    fit = _fit(X).result_
    lazy = da.from_array(X, chunks=(700, 3))
    for method in ("log_prob", "predict", "responsibilities"):
        out = getattr(fit, method)(lazy)
        assert out.chunks is not None and out.chunks[0] == lazy.chunks[0], method
        np.testing.assert_allclose(out.compute().values, getattr(fit, method)(X).values)
    for criterion in ("bic", "aic", "icl", "log_likelihood"):
        assert getattr(fit, criterion)(lazy) == pytest.approx(getattr(fit, criterion)(X), rel=1e-12)


def test_bayesian_responsibilities_with_bounds_of_dask_data():
    from bayes_fakes import fake_posterior_result

    X = _data(600, n_features=2)
    result = fake_posterior_result([0.5, 0.5], [[0, 0], [3, 3]], np.stack([np.eye(2)] * 2), X)
    lazy = result.responsibilities(da.from_array(X, chunks=(250, 2)))
    eager = result.responsibilities(X)
    assert set(lazy.data_vars) == {"mean", "lower", "upper"}
    assert lazy["mean"].chunks[0] == (250, 250, 100)
    for name in ("mean", "lower", "upper"):
        np.testing.assert_allclose(lazy[name].compute().values, eager[name].values)
    np.testing.assert_allclose(
        result.log_prob(da.from_array(X, chunks=250)).values, result.log_prob(X).values
    )


def test_estimator_predictions_of_dask_data_are_dask_arrays():
    """predict, predict_proba and score_samples: dask in, dask out (chunked like the rows),
    numpy's values; score and bic reduce lazily to numpy's numbers."""
    X = _data(2500)
    model = _fit(X)
    lazy = da.from_array(X, chunks=(600, 3))
    for method in ("predict", "predict_proba", "score_samples"):
        out = getattr(model, method)(lazy)
        assert isinstance(out, da.Array) and out.chunks[0] == lazy.chunks[0], method
        np.testing.assert_allclose(out.compute(), getattr(model, method)(X))
    assert model.score(lazy) == pytest.approx(model.score(X), rel=1e-12)
    assert model.bic(lazy) == pytest.approx(model.bic(X), rel=1e-12)
