"""The compiled (numba) kernels against numpy and closed forms.

The polynomial exp and log against libm (ulps), the one-pass log-sum-exp against
scipy's ``logsumexp``, the feature blocks of every layout against their definitions,
the stacked path's kernels against numpy, and the layouts' coefficients against the
Gaussian log-density they encode. Whole fits against the textbook EM are in
``test_engines.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from bayesgmm import gaussian
from bayesgmm.covariance import get_covariance_model
from bayesgmm.kernels import draws, fastmath, rows, stacked

TYPES = ["full", "tied", "diag", "spherical"]


def _elementwise(function):
    """A compiled loop applying one of the kernels' inline scalar functions."""
    import numba

    @numba.njit
    def apply(values, out):
        for index in range(values.shape[0]):
            out[index] = function(values[index])

    def call(values):
        out = np.empty_like(values)
        apply(values, out)
        return out

    return call


def _ulps(got, expected):
    return np.abs(got - expected) / np.spacing(np.abs(expected).astype(got.dtype))


def test_polynomial_exp_and_log_against_libm():
    """float64 exp within 1 ulp of libm's, log within 3 (measured: 1 and 3)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-708, 0, 20_000), -np.logspace(-12, 2.8, 2000), [0.0]])
    assert _ulps(_elementwise(fastmath.fast_exp)(x), np.exp(x)).max() <= 1.0
    y = np.concatenate([rng.uniform(1, 64, 20_000), np.logspace(-300, 300, 2000)])
    y = y[np.abs(np.log(y)) > 1e-3]  # near 1, log is tiny: compare absolutely below
    assert _ulps(_elementwise(fastmath.fast_log)(y), np.log(y)).max() <= 3.0
    near_one = 1.0 + np.linspace(-1e-3, 1e-3, 2001)
    near_one = near_one[near_one > 0]
    got = _elementwise(fastmath.fast_log)(near_one)
    np.testing.assert_allclose(got, np.log(near_one), rtol=0, atol=1e-18)


def test_mixture_kernels_exp_against_libm():
    """The Bayesian row kernels' exp: 2e-14 relative on [-40, 0] (measured 1.8e-14 on
    200,000 values), and under 5e-18 below -40."""
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-40, 0, 20_000), [0.0, -1e-300]])
    got = _elementwise(draws._exp_nonpositive)(x)
    np.testing.assert_allclose(got, np.exp(x), rtol=2e-14, atol=0)
    assert (_elementwise(draws._exp_nonpositive)(np.array([-41.0, -700.0])) < 5e-18).all()


def test_float32_exp_and_log_against_float64():
    """float32 exp within 2 float32 ulps; log of a row's norm (in [1, K]) within 3e-7."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-87, 0, 20_000).astype(np.float32)
    got = _elementwise(fastmath.fast_exp32)(x)
    assert _ulps(got, np.exp(x.astype(np.float64))).max() <= 2.0
    norm = np.concatenate([rng.uniform(1, 64, 20_000), [1.0, np.sqrt(2), 2.0]]).astype(np.float32)
    got = _elementwise(fastmath.fast_log32)(norm).astype(np.float64)
    np.testing.assert_allclose(got, np.log(norm.astype(np.float64)), rtol=0, atol=3e-7)


