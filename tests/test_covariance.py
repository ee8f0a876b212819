"""covariance.py: M-step estimators against weighted empirical covariances, counts, errors.

The reference for every estimator is ``np.cov(X, aweights=resp[:, k], bias=True)``:
the responsibility-weighted empirical covariance of component k. Tied is the
``nk``-weighted mean of those, diag their diagonals, spherical the mean diagonal.
"""

import numpy as np
import pytest

from bayesgmm.covariance import COVARIANCE_TYPES, get_covariance_type
from bayesgmm.exceptions import CovarianceError
from bayesgmm.result import MixtureResult

N_SAMPLES, N_COMPONENTS, N_FEATURES = 200, 3, 4


@pytest.fixture
def problem():
    """Data and soft responsibilities, with the weighted means the M-step computes."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)) @ rng.normal(size=(N_FEATURES, N_FEATURES))
    X += 3.0
    resp = rng.dirichlet(np.ones(N_COMPONENTS), size=N_SAMPLES)
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    empirical = np.stack(
        [np.cov(X, rowvar=False, aweights=resp[:, k], bias=True) for k in range(N_COMPONENTS)]
    )
    return X, resp, nk, means, empirical


def _estimate(kind, X, resp, nk, means, reg):
    return kind.estimate(kind.second_moment(X, resp), nk, means, reg)


def test_full_estimate_matches_weighted_empirical_covariance(problem):
    X, resp, nk, means, empirical = problem
    got = _estimate(get_covariance_type("full"), X, resp, nk, means, np.zeros(N_FEATURES))
    np.testing.assert_allclose(got, empirical, rtol=1e-10)


def test_tied_estimate_is_nk_weighted_mean_of_full(problem):
    X, resp, nk, means, empirical = problem
    got = _estimate(get_covariance_type("tied"), X, resp, nk, means, np.zeros(N_FEATURES))
    expected = np.einsum("k,kde->de", nk, empirical) / nk.sum()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_diag_estimate_is_diagonal_of_full(problem):
    X, resp, nk, means, empirical = problem
    got = _estimate(get_covariance_type("diag"), X, resp, nk, means, np.zeros(N_FEATURES))
    np.testing.assert_allclose(got, np.diagonal(empirical, axis1=1, axis2=2), rtol=1e-10)


def test_spherical_estimate_is_mean_variance_of_full(problem):
    X, resp, nk, means, empirical = problem
    got = _estimate(get_covariance_type("spherical"), X, resp, nk, means, np.zeros(N_FEATURES))
    expected = np.diagonal(empirical, axis1=1, axis2=2).mean(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", list(COVARIANCE_TYPES))
def test_regularisation_is_added_to_the_variances(problem, covariance_type):
    X, resp, nk, means, _ = problem
    kind = get_covariance_type(covariance_type)
    reg = np.array([0.1, 0.2, 0.3, 0.4])
    plain = _estimate(kind, X, resp, nk, means, np.zeros(N_FEATURES))
    regularised = _estimate(kind, X, resp, nk, means, reg)
    added = kind.to_full(regularised, N_COMPONENTS, N_FEATURES) - kind.to_full(
        plain, N_COMPONENTS, N_FEATURES
    )
    if covariance_type == "spherical":  # one variance: the mean of the per-feature terms
        expected = np.broadcast_to(reg.mean() * np.eye(N_FEATURES), added.shape)
    else:
        expected = np.broadcast_to(np.diag(reg), added.shape)
    np.testing.assert_allclose(added, expected, atol=1e-12)


@pytest.mark.parametrize("covariance_type", list(COVARIANCE_TYPES))
def test_second_moment_adds_over_row_blocks(problem, covariance_type):
    """Block statistics of two halves sum to the statistic of all rows (chunked EM)."""
    X, resp, *_ = problem
    kind = get_covariance_type(covariance_type)
    whole = kind.second_moment(X, resp)
    halves = kind.second_moment(X[:77], resp[:77]) + kind.second_moment(X[77:], resp[77:])
    np.testing.assert_allclose(halves, whole, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", list(COVARIANCE_TYPES))
def test_estimate_has_the_scikit_learn_shape(problem, covariance_type):
    X, resp, nk, means, _ = problem
    kind = get_covariance_type(covariance_type)
    got = _estimate(kind, X, resp, nk, means, np.zeros(N_FEATURES))
    expected = {
        "full": (N_COMPONENTS, N_FEATURES, N_FEATURES),
        "tied": (N_FEATURES, N_FEATURES),
        "diag": (N_COMPONENTS, N_FEATURES),
        "spherical": (N_COMPONENTS,),
    }[covariance_type]
    assert got.shape == expected == kind.covariance_shape(N_COMPONENTS, N_FEATURES)
    assert kind.to_full(got, N_COMPONENTS, N_FEATURES).shape == (
        N_COMPONENTS,
        N_FEATURES,
        N_FEATURES,
    )


@pytest.mark.parametrize(
    ("covariance_type", "expected"),
    [("spherical", 13), ("diag", 21), ("tied", 26), ("full", 41)],
)
def test_number_of_parameters(covariance_type, expected):
    """K=2, D=5: the counts of scikit-learn's test_gaussian_mixture_n_parameters."""
    n_components, n_features = 2, 5
    kind = get_covariance_type(covariance_type)
    full = np.broadcast_to(np.eye(n_features), (n_components, n_features, n_features))
    native = {
        "full": full,
        "tied": np.eye(n_features),
        "diag": np.ones((n_components, n_features)),
        "spherical": np.ones(n_components),
    }[covariance_type]
    result = MixtureResult(
        weights=np.full(n_components, 0.5),
        means=np.zeros((n_components, n_features)),
        covariances=native,
        covariance_type=covariance_type,
    )
    assert result.n_parameters == expected
    mean_and_weights = n_components * n_features + n_components - 1
    assert kind.n_parameters(n_components, n_features) == expected - mean_and_weights


