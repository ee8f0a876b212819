"""The compiled (numba) inner loops of the EM kernel against numpy and closed forms.

The polynomial exp and log against libm (ulps), the one-pass log-sum-exp against
scipy's ``logsumexp``, the feature blocks against their definitions, and whole
fits through the compiled path against the numpy path (same statistics to rounding,
same optimum), including an empty component and float32 blocks.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from bayesgmm import GaussianMixture, _blocks

kernels = pytest.importorskip("bayesgmm._kernels")

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
    assert _ulps(_elementwise(kernels._fast_exp)(x), np.exp(x)).max() <= 1.0
    y = np.concatenate([rng.uniform(1, 64, 20_000), np.logspace(-300, 300, 2000)])
    y = y[np.abs(np.log(y)) > 1e-3]  # near 1, log is tiny: compare absolutely below
    assert _ulps(_elementwise(kernels._fast_log)(y), np.log(y)).max() <= 3.0
    near_one = 1.0 + np.linspace(-1e-3, 1e-3, 2001)
    near_one = near_one[near_one > 0]
    got = _elementwise(kernels._fast_log)(near_one)
    np.testing.assert_allclose(got, np.log(near_one), rtol=0, atol=1e-18)


def test_mixture_kernels_exp_against_libm():
    """The Bayesian row kernels' exp: 2e-14 relative on [-40, 0] (measured 1.8e-14 on
    200,000 values), and under 5e-18 below -40."""
    from bayesgmm import _mixture_kernels

    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-40, 0, 20_000), [0.0, -1e-300]])
    got = _elementwise(_mixture_kernels._exp_nonpositive)(x)
    np.testing.assert_allclose(got, np.exp(x), rtol=2e-14, atol=0)
    assert (
        _elementwise(_mixture_kernels._exp_nonpositive)(np.array([-41.0, -700.0])) < 5e-18
    ).all()


def test_float32_exp_and_log_against_float64():
    """float32 exp within 2 float32 ulps; log of a row's norm (in [1, K]) within 3e-7."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-87, 0, 20_000).astype(np.float32)
    got = _elementwise(kernels._fast_exp32)(x)
    assert _ulps(got, np.exp(x.astype(np.float64))).max() <= 2.0
    norm = np.concatenate([rng.uniform(1, 64, 20_000), [1.0, np.sqrt(2), 2.0]]).astype(np.float32)
    got = _elementwise(kernels._fast_log32)(norm).astype(np.float64)
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
    total = kernels.responsibilities(work, weights, np.zeros(n_components))
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
    total = kernels.responsibilities32(work, weights)
    L64 = L.astype(np.float64)
    shifted = L64 - L64.max(axis=0)
    assert total == pytest.approx(weights @ logsumexp(L64, axis=0), rel=1e-7)
    expected = np.exp(shifted - logsumexp(shifted, axis=0)) * weights
    np.testing.assert_allclose(work, expected, rtol=1e-6, atol=1e-6)


def test_responsibilities_add_offsets_in_float64():
    """Offsets (K,) carry what float32 log-probabilities lose: added before anything."""
    L = _logits(n_components=3, n_rows=300)
    head = L.astype(np.float32)
    offsets = np.array([1e-4, -3e-5, 0.25])
    total = kernels.responsibilities(head.copy(), np.ones(300), offsets)
    exact = head.astype(np.float64) + offsets[:, None]
    assert total == pytest.approx(logsumexp(exact, axis=0).sum(), rel=1e-14)


def test_responsibilities_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="weights"):
        kernels.responsibilities(np.zeros((3, 10)), np.ones(9), np.zeros(3))
    with pytest.raises(ValueError, match="offsets"):
        kernels.responsibilities(np.zeros((3, 10)), np.ones(10), np.zeros(4))


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fill_features_match_definition(kind, dtype):
    rng = np.random.default_rng(2)
    X = rng.normal(5, 2, (700, 4))
    shift = X.mean(axis=0)
    features = _blocks.FEATURE_MAPS[kind]
    n_quadratic = features.n_quadratic(4)
    Z = np.empty((n_quadratic + 5, 700), dtype=dtype)
    kernels.fill_features(X.astype(dtype), shift, Z, kernels.QUADRATIC_CODES[kind])
    Xt = (X.astype(dtype) - shift).T.astype(dtype)
    expected = np.empty_like(Z)
    features.fill_quadratic(Xt, expected[:n_quadratic])
    expected[n_quadratic:-1] = Xt
    expected[-1] = 1.0
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(Z, expected, rtol=rtol, atol=rtol)


