"""The JAX engine against the block engine from the same start, on CPU JAX.

float64: the same answer to 1e-10 for every covariance model (the same loop, M-step and
stopping rule; only the E-step's arithmetic order differs). float32: within bounds
derived from float32's epsilon and the block length (below).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bayesgmm import GaussianMixture
from bayesgmm.covariance import MODELS, get_covariance_model
from bayesgmm.em.jax_engine import FLOAT32_BLOCK_ROWS, JaxEngine
from bayesgmm.family import GAUSSIAN

jax = pytest.importorskip("jax")

EPS32 = float(np.finfo(np.float32).eps)


def _data(n_samples=6000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3)) * rng.uniform(0.5, 2, 3)
    X[: n_samples // 2] += 3.0
    return X


def _fit(X, covariance_type, engine, **options):
    model = get_covariance_model(covariance_type)
    shape = model.covariance_shape(2, 3)
    eye = np.broadcast_to(np.eye(3), shape).copy() if model.dims[-1] == "feature_bis" else None
    start = {
        "weights_init": [0.5, 0.5],
        "means_init": np.asarray(X)[[0, len(X) - 1]].astype(np.float64),
        "precisions_init": eye if eye is not None else np.ones(shape),
    }
    gm = GaussianMixture(
        2, covariance_type=covariance_type, engine=engine, n_init=1, tol=0.0, max_iter=12,
        **start, **options,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gm.fit(X)


@pytest.mark.parametrize("covariance_type", sorted(MODELS))
def test_float64_equals_the_block_engine(covariance_type):
    X = _data()
    ours, blocks = (_fit(X, covariance_type, engine) for engine in ("jax", "blocks"))
    np.testing.assert_allclose(ours.lower_bounds_, blocks.lower_bounds_, rtol=1e-10)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(
            getattr(ours, name), getattr(blocks, name), rtol=1e-10, atol=1e-12, err_msg=name
        )


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_float32_within_its_rounding_of_float64(covariance_type):
    """A block's float32 sum of B terms errs by at most B eps (worst case), the covariance's
    cancellation of the mean (|mu|^2 / sigma^2 <= 9 here) multiplies that; the lower bound
    is a mean of log-densities, each within a few float32 roundings."""
    X = _data()
    single = _fit(X.astype(np.float32), covariance_type, "jax")
    double = _fit(X, covariance_type, "blocks")
    assert single.lower_bound_ == pytest.approx(double.lower_bound_, rel=16 * EPS32)
    bound = FLOAT32_BLOCK_ROWS * EPS32 * 9
    scale = np.abs(double.covariances_).max()
    np.testing.assert_allclose(single.covariances_, double.covariances_, rtol=0, atol=bound * scale)
    np.testing.assert_allclose(single.means_, double.means_, rtol=0, atol=bound * np.sqrt(scale))


def test_an_empty_component_gives_no_nan():
    X = _data(2000)
    model = get_covariance_model("full")
    shift = X.mean(0)
    engine = JaxEngine(X, np.ones(len(X)), shift, np.zeros(3), model, 2, np.float64)
    prec = np.repeat(np.eye(3)[None], 2, axis=0)
    params = (np.array([1.0, 0.0]), X[[0, 1]] - shift, prec.copy(), prec, np.full(2, np.inf))
    stats = engine.new_statistics(model, 2)
    value = engine.e_step(model.layout, GAUSSIAN, None, params, stats)
    assert np.isfinite(value) and np.isfinite(stats[0]).all()
    assert stats[0][1, -1] == 0.0


def test_takes_a_jax_array_and_refuses_dask():
    X = _data(1000)
    model = get_covariance_model("diag")
    with jax.enable_x64(True):
        on_device = jax.numpy.asarray(X)
    engine = JaxEngine(on_device, np.ones(1000), X.mean(0), np.zeros(3), model, 2, np.float64)
    assert engine.blocks.shape[-1] == 3
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="engine='jax'.*not dask"):
        GaussianMixture(2, engine="jax").fit(da.from_array(X, chunks=500))


def test_a_jax_array_is_fitted_on_its_device():
    X = _data(2000)
    with jax.enable_x64(True):
        on_device = jax.numpy.asarray(X)
    from_device = _fit(on_device, "full", "auto")
    on_host = _fit(X, "full", "blocks")
    np.testing.assert_allclose(from_device.lower_bounds_, on_host.lower_bounds_, rtol=1e-10)
