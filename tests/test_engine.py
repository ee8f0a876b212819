"""The EM engine's hot path: fused block kernels, threads, dask chunks, precision.

Checked against scikit-learn on the same start (log-likelihood to 1e-10 relative),
against statistics computed directly from responsibilities, and against itself
under changes that must not change the answer (offset data, threads, dask chunks,
blocks, float32).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import linalg
from threadpoolctl import threadpool_limits

from bayesgmm import GaussianMixture, _blocks, gaussian
from bayesgmm.covariance import get_covariance_type
from bayesgmm.em.estimator import MixtureParameters, _collect, _maximise, block_statistics

TYPES = ["full", "tied", "diag", "spherical"]


def _data(n_samples=3000, n_features=3, n_components=3, seed=0, standardise=True):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (n_components, n_features))
    labels = rng.integers(n_components, size=n_samples)
    mix = rng.normal(size=(n_components, n_features, n_features)) + 2 * np.eye(n_features)
    X = np.einsum("nd,nde->ne", rng.normal(size=(n_samples, n_features)), mix[labels])
    X += centers[labels]
    if standardise:  # ddof=0: our reg_covar is relative to this variance
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X


def _start(X, n_components, covariance_type, seed=1):
    rng = np.random.default_rng(seed)
    n_features = X.shape[1]
    precisions = {
        "full": np.repeat(np.eye(n_features)[None], n_components, axis=0),
        "tied": np.eye(n_features),
        "diag": np.ones((n_components, n_features)),
        "spherical": np.ones(n_components),
    }[covariance_type]
    return {
        "weights_init": np.full(n_components, 1.0 / n_components),
        "means_init": X[rng.choice(len(X), n_components, replace=False)],
        "precisions_init": precisions,
    }


def _fit(cls, X, covariance_type, n_iter=25, reg_covar=1e-6, n_components=3, **init):
    model = cls(
        n_components,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=n_iter,
        reg_covar=reg_covar,
        n_init=1,
        **init,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("reg_covar", [1e-6, 0.0])
def test_same_log_likelihood_as_sklearn(covariance_type, reg_covar):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    # reg_covar=0 needs no standardisation: both add nothing to the variances
    X = _data(standardise=reg_covar > 0)
    init = _start(X, 3, covariance_type)
    ours = _fit(GaussianMixture, X, covariance_type, reg_covar=reg_covar, **init)
    theirs = _fit(SkGaussianMixture, X, covariance_type, reg_covar=reg_covar, **init)
    expected = theirs.score(X)
    assert ours.score(X) == pytest.approx(expected, rel=1e-10)
    assert ours.lower_bound_ == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_block_statistics_match_responsibilities(covariance_type):
    """The fused kernel against statistics formed directly from gaussian.py's E-step."""
    kind = get_covariance_type(covariance_type)
    rng = np.random.default_rng(3)
    X = _data(n_samples=500, seed=3) + 5.0
    weights = rng.integers(0, 4, size=len(X)).astype(float)
    shift = np.average(X, axis=0, weights=weights)
    means = X[:3] - shift
    covariances = {
        "full": np.stack([np.eye(3) * s + 0.3 for s in (0.5, 1.0, 2.0)]),
        "tied": np.eye(3) + 0.2,
        "diag": rng.uniform(0.5, 2, (3, 3)),
        "spherical": np.array([0.5, 1.0, 2.0]),
    }[covariance_type]
    log_weights = np.log([0.2, 0.3, 0.5])
    prec_chol = kind.precision_cholesky(covariances, np.exp(log_weights))
    params = MixtureParameters(np.exp(log_weights), means, covariances, prec_chol)

    stats = block_statistics(X, weights, shift, params, kind)

    Xs = X - shift
    weighted = kind.log_density(Xs, means, prec_chol) + log_weights
    log_prob, log_resp = gaussian.log_mixture_density(weighted)
    resp = np.exp(log_resp) * weights[:, None]
    assert stats.log_likelihood == pytest.approx(weights @ log_prob, rel=1e-12)
    assert stats.total_weight == pytest.approx(weights.sum(), rel=1e-12)
    np.testing.assert_allclose(stats.nk, resp.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.sx, resp.T @ Xs, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(stats.second, kind.second_moment(Xs, resp), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_passes_do_not_depend_on_blocks_or_threads(covariance_type, monkeypatch):
    """Many small blocks on two threads, one block on one thread: the same statistics."""
    kind = get_covariance_type(covariance_type)
    X = _data(n_samples=4000, seed=4)
    weights = np.ones(len(X))
    shift = X.mean(axis=0)
    init = _start(X, 3, covariance_type)
    start = _fit(GaussianMixture, X, covariance_type, n_iter=2, **init)
    params = MixtureParameters(
        start.weights_, start.means_ - shift, start.covariances_, start.precisions_cholesky_
    )
    whole = block_statistics(X, weights, shift, params, kind)
    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(_blocks, "MIN_BLOCK_ROWS", 64)
    assert len(_blocks.row_blocks(len(X), 10)) > 10
    with threadpool_limits(2):
        blocked = _collect(X, weights, shift, params, kind)
    with threadpool_limits(1):
        single = _collect(X, weights, shift, params, kind)
    for stats in (blocked, single):
        assert stats.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-12)
        np.testing.assert_allclose(stats.nk, whole.nk, rtol=1e-12)
        np.testing.assert_allclose(stats.sx, whole.sx, rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(stats.second, whole.second, rtol=1e-12)
    assert blocked.log_likelihood == single.log_likelihood  # same blocks, same order


@pytest.mark.parametrize("covariance_type", TYPES)
def test_offset_data_give_the_same_fit(covariance_type):
    X = _data(n_samples=2000, seed=5)
    init = _start(X, 3, covariance_type)
    centred = _fit(GaussianMixture, X, covariance_type, n_iter=15, **init)
    offset = 1e6
    init_offset = {**init, "means_init": init["means_init"] + offset}
    shifted = _fit(GaussianMixture, X + offset, covariance_type, n_iter=15, **init_offset)
    # X + 1e6 itself is rounded to 1.2e-10: agreement to that rounding, not to 1e-16
    assert shifted.lower_bound_ == pytest.approx(centred.lower_bound_, rel=1e-8)
    np.testing.assert_allclose(shifted.means_ - offset, centred.means_, atol=1e-7)
    np.testing.assert_allclose(shifted.covariances_, centred.covariances_, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_dask_input_gives_the_numpy_answer(covariance_type):
    da = pytest.importorskip("dask.array")
    X = _data(n_samples=3000, seed=6)
    init = _start(X, 3, covariance_type)
    in_memory = _fit(GaussianMixture, X, covariance_type, n_iter=10, **init)
    chunked = _fit(
        GaussianMixture, da.from_array(X, chunks=(700, 3)), covariance_type, n_iter=10, **init
    )
    assert chunked.lower_bound_ == pytest.approx(in_memory.lower_bound_, rel=1e-12)
    np.testing.assert_allclose(chunked.means_, in_memory.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(chunked.covariances_, in_memory.covariances_, rtol=1e-10)


def test_dask_offset_chunks_combine_stably():
    da = pytest.importorskip("dask.array")
    X = _data(n_samples=3000, seed=7)
    init = _start(X, 3, "full")
    offset = 1e6
    init_offset = {**init, "means_init": init["means_init"] + offset}
    centred = _fit(GaussianMixture, X, "full", n_iter=10, **init)
    chunked = _fit(
        GaussianMixture,
        da.from_array(X + offset, chunks=(500, 3)),
        "full",
        n_iter=10,
        **init_offset,
    )
    assert chunked.lower_bound_ == pytest.approx(centred.lower_bound_, rel=1e-8)
    np.testing.assert_allclose(chunked.covariances_, centred.covariances_, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_float32_within_1e6_of_float64(covariance_type):
    X = _data(n_samples=5000, n_features=4, seed=8)
    init = _start(X, 3, covariance_type)
    double = _fit(GaussianMixture, X, covariance_type, n_iter=30, **init)
    single = _fit(GaussianMixture, X.astype(np.float32), covariance_type, n_iter=30, **init)
    assert single.lower_bound_ == pytest.approx(double.lower_bound_, rel=1e-6)
    assert single.means_.dtype == np.float64  # statistics and parameters stay float64


def test_dtype_parameter_sets_the_working_precision():
    """dtype="float32" fits float64 data as float32 data; "float64" the reverse."""
    X = _data(n_samples=3000, n_features=3, seed=9)
    init = _start(X, 3, "full")
    as_float32 = _fit(GaussianMixture, X.astype(np.float32), "full", n_iter=10, **init)
    asked = _fit(GaussianMixture, X, "full", n_iter=10, dtype="float32", **init)
    np.testing.assert_array_equal(asked.lower_bounds_, as_float32.lower_bounds_)
    double = _fit(GaussianMixture, X, "full", n_iter=10, **init)
    back = _fit(GaussianMixture, X.astype(np.float32), "full", n_iter=10, dtype=np.float64, **init)
    exact = _fit(
        GaussianMixture, X.astype(np.float32).astype(np.float64), "full", n_iter=10, **init
    )
    np.testing.assert_array_equal(back.lower_bounds_, exact.lower_bounds_)
    assert asked.lower_bound_ == pytest.approx(double.lower_bound_, rel=1e-6)
    assert asked.lower_bound_ != double.lower_bound_
    for bad in ("float16", "double precision", 3):
        with pytest.raises((ValueError, TypeError), match="'dtype' parameter"):
            GaussianMixture(2, dtype=bad).fit(X)


def test_integer_weights_equal_repeated_rows():
    X = _data(n_samples=600, seed=9)
    counts = np.random.default_rng(9).integers(0, 4, size=len(X))
    init = _start(X, 3, "full")
    repeated = _fit(GaussianMixture, np.repeat(X, counts, axis=0), "full", n_iter=10, **init)
    model = GaussianMixture(3, tol=0.0, max_iter=10, n_init=1, **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = model.fit(X, sample_weight=counts)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("batch", [(3,), (7, 11)])  # below and above the trtri loop size
def test_precision_cholesky_batches(batch):
    rng = np.random.default_rng(10)
    A = rng.normal(size=(*batch, 4, 4))
    covariances = A @ np.swapaxes(A, -1, -2) + np.eye(4)
    prec_chol = gaussian.precision_cholesky_full(covariances)
    for index in np.ndindex(*batch):
        expected = linalg.solve_triangular(
            np.linalg.cholesky(covariances[index]), np.eye(4), lower=True
        ).T
        np.testing.assert_allclose(prec_chol[index], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        gaussian.covariance_from_precision_cholesky(prec_chol), covariances, rtol=1e-10
    )


def test_tied_data_moment_is_forgotten_when_a_fit_starts():
    """An array changed in place between fits must not be served a stale S."""
    X = _data(n_samples=1000, seed=11)
    init = _start(X, 2, "tied")
    first = _fit(GaussianMixture, X, "tied", n_iter=5, n_components=2, **init)
    X *= 2.0
    init = {**init, "means_init": init["means_init"] * 2.0, "precisions_init": np.eye(3) / 4}
    second = _fit(GaussianMixture, X, "tied", n_iter=5, n_components=2, **init)
    np.testing.assert_allclose(second.covariances_, 4 * first.covariances_, rtol=1e-8)


def test_maximise_matches_closed_form_for_one_component():
    X = _data(n_samples=400, seed=12)
    kind = get_covariance_type("full")
    shift = X.mean(axis=0)
    params = MixtureParameters(np.ones(1), np.zeros((1, 3)), np.eye(3)[None], np.eye(3)[None])
    stats = block_statistics(X, np.ones(len(X)), shift, params, kind)
    fitted = _maximise(stats, kind, np.zeros(3))
    np.testing.assert_allclose(fitted.covariances[0], np.cov(X.T, ddof=0), rtol=1e-10)
    np.testing.assert_allclose(fitted.means[0], 0.0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacked_kernel_for_many_features_matches_feature_kernel(dtype, monkeypatch):
    """Full covariances with D above STACKED_FEATURES take the stacked-factor path."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    n_features = _blocks.STACKED_FEATURES + 6
    X = _data(n_samples=1500, n_features=n_features, seed=13).astype(dtype)
    init = _start(X.astype(np.float64), 3, "full")
    stacked = _fit(GaussianMixture, X, "full", n_iter=8, **init)
    monkeypatch.setattr(_blocks, "STACKED_FEATURES", 10_000)
    features = _fit(GaussianMixture, X, "full", n_iter=8, **init)
    rel = 1e-10 if dtype == np.float64 else 1e-6
    assert stacked.lower_bound_ == pytest.approx(features.lower_bound_, rel=rel)
    if dtype == np.float64:
        theirs = _fit(SkGaussianMixture, X, "full", n_iter=8, **init)
        assert stacked.score(X) == pytest.approx(theirs.score(X), rel=1e-10)
        np.testing.assert_allclose(stacked.covariances_, theirs.covariances_, rtol=1e-7, atol=1e-9)
