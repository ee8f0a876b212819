"""gaussian.py (and each covariance type's view of it) against scipy and numpy.

Every density is checked against ``scipy.stats.multivariate_normal`` evaluated one
component at a time, so the batched kernels, the shared-factor (tied) path, the
spherical broadcast and the leading ``(chain, draw)`` dimensions are each compared
with an independent, unbatched computation.
"""

import numpy as np
import pytest
from scipy import stats

from bayesgmm import gaussian
from bayesgmm.covariance import get_covariance_model

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
N_SAMPLES, N_COMPONENTS, N_FEATURES = 30, 3, 4


def _spd(rng, *batch, n_features=N_FEATURES):
    """Random well-conditioned covariances of shape (*batch, D, D)."""
    factor = rng.normal(size=(*batch, n_features, n_features))
    return factor @ np.swapaxes(factor, -1, -2) / n_features + 0.5 * np.eye(n_features)


def _covariances(rng, covariance_type, *batch, n_components=N_COMPONENTS):
    """Native covariances for a type, with leading batch dims."""
    if covariance_type == "full":
        return _spd(rng, *batch, n_components)
    if covariance_type == "tied":
        return _spd(rng, *batch)
    if covariance_type == "diag":
        return rng.uniform(0.3, 3.0, size=(*batch, n_components, N_FEATURES))
    return rng.uniform(0.3, 3.0, size=(*batch, n_components))


def _scipy_log_density(X, means, full_covariances):
    """(N, D), (K, D), (K, D, D) -> (N, K), one component at a time."""
    return np.stack(
        [
            stats.multivariate_normal(mean, cov).logpdf(X).reshape(len(X))
            for mean, cov in zip(means, full_covariances, strict=True)
        ],
        axis=-1,
    )