def test_fill_features_reject_wrong_block():
    with pytest.raises(ValueError, match="shape"):
        kernels.fill_features(np.zeros((10, 3)), np.zeros(3), np.zeros((4, 10)), 0)


def test_stacked_kernels_match_numpy():
    rng = np.random.default_rng(3)
    n_rows, n_components, n_features = 300, 4, 6
    Y = rng.normal(size=(n_rows, n_components * n_features))
    offsets = rng.normal(size=n_components * n_features)
    constant = rng.normal(size=n_components)
    L = np.repeat(constant[:, None], n_rows, axis=1)
    kernels.stacked_log_densities(Y, offsets, L)
    squares = ((Y - offsets) ** 2).reshape(n_rows, n_components, n_features).sum(axis=2)
    np.testing.assert_allclose(L, (constant - 0.5 * squares).T, rtol=1e-14)
    R = rng.uniform(size=(n_components, n_rows))
    X = rng.normal(size=(n_rows, n_features))
    for first in (0, 2):
        out = np.empty((n_rows, n_components * (n_features - first)))
        kernels.weight_rows(R, X, first, out)
        expected = (R.T[:, :, None] * X[:, None, first:]).reshape(n_rows, -1)
        np.testing.assert_array_equal(out, expected)
    with pytest.raises(ValueError, match="first"):
        kernels.weight_rows(R, X, 3, np.empty((n_rows, n_components * 4)))


def _mixture(n_samples=4000, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (3, n_features))
    X = rng.normal(size=(n_samples, n_features)) + centers[rng.integers(3, size=n_samples)]
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _fit(X, kind, **kwargs):
    model = GaussianMixture(
        3, covariance_type=kind, tol=0.0, max_iter=20, n_init=1, random_state=0, **kwargs
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X)


@pytest.mark.parametrize(
    "kind, n_features",
    [(kind, 3) for kind in TYPES] + [("full", _blocks.STACKED_FEATURES + n) for n in (2, 3)],
)
def test_compiled_path_equals_numpy_path(kind, n_features, monkeypatch):
    X = _mixture(n_features=n_features)
    compiled = _fit(X, kind)
    monkeypatch.setattr(_blocks, "_compiled", lambda: None)
    plain = _fit(X, kind)
    np.testing.assert_allclose(compiled.lower_bounds_, plain.lower_bounds_, rtol=1e-12)
    np.testing.assert_allclose(compiled.means_, plain.means_, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(compiled.covariances_, plain.covariances_, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_empty_component_counts_as_zero(kind, dtype, monkeypatch):
    """A component of weight 0 (log-weight -inf) adds nothing, with no NaN."""
    X = _mixture(n_samples=2000).astype(dtype)
    precisions = {
        "full": np.repeat(np.eye(3)[None], 3, axis=0),
        "tied": np.eye(3),
        "diag": np.ones((3, 3)),
        "spherical": np.ones(3),
    }[kind]
    kwargs = {
        "weights_init": [0.5, 0.5, 0.0],
        "means_init": np.array([X[0], X[1], [50.0, 50.0, 50.0]]),
        "precisions_init": precisions,
        "max_iter": 1,
    }
    model = GaussianMixture(3, covariance_type=kind, tol=0.0, n_init=1, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = model.fit(X).lower_bounds_
        monkeypatch.setattr(_blocks, "_compiled", lambda: None)
        plain = model.fit(X).lower_bounds_
    assert np.isfinite(compiled).all()
    np.testing.assert_allclose(compiled, plain, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_kernel_with_nan_parameters_takes_the_numpy_path():
    """Parameters that are not finite never reach the compiled loops."""
    means = np.zeros((2, 2))
    prec_chol = np.repeat(np.eye(2)[None], 2, axis=0)
    prec_chol[1, 0, 0] = np.nan
    kernel = _blocks.BlockKernel("full", np.array([0.5, 0.5]), means, prec_chol, np.zeros(2))
    assert not kernel.compiled
    finite = _blocks.BlockKernel(
        "full", np.array([0.5, 0.5]), means, prec_chol[:1].repeat(2, 0), np.zeros(2)
    )
    assert finite.compiled