def _logits(n_components=5, n_rows=1000, seed=0):
    rng = np.random.default_rng(seed)
    L = rng.normal(-30, 25, (n_components, n_rows))
    L[:, 0] = 0.0  # equal terms
    L[:, 1] = -1000.0  # equal terms far below 0
    L[1:, 2] = -800.0  # one term that counts
    L[1, 3] = -745.0  # below the subnormal cut-off
    L[2, 4] = 700.0  # large positive log-probabilities
    return L


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_responsibilities_match_logsumexp(dtype, weighted):
    L = _logits().astype(dtype)
    n_components, n_rows = L.shape
    rng = np.random.default_rng(1)
    weights = rng.uniform(0, 3, n_rows) if weighted else np.ones(n_rows)
    if weighted:
        weights[::7] = 0.0
    work = L.copy()
    total = rows.responsibilities(work, weights)  # float64 arithmetic, any input
    L64 = L.astype(np.float64)
    log_norm = logsumexp(L64, axis=0)
    assert total == pytest.approx(weights @ log_norm, rel=1e-14)
    shifted = L64 - L64.max(axis=0)  # exact: no cancellation against log_norm
    expected = np.exp(shifted - logsumexp(shifted, axis=0)) * weights
    tolerance = 1e-14 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(work, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("weighted", [False, True])
def test_float32_responsibilities_match_logsumexp(weighted):
    """The float32 kernel: float32 terms and logs, the log-likelihood summed in float64."""
    L = _logits()
    L[L < -1e20] = -1e30  # an empty component's stand-in in float32
    L = L.astype(np.float32)
    n_rows = L.shape[1]
    weights = np.random.default_rng(1).uniform(0, 3, n_rows) if weighted else np.ones(n_rows)
    work = L.copy()
    total = rows.responsibilities32(work, weights)
    L64 = L.astype(np.float64)
    shifted = L64 - L64.max(axis=0)
    assert total == pytest.approx(weights @ logsumexp(L64, axis=0), rel=1e-7)
    expected = np.exp(shifted - logsumexp(shifted, axis=0)) * weights
    np.testing.assert_allclose(work, expected, rtol=1e-6, atol=1e-6)


def test_responsibilities_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="weights"):
        rows.responsibilities(np.zeros((3, 10)), np.ones(9))
    with pytest.raises(ValueError, match="weights"):
        rows.responsibilities32(np.zeros((3, 10), dtype=np.float32), np.ones(9))


def _quadratic(kind, Xt):
    """``q(x)`` of each layout, from its definition."""
    if kind == "full":
        i, j = np.triu_indices(Xt.shape[0])
        return Xt[i] * Xt[j]
    if kind == "diag":
        return Xt**2
    if kind == "spherical":
        return (Xt**2).sum(axis=0, keepdims=True)
    return Xt[:0]


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [2, 4, 9])  # short rows and rows over ROW_BYTES
def test_fill_features_match_definition(kind, dtype, n_features):
    rng = np.random.default_rng(2)
    X = rng.normal(5, 2, (700, n_features))
    shift = X.mean(axis=0)
    layout = get_covariance_model(kind).layout
    q = layout.n_quadratic(n_features)
    Z = np.empty((q + n_features + 1, 700), dtype=dtype)
    layout.fill_features(X.astype(dtype), shift, Z)
    Xt = (X.astype(dtype).astype(np.float64) - shift).T
    expected = np.concatenate([_quadratic(kind, Xt), Xt, np.ones((1, 700))])
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(Z, expected, rtol=rtol, atol=rtol)


def test_fill_features_reject_wrong_block():
    with pytest.raises(ValueError, match="shape"):
        get_covariance_model("full").layout.fill_features(
            np.zeros((10, 3)), np.zeros(3), np.zeros((4, 10))
        )


@pytest.mark.parametrize("kind", ["full", "diag", "spherical", "EEI"])
def test_coefficients_encode_the_weighted_log_density(kind):
    """theta . [q(x), x, 1] = log pi_k + log N(x | mu_k, Sigma_k) (gaussian.py), and for
    the shared layout the same up to the common terms its likelihood_terms add."""
    rng = np.random.default_rng(4)
    model = get_covariance_model(kind)
    X = rng.normal(size=(50, 3))
    means = rng.normal(size=(3, 3))
    weights = np.array([0.2, 0.3, 0.5])
    full = np.stack([np.eye(3) * s + 0.2 for s in (0.5, 1.0, 2.0)])
    stored = {
        "full": full,
        "diag": rng.uniform(0.5, 2, (3, 3)),
        "EEI": np.tile(rng.uniform(0.5, 2, 3), (3, 1)),
        "spherical": np.array([0.5, 1.0, 2.0]),
    }[kind]
    prec = model.layout.precision_cholesky(stored, weights)
    q = model.layout.n_quadratic(3)
    theta = np.empty((3, q + 4))
    model.layout.coefficients(weights, means, prec, theta)
    Z = np.empty((q + 4, 50))
    model.layout.fill_features(X, np.zeros(3), Z)
    expected = model.layout.log_density(X, means, prec) + np.log(weights)
    np.testing.assert_allclose((theta @ Z).T, expected, rtol=1e-12, atol=1e-12)


