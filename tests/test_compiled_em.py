"""Whole EM runs in compiled code (small data) against the block engine, start for start.

The block engine (:mod:`bayesgmm._blocks`, checked against scikit-learn and against
responsibilities in test_engine.py) is the reference: the same start must give the
same history, parameters, iteration count and errors to rounding, for every covariance
type, float64 and float32, with and without row weights.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bayesgmm import GaussianMixture
from bayesgmm.em import estimator as em
from bayesgmm.exceptions import CovarianceError

pytest.importorskip("bayesgmm._kernels")
compiled_em = pytest.importorskip("bayesgmm._compiled_em")

TYPES = ["full", "tied", "diag", "spherical"]


def _data(n_samples=1500, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (3, n_features))
    scales = rng.uniform(0.5, 2.0, (3, n_features))
    labels = rng.integers(3, size=n_samples)
    X = rng.normal(size=(n_samples, n_features)) * scales[labels] + centers[labels]
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _start(X, covariance_type, seed=1):
    rng = np.random.default_rng(seed)
    n_features = X.shape[1]
    precisions = {
        "full": np.repeat(np.eye(n_features)[None], 3, axis=0),
        "tied": np.eye(n_features),
        "diag": np.ones((3, n_features)),
        "spherical": np.ones(3),
    }[covariance_type]
    return {
        "weights_init": np.full(3, 1 / 3),
        "means_init": X[rng.choice(len(X), 3, replace=False)].astype(np.float64),
        "precisions_init": precisions,
    }


def _fit(X, covariance_type, compiled, monkeypatch, sample_weight=None, **options):
    options = {"tol": 0.0, "max_iter": 40, **options}
    monkeypatch.setattr(em, "COMPILED_RUNS", compiled)
    model = GaussianMixture(3, covariance_type=covariance_type, n_init=1, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, sample_weight=sample_weight)


def _assert_same_fit(left, right, rtol):
    np.testing.assert_allclose(left.lower_bounds_, right.lower_bounds_, rtol=rtol)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(
            getattr(left, name), getattr(right, name), rtol=1e3 * rtol, atol=1e3 * rtol
        )
    assert left.n_iter_ == right.n_iter_
    assert left.converged_ == right.converged_


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_run_equals_block_engine(covariance_type, weighted, monkeypatch):
    X = _data()
    init = _start(X, covariance_type)
    weights = np.random.default_rng(2).integers(0, 4, len(X)) if weighted else None
    compiled = _fit(X, covariance_type, True, monkeypatch, weights, **init)
    engine = _fit(X, covariance_type, False, monkeypatch, weights, **init)
    _assert_same_fit(compiled, engine, rtol=1e-12)
    assert compiled.means_.dtype == np.float64


@pytest.mark.parametrize("covariance_type", TYPES)
def test_compiled_float32_within_1e6_of_float64(covariance_type, monkeypatch):
    """float32 blocks: the lower bound within 1e-6 of float64's, as the engine's."""
    X = _data(n_samples=4000, seed=3)
    init = _start(X, covariance_type)
    double = _fit(X, covariance_type, True, monkeypatch, **init)
    single = _fit(X.astype(np.float32), covariance_type, True, monkeypatch, **init)
    engine = _fit(X.astype(np.float32), covariance_type, False, monkeypatch, **init)
    np.testing.assert_allclose(single.lower_bounds_, double.lower_bounds_, rtol=1e-6)
    np.testing.assert_allclose(engine.lower_bounds_, double.lower_bounds_, rtol=1e-6)
    np.testing.assert_allclose(single.means_, double.means_, atol=1e-4)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_same_stopping_point(covariance_type, monkeypatch):
    """The compiled loop runs the engine's stopping rule (one Python source)."""
    X = _data(seed=4)
    init = _start(X, covariance_type, seed=5)
    compiled = _fit(X, covariance_type, True, monkeypatch, tol=1e-8, max_iter=500, **init)
    engine = _fit(X, covariance_type, False, monkeypatch, tol=1e-8, max_iter=500, **init)
    assert compiled.converged_ and 2 < compiled.n_iter_ < 500
    _assert_same_fit(compiled, engine, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_offset_data(covariance_type, monkeypatch):
    """Data at 1e6 from the origin: the fit of the centred data, to X's own rounding."""
    X = _data(seed=6)
    init = _start(X, covariance_type)
    centred = _fit(X, covariance_type, True, monkeypatch, **init)
    shifted_init = {**init, "means_init": init["means_init"] + 1e6}
    shifted = _fit(X + 1e6, covariance_type, True, monkeypatch, **shifted_init)
    assert shifted.lower_bound_ == pytest.approx(centred.lower_bound_, rel=1e-8)
    np.testing.assert_allclose(shifted.means_ - 1e6, centred.means_, atol=1e-7)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_empty_component(covariance_type, dtype, monkeypatch):
    """A start with a component of weight 0: finite history, the engine's answer."""
    X = _data(n_samples=1000).astype(dtype)
    init = {**_start(X, covariance_type), "weights_init": np.array([0.5, 0.5, 0.0])}
    init["means_init"][2] = 50.0
    compiled = _fit(X, covariance_type, True, monkeypatch, max_iter=3, **init)
    engine = _fit(X, covariance_type, False, monkeypatch, max_iter=3, **init)
    assert np.isfinite(compiled.lower_bounds_).all()
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(compiled.lower_bounds_, engine.lower_bounds_, rtol=rtol)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_failed_factorisation_raises_the_engine_error(covariance_type):
    """A covariance that is not positive definite stops the run with the engine's
    CovarianceError naming the component (a negative variance floor forces it: a
    collapsed component's variance is 0 give or take rounding, which either engine may
    land on either side of)."""
    X = _data(n_samples=300)
    kind = em.get_covariance_type(covariance_type)
    init = _start(X, covariance_type)
    start = GaussianMixture(3, covariance_type=covariance_type, max_iter=1, n_init=1, **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start.fit(X)
    params = em.MixtureParameters(
        start.weights_, start.means_, start.covariances_, start.precisions_cholesky_
    )
    reg = np.full(X.shape[1], -100.0)
    options = {"max_iter": 5, "tol": 0.0}
    who = "the tied covariance" if covariance_type == "tied" else r"component 0 \(weight"
    with pytest.raises(CovarianceError, match=who):
        em._compiled_run(X, np.ones(len(X)), params, np.zeros(3), kind, reg, options)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_layout_round_trip(covariance_type):
    rng = np.random.default_rng(9)
    n_components, n_features = 3, 4
    shape = {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]
    values = rng.uniform(1, 2, shape)
    layout = compiled_em.to_layout(covariance_type, values, n_components, n_features)
    assert layout.shape == (n_components, n_features, n_features)
    np.testing.assert_array_equal(compiled_em.from_layout(covariance_type, layout), values)


def test_larger_data_and_verbose_runs_take_the_block_engine(monkeypatch):
    """Only data that make one block run whole in compiled code."""
    calls = []
    original = em._compiled_run
    monkeypatch.setattr(em, "_compiled_run", lambda *args: calls.append(1) or original(*args))
    X = _data(n_samples=500)
    _fit(X, "full", True, monkeypatch, max_iter=2)
    assert len(calls) == 1
    _fit(X, "full", True, monkeypatch, max_iter=2, verbose=2)
    assert len(calls) == 1
    monkeypatch.setattr(em._blocks, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(em._blocks, "MIN_BLOCK_ROWS", 64)
    _fit(X, "full", True, monkeypatch, max_iter=2)
    assert len(calls) == 1