@pytest.mark.parametrize("covariance_type", list(COVARIANCE_TYPES))
def test_marginal_variances_are_the_diagonals(problem, covariance_type):
    X, resp, nk, means, _ = problem
    kind = get_covariance_type(covariance_type)
    cov = _estimate(kind, X, resp, nk, means, np.zeros(N_FEATURES))
    full = kind.to_full(cov, N_COMPONENTS, N_FEATURES)
    np.testing.assert_allclose(
        kind.marginal_variances(cov, N_COMPONENTS, N_FEATURES),
        np.diagonal(full, axis1=-2, axis2=-1),
    )


def test_full_precision_cholesky_names_the_failed_component():
    cov = np.stack([np.eye(2), np.array([[1.0, 1.0], [1.0, 1.0]]), np.eye(2)])
    with pytest.raises(CovarianceError, match=r"component 1 \(weight 0\.2\).*reg_covar"):
        get_covariance_type("full").precision_cholesky(cov, np.array([0.5, 0.2, 0.3]))


def test_tied_precision_cholesky_names_the_tied_covariance():
    with pytest.raises(CovarianceError, match="the tied covariance"):
        get_covariance_type("tied").precision_cholesky(
            np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.5, 0.5])
        )


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_diagonal_precision_cholesky_names_the_failed_component(covariance_type):
    cov = np.array([[1.0, 1.0], [1.0, 0.0]])
    if covariance_type == "spherical":
        cov = cov.min(axis=1)
    with pytest.raises(CovarianceError, match=r"component 1 \(weight 0\.75\)"):
        get_covariance_type(covariance_type).precision_cholesky(cov, np.array([0.25, 0.75]))


def test_covariance_error_is_a_value_error():
    """Callers that catch ValueError (as for scikit-learn's message) still catch it."""
    assert issubclass(CovarianceError, ValueError)