def test_shared_coefficients_and_terms_make_the_log_density():
    rng = np.random.default_rng(5)
    layout = get_covariance_model("tied").layout
    X, means = rng.normal(size=(60, 3)), rng.normal(size=(2, 3))
    weights = np.array([0.4, 0.6])
    prec = layout.precision_cholesky(np.eye(3) + 0.3, weights)
    theta = np.empty((2, 4))
    layout.coefficients(weights, means, prec, theta)
    Z = np.empty((4, 60))
    layout.fill_features(X, np.zeros(3), Z)
    joint = (theta @ Z).T - 0.5 * np.einsum("nd,nd->n", X @ prec, X @ prec)[:, None]
    log_prob = gaussian.log_mixture_density(joint)[0]
    total = log_prob.sum() + layout.likelihood_terms(prec, X.T @ X * 0, 60.0)
    total += 0.0  # the quadratic term went into joint above; the constants come next
    expected = gaussian.log_mixture_density(layout.log_density(X, means, prec) + np.log(weights))[0]
    constant = 60 * (np.log(np.diag(prec)).sum() - 1.5 * np.log(2 * np.pi))
    assert total == pytest.approx(expected.sum(), rel=1e-12)
    assert layout.likelihood_terms(prec, np.zeros((3, 3)), 60.0) == pytest.approx(constant)
    second = X.T @ X
    trace = np.trace(prec.T @ second @ prec)
    assert layout.likelihood_terms(prec, second, 60.0) == pytest.approx(constant - 0.5 * trace)


def test_stacked_kernels_match_numpy():
    rng = np.random.default_rng(3)
    n_rows, n_components, n_features = 300, 4, 6
    Y = rng.normal(size=(n_rows, n_components * n_features))
    offsets = rng.normal(size=n_components * n_features)
    constant = rng.normal(size=n_components)
    L = np.repeat(constant[:, None], n_rows, axis=1)
    stacked.stacked_log_densities(Y, offsets, L)
    squares = ((Y - offsets) ** 2).reshape(n_rows, n_components, n_features).sum(axis=2)
    np.testing.assert_allclose(L, (constant - 0.5 * squares).T, rtol=1e-14)
    R = rng.uniform(size=(n_components, n_rows))
    X = rng.normal(size=(n_rows, n_features))
    for first in (0, 2):
        out = np.empty((n_rows, n_components * (n_features - first)))
        stacked.weight_rows(R, X, first, out)
        expected = (R.T[:, :, None] * X[:, None, first:]).reshape(n_rows, -1)
        np.testing.assert_array_equal(out, expected)
    with pytest.raises(ValueError, match="first"):
        stacked.weight_rows(R, X, 3, np.empty((n_rows, n_components * 4)))


def test_no_cached_kernel_is_a_closure():
    """numba keys a closure's disk cache by its pickled cell contents; compiled functions
    pickle with a new identifier in each process, so a cached kernel made as a closure over
    them misses its cache in every process and compiles again (the EM round did: about
    5 s per covariance model in every fresh process)."""
    import importlib
    import pkgutil

    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    import bayesgmm

    cached, closures = 0, []
    for info in pkgutil.walk_packages(bayesgmm.__path__, "bayesgmm."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # a module of an extra that is not installed
            continue
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and not isinstance(value._cache, NullCache):
                cached += 1
                if value.py_func.__closure__ is not None:
                    closures.append(f"{info.name}.{name}")
    assert cached > 50  # the walk found the kernels
    assert closures == []
