"""Dask input gives the numpy answer: with sample weights, in float32, beyond 100k rows.

Issue 14.11: a dask path that validated ``sample_weight`` and then ignored it passed the
whole suite, because no test fitted dask data with weights. Each test here compares a
dask fit with the in-memory fit of the same rows, from the same start and for the same
iterations (``tol=0``), so any weight, chunk or dtype that the dask path drops changes
the answer.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from rounding_bounds import rounding_bounds
from sklearn.metrics import adjusted_rand_score

from bayesgmm import GaussianMixture
from bayesgmm.datasets import make_mixture

da = pytest.importorskip("dask.array")

TYPES = ["full", "tied", "diag", "spherical"]
N_COMPONENTS = 3


def _start(X, covariance_type):
    """Initial values shaped for the type: the data's precision, three rows as means."""
    rng = np.random.default_rng(0)
    precision = np.linalg.inv(np.cov(X.T, bias=True))
    precisions = {
        "full": np.stack([precision] * N_COMPONENTS),
        "tied": precision,
        "diag": np.tile(np.diag(precision), (N_COMPONENTS, 1)),
        "spherical": np.full(N_COMPONENTS, np.diag(precision).mean()),
    }[covariance_type]
    return {
        "weights_init": np.full(N_COMPONENTS, 1 / N_COMPONENTS),
        "means_init": np.asarray(X[rng.choice(len(X), N_COMPONENTS, replace=False)], float),
        "precisions_init": precisions,
    }


def _fit(X, covariance_type, n_iter=8, sample_weight=None, **options):
    model = GaussianMixture(
        N_COMPONENTS, covariance_type=covariance_type, tol=0.0, max_iter=n_iter,
        **_start(np.asarray(X, dtype=np.float64), covariance_type), **options,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0 never converges
        return model.fit(X, sample_weight=sample_weight)


def _assert_same_fit(chunked, in_memory, rtol):
    assert chunked.n_iter_ == in_memory.n_iter_
    np.testing.assert_allclose(chunked.lower_bounds_, in_memory.lower_bounds_, rtol=rtol)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(
            getattr(chunked, name), getattr(in_memory, name), rtol=100 * rtol, atol=1e-12
        )


@pytest.fixture(scope="module")
def data():
    X = make_mixture(3000, N_COMPONENTS, 3, separation=2.0, random_state=5).X
    weights = np.random.default_rng(5).uniform(0.0, 3.0, len(X))
    weights[::7] = 0.0  # dropped rows too
    return X, weights


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("weights_as", ["numpy", "dask"])
def test_dask_fit_with_weights_is_the_weighted_numpy_fit(data, covariance_type, weights_as):
    X, weights = data
    chunked_weights = da.from_array(weights, chunks=700) if weights_as == "dask" else weights
    in_memory = _fit(X, covariance_type, sample_weight=weights)
    chunked = _fit(da.from_array(X, chunks=(700, 3)), covariance_type,
                   sample_weight=chunked_weights)  # fmt: skip
    # float64 sums in another order: rounding, far below 1e-10
    _assert_same_fit(chunked, in_memory, rtol=1e-10)
    unweighted = _fit(X, covariance_type)
    assert abs(unweighted.lower_bound_ - chunked.lower_bound_) > 1e-3  # weights mattered


@pytest.mark.parametrize("covariance_type", TYPES)
def test_dask_float32_fit_is_the_numpy_float32_fit(data, covariance_type):
    """Both E-steps round in float32, in different orders: each is within the float32
    bound of the float64 fit of the same values (tests/rounding_bounds.py), so they are
    within twice that of each other."""
    X, weights = data
    X32 = X.astype(np.float32)
    runs = dict(covariance_type=covariance_type, n_iter=60, sample_weight=weights)
    double = _fit(X32.astype(np.float64), **runs)  # long enough for EM's asymptotic rate
    in_memory = _fit(X32, **runs)
    chunked = _fit(da.from_array(X32, chunks=(700, 3)), **runs)
    for model in (in_memory, chunked):
        assert model.means_.dtype == model.covariances_.dtype == np.float32
    bounds = rounding_bounds(X32.astype(np.float64), double, sample_weight=weights)
    for name, bound in (("weights_", bounds["weights_"]), ("means_", bounds["means_"])):
        difference = np.abs(getattr(chunked, name) - getattr(in_memory, name))
        assert (difference <= 2 * bound).all(), (name, difference.max(), bound.max())
    full = [model.result_.covariances.values for model in (chunked, in_memory)]
    assert (np.abs(full[0] - full[1]) <= 2 * bounds["covariances"]).all()
    assert abs(chunked.lower_bound_ - in_memory.lower_bound_) <= 2 * bounds["lower_bound_"]


@pytest.fixture(scope="module")
def large():
    """More than 100k rows: the dask path loads a sample of rows for its starts."""
    X = make_mixture(120_000, N_COMPONENTS, 2, separation=4.0, random_state=6).X
    weights = np.random.default_rng(6).integers(0, 3, len(X)).astype(float)
    return X, weights


def test_dask_fit_of_more_than_100k_rows_is_the_numpy_fit(large):
    X, weights = large
    in_memory = _fit(X, "full", n_iter=5, sample_weight=weights)
    chunked = _fit(da.from_array(X, chunks=(25_000, 2)), "full", n_iter=5,
                   sample_weight=da.from_array(weights, chunks=25_000))  # fmt: skip
    _assert_same_fit(chunked, in_memory, rtol=1e-10)


def test_default_dask_fit_of_more_than_100k_rows_reaches_the_numpy_optimum(large):
    """With the default starts the dask fit starts from a sample of rows, the numpy fit
    from all of them: both converge (remaining gain below tol per observation) to the
    same optimum, so their log-likelihoods differ by less than twice tol."""
    X, weights = large
    in_memory = GaussianMixture(N_COMPONENTS, random_state=0).fit(X, sample_weight=weights)
    chunked = GaussianMixture(N_COMPONENTS, random_state=0).fit(
        da.from_array(X, chunks=(25_000, 2)), sample_weight=da.from_array(weights, chunks=25_000)
    )
    assert chunked.converged_ and in_memory.converged_
    assert abs(chunked.lower_bound_ - in_memory.lower_bound_) < 2 * in_memory.tol
    labels = [model.predict(X[:5000]) for model in (chunked, in_memory)]
    assert adjusted_rand_score(*labels) > 0.99  # the same partition, up to label order