@pytest.fixture
def rng():
    return np.random.default_rng(20261127)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_density_matches_scipy(rng, covariance_type):
    kind = get_covariance_model(covariance_type)
    X = rng.normal(scale=2.0, size=(N_SAMPLES, N_FEATURES))
    means = rng.normal(size=(N_COMPONENTS, N_FEATURES))
    cov = _covariances(rng, covariance_type)
    prec_chol = kind.precision_cholesky(cov, np.full(N_COMPONENTS, 1 / N_COMPONENTS))
    got = kind.log_density(X, means, prec_chol)
    full = kind.to_full(cov, N_COMPONENTS, N_FEATURES)
    np.testing.assert_allclose(got, _scipy_log_density(X, means, full), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_density_broadcasts_over_chain_and_draw(rng, covariance_type):
    """A (chain, draw) stack of parameters equals evaluating each draw on its own."""
    n_chains, n_draws = 2, 3
    kind = get_covariance_model(covariance_type)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    means = rng.normal(size=(n_chains, n_draws, N_COMPONENTS, N_FEATURES))
    cov = _covariances(rng, covariance_type, n_chains, n_draws)
    flat_cov = cov.reshape(n_chains * n_draws, *cov.shape[2:])
    prec_chol = np.stack(
        [kind.precision_cholesky(c, np.full(N_COMPONENTS, 1 / N_COMPONENTS)) for c in flat_cov]
    ).reshape(n_chains, n_draws, *cov.shape[2:])
    got = kind.log_density(X, means, prec_chol)
    assert got.shape == (n_chains, n_draws, N_SAMPLES, N_COMPONENTS)
    for c in range(n_chains):
        for d in range(n_draws):
            full = kind.to_full(cov[c, d], N_COMPONENTS, N_FEATURES)
            expected = _scipy_log_density(X, means[c, d], full)
            np.testing.assert_allclose(got[c, d], expected, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_density_keeps_accuracy_far_from_origin(rng, covariance_type):
    """Data and means offset by 1e8 give the densities of the unshifted problem."""
    offset = 1e8
    kind = get_covariance_model(covariance_type)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    means = 0.5 * rng.normal(size=(N_COMPONENTS, N_FEATURES))
    cov = _covariances(rng, covariance_type)
    prec_chol = kind.precision_cholesky(cov, np.full(N_COMPONENTS, 1 / N_COMPONENTS))
    shifted = kind.log_density(X + offset, means + offset, prec_chol)
    full = kind.to_full(cov, N_COMPONENTS, N_FEATURES)
    # scipy subtracts the mean first, so it is accurate at any offset
    expected = _scipy_log_density(X + offset, means + offset, full)
    # the inputs themselves carry rounding of 1e8 * eps ~ 1.5e-8
    np.testing.assert_allclose(shifted, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(shifted, kind.log_density(X, means, prec_chol), atol=1e-6)


def test_log_density_full_shared_factor_equals_repeated_factor(rng):
    """The tied path (one (D, D) factor) equals the per-component path with copies."""
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    means = rng.normal(size=(2, N_COMPONENTS, N_FEATURES))
    prec_chol = gaussian.precision_cholesky_full(_spd(rng, 2))
    repeated = np.repeat(prec_chol[:, None], N_COMPONENTS, axis=1)
    np.testing.assert_allclose(
        gaussian.log_density_full(X, means, prec_chol),
        gaussian.log_density_full(X, means, repeated),
        rtol=1e-12,
    )


def test_log_det_full_matches_numpy_det(rng):
    cov = _spd(rng, 2, N_COMPONENTS)
    prec_chol = gaussian.precision_cholesky_full(cov)
    # log det of the factor is half the log det of the precision = -1/2 log det(cov)
    np.testing.assert_allclose(
        gaussian.log_det_full(prec_chol), -0.5 * np.log(np.linalg.det(cov)), rtol=1e-12
    )
    assert gaussian.log_det_full(prec_chol).shape == (2, N_COMPONENTS)


def test_log_det_diag_matches_numpy_det(rng):
    variances = rng.uniform(0.1, 5.0, size=(2, N_COMPONENTS, N_FEATURES))
    prec_sqrt = 1.0 / np.sqrt(variances)
    dets = np.linalg.det(variances[..., :, None] * np.eye(N_FEATURES))
    np.testing.assert_allclose(gaussian.log_det_diag(prec_sqrt), -0.5 * np.log(dets), rtol=1e-12)


def test_precision_cholesky_full_is_upper_factor_of_inverse(rng):
    cov = _spd(rng, 3, N_COMPONENTS)
    prec_chol = gaussian.precision_cholesky_full(cov)
    assert prec_chol.shape == cov.shape
    np.testing.assert_array_equal(np.tril(prec_chol, k=-1), 0.0)
    np.testing.assert_allclose(
        prec_chol @ np.swapaxes(prec_chol, -1, -2), np.linalg.inv(cov), rtol=1e-10, atol=1e-12
    )


def test_covariance_from_precision_cholesky_round_trip(rng):
    cov = _spd(rng, 2, N_COMPONENTS)
    back = gaussian.covariance_from_precision_cholesky(gaussian.precision_cholesky_full(cov))
    np.testing.assert_allclose(back, cov, rtol=1e-10)


def test_precision_cholesky_full_rejects_non_positive_definite():
    singular = np.array([[1.0, 1.0], [1.0, 1.0]])
    with pytest.raises(np.linalg.LinAlgError):
        gaussian.precision_cholesky_full(singular)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_covariance_type_round_trip_through_precision_cholesky(rng, covariance_type):
    kind = get_covariance_model(covariance_type)
    cov = _covariances(rng, covariance_type)
    prec_chol = kind.precision_cholesky(cov, np.full(N_COMPONENTS, 1 / N_COMPONENTS))
    assert prec_chol.shape == cov.shape
    np.testing.assert_allclose(kind.covariances_from_precision_cholesky(prec_chol), cov, rtol=1e-10)
    precisions = kind.precisions(prec_chol)
    full_precisions = kind.to_full(precisions, N_COMPONENTS, N_FEATURES)
    full_cov = kind.to_full(cov, N_COMPONENTS, N_FEATURES)
    np.testing.assert_allclose(full_precisions, np.linalg.inv(full_cov), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        kind.precision_cholesky_from_precisions(precisions)
        @ np.swapaxes(kind.precision_cholesky_from_precisions(precisions), -1, -2)
        if kind.name in ("full", "tied")
        else kind.precision_cholesky_from_precisions(precisions) ** 2,
        precisions,
        rtol=1e-10,
    )


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_precisions_to_factor_to_covariances_round_trip(rng, covariance_type):
    """A user's precisions_init turns into the covariances it is the inverse of."""
    kind = get_covariance_model(covariance_type)
    cov = _covariances(rng, covariance_type)
    full_cov = kind.to_full(cov, N_COMPONENTS, N_FEATURES)
    if kind.name in ("full", "tied"):
        precisions = np.linalg.inv(cov)
    else:
        precisions = 1.0 / cov
    prec_chol = kind.precision_cholesky_from_precisions(precisions)
    np.testing.assert_allclose(
        kind.to_full(kind.covariances_from_precision_cholesky(prec_chol), N_COMPONENTS, N_FEATURES),
        full_cov,
        rtol=1e-10,
    )
    if kind.name in ("full", "tied"):  # scikit-learn's convention: upper triangular
        np.testing.assert_array_equal(np.tril(prec_chol, k=-1), 0.0)


def test_log_mixture_density_matches_logsumexp(rng):
    from scipy.special import logsumexp

    weighted = rng.normal(scale=30.0, size=(2, 3, N_SAMPLES, N_COMPONENTS))
    log_prob, log_resp = gaussian.log_mixture_density(weighted)
    np.testing.assert_allclose(log_prob, logsumexp(weighted, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_resp).sum(axis=-1), 1.0, rtol=1e-12)


def test_log_mixture_density_with_empty_component_and_far_points():
    """A zero weight (log 0 = -inf) and points far from every component stay finite."""
    weighted = np.array([[-np.inf, -2000.0, -2001.0], [-np.inf, -1.0, -np.inf]])
    log_prob, log_resp = gaussian.log_mixture_density(weighted)
    assert np.isfinite(log_prob).all()
    np.testing.assert_allclose(log_prob[0], -2000.0 + np.log1p(np.exp(-1.0)))
    np.testing.assert_allclose(np.exp(log_resp).sum(axis=-1), 1.0)
    assert np.exp(log_resp[:, 0]).max() == 0.0
