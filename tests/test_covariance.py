"""Covariance models: M-steps against independent computations, counts, shapes, errors.

The reference for the unconstrained estimate is ``np.cov(X, aweights=resp[:, k],
bias=True)``, the responsibility-weighted empirical covariance of component k; tied is
the ``nk``-weighted mean of those, diag their diagonals, spherical the mean diagonal.
A constrained model's estimate must also be the maximum of the expected complete-data
log-likelihood under its constraint, which is checked by numerical optimisation.
"""

import pickle

import numpy as np
import pytest
from scipy import optimize, stats

from bayesgmm.covariance import (
    COVARIANCE_TYPES,
    MODELS,
    SKLEARN_TYPES,
    get_covariance_model,
)
from bayesgmm.em.passes import responsibility_sums
from bayesgmm.em.starts import parameters_from_sums
from bayesgmm.exceptions import CovarianceError
from bayesgmm.result import MixtureResult

N_SAMPLES, N_COMPONENTS, N_FEATURES = 200, 3, 4


@pytest.fixture
def problem():
    """Data and soft responsibilities, with the weighted moments of each component."""
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


def _m_step(covariance_type, X, resp, reg=None):
    """One M-step of the model from responsibilities, in the data's units (shift 0)."""
    model = get_covariance_model(covariance_type)
    reg = np.zeros(X.shape[1]) if reg is None else reg
    shift = np.zeros(X.shape[1])
    T = responsibility_sums(model, X, np.ones(len(X)), shift, resp)
    data_second = X.T @ X
    params = parameters_from_sums(model, T, data_second, reg)
    return model, params, model.from_storage(params.covariances)


def test_full_estimate_matches_weighted_empirical_covariance(problem):
    X, resp, nk, means, empirical = problem
    _, params, got = _m_step("full", X, resp)
    np.testing.assert_allclose(got, empirical, rtol=1e-10)
    np.testing.assert_allclose(params.means, means, rtol=1e-12)
    np.testing.assert_allclose(params.weights, nk / N_SAMPLES, rtol=1e-12)


def test_tied_estimate_is_nk_weighted_mean_of_full(problem):
    X, resp, nk, means, empirical = problem
    _, _, got = _m_step("tied", X, resp)
    np.testing.assert_allclose(got, np.einsum("k,kde->de", nk, empirical) / nk.sum(), rtol=1e-10)


def test_diag_estimate_is_diagonal_of_full(problem):
    X, resp, nk, means, empirical = problem
    _, _, got = _m_step("diag", X, resp)
    np.testing.assert_allclose(got, np.diagonal(empirical, axis1=1, axis2=2), rtol=1e-10)


def test_spherical_estimate_is_mean_variance_of_full(problem):
    X, resp, nk, means, empirical = problem
    _, _, got = _m_step("spherical", X, resp)
    expected = np.diagonal(empirical, axis1=1, axis2=2).mean(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def _expected_log_likelihood(X, resp, means, full):
    """sum_nk r_nk log N(x_n | mu_k, Sigma_k): what an M-step maximises over Sigma."""
    return sum(
        resp[:, k] @ stats.multivariate_normal(means[k], full[k]).logpdf(X)
        for k in range(len(means))
    )


def test_eei_estimate_is_the_constrained_maximum(problem):
    """EEI (one diagonal for all): no other diagonal matrix does better, by optimisation."""
    X, resp, nk, means, empirical = problem
    model, params, got = _m_step("EEI", X, resp)
    assert got.shape == (N_COMPONENTS, N_FEATURES, N_FEATURES)
    np.testing.assert_array_equal(got, np.broadcast_to(got[0], got.shape))

    def negative(log_variances):
        full = np.broadcast_to(np.diag(np.exp(log_variances)), got.shape)
        return -_expected_log_likelihood(X, resp, means, full)

    best = optimize.minimize(negative, np.zeros(N_FEATURES), method="BFGS", options={"gtol": 1e-9})
    np.testing.assert_allclose(np.diag(got[0]), np.exp(best.x), rtol=1e-5)
    assert -negative(np.log(np.diag(got[0]))) >= -best.fun - 1e-9 * abs(best.fun)


#: Models whose estimate is linear in the scatter (a sum or a trace), so that adding
#: n_k diag(reg) to each scatter moves the covariances by diag(reg) (or its mean); the
#: other models' regularised estimates are checked as constrained maxima of the
#: regularised scatter in test_covariance_models.py.
LINEAR_MODELS = ["full", "tied", "diag", "spherical", "EEI", "EII"]


@pytest.mark.parametrize("covariance_type", LINEAR_MODELS)
def test_regularisation_is_added_to_each_empirical_covariance(problem, covariance_type):
    """reg enters each component's empirical covariance before the model's constraint:
    for these models the covariances move by diag(reg) (spherical models: its mean)."""
    X, resp, *_ = problem
    reg = np.array([0.1, 0.2, 0.3, 0.4])
    model, _, plain = _m_step(covariance_type, X, resp)
    _, _, regularised = _m_step(covariance_type, X, resp, reg)
    full = [model.to_full(c, N_COMPONENTS, N_FEATURES) for c in (plain, regularised)]
    added = full[1] - full[0]
    spherical = model.mclust_name.endswith("II")
    floor = reg.mean() * np.ones(N_FEATURES) if spherical else reg
    np.testing.assert_allclose(added, np.broadcast_to(np.diag(floor), added.shape), atol=1e-12)


@pytest.mark.parametrize("covariance_type", sorted(MODELS))
def test_estimate_has_the_documented_shape(problem, covariance_type):
    X, resp, *_ = problem
    model, _, got = _m_step(covariance_type, X, resp)
    expected = {
        "full": (N_COMPONENTS, N_FEATURES, N_FEATURES),
        "tied": (N_FEATURES, N_FEATURES),
        "diag": (N_COMPONENTS, N_FEATURES),
        "spherical": (N_COMPONENTS,),
    }.get(covariance_type, (N_COMPONENTS, N_FEATURES, N_FEATURES))  # mclust's other models
    assert got.shape == expected == model.covariance_shape(N_COMPONENTS, N_FEATURES)
    assert len(model.dims) == len(expected)
    assert model.to_full(got, N_COMPONENTS, N_FEATURES).shape == (3, 4, 4)


@pytest.mark.parametrize(
    ("covariance_type", "expected"),
    [("spherical", 13), ("diag", 21), ("tied", 26), ("full", 41)],
)
def test_number_of_parameters(covariance_type, expected):
    """K=2, D=5: the counts of scikit-learn's test_gaussian_mixture_n_parameters."""
    n_components, n_features = 2, 5
    model = get_covariance_model(covariance_type)
    result = MixtureResult(
        weights=np.full(n_components, 0.5),
        means=np.zeros((n_components, n_features)),
        covariances=_identity(model, n_components, n_features),
        covariance_type=covariance_type,
    )
    assert result.n_parameters == expected
    mean_and_weights = n_components * n_features + n_components - 1
    assert model.n_parameters(n_components, n_features) == expected - mean_and_weights


def _identity(model, n_components, n_features):
    shape = model.covariance_shape(n_components, n_features)
    if model.dims[-2:] == ("feature", "feature_bis"):
        return np.broadcast_to(np.eye(n_features), shape).copy()
    return np.ones(shape)


@pytest.mark.parametrize(("n_components", "n_features"), [(1, 1), (2, 3), (4, 5)])
def test_mclust_parameter_counts(n_components, n_features):
    """Covariance parameters as mclust's nMclustParams counts them (minus weights, means)."""
    k, d = n_components, n_features
    expected = {"VII": k, "VVI": k * d, "EEE": d * (d + 1) // 2, "VVV": k * d * (d + 1) // 2}
    expected["EEI"] = d
    for name, count in expected.items():
        assert get_covariance_model(name).n_parameters(k, d) == count, name


def test_registry_names_and_aliases():
    for name, alias in zip(SKLEARN_TYPES, ("VVV", "EEE", "VVI", "VII"), strict=True):
        assert get_covariance_model(alias) is get_covariance_model(name)
        assert get_covariance_model(name).mclust_name == alias
    assert set(MODELS) <= set(COVARIANCE_TYPES)
    assert all(model.name == name for name, model in MODELS.items())


@pytest.mark.parametrize("covariance_type", sorted(MODELS))
def test_models_pickle_by_name(covariance_type):
    """A pickled estimator (or a pass sent to a dask worker) finds the same model."""
    model = get_covariance_model(covariance_type)
    assert pickle.loads(pickle.dumps(model)) is model
    assert pickle.loads(pickle.dumps(model.layout)) is model.layout


@pytest.mark.parametrize("covariance_type", sorted(MODELS))
def test_precision_round_trips(problem, covariance_type):
    X, resp, *_ = problem
    model, _, cov = _m_step(covariance_type, X, resp)
    prec = model.precision_cholesky(cov, np.full(N_COMPONENTS, 1 / N_COMPONENTS))
    np.testing.assert_allclose(model.covariances_from_precision_cholesky(prec), cov, rtol=1e-10)
    precisions = model.precisions(prec)
    full_precisions = model.to_full(precisions, N_COMPONENTS, N_FEATURES)
    full_cov = model.to_full(cov, N_COMPONENTS, N_FEATURES)
    np.testing.assert_allclose(
        full_precisions @ full_cov, np.broadcast_to(np.eye(4), (3, 4, 4)), atol=1e-9
    )
    np.testing.assert_allclose(
        model.precision_cholesky_from_precisions(precisions), prec, rtol=1e-9
    )


def test_eei_refuses_matrices_that_are_not_diagonal():
    with pytest.raises(ValueError, match="off-diagonal entries"):
        get_covariance_model("EEI").to_storage(np.ones((2, 3, 3)))


def test_full_precision_cholesky_names_the_failed_component():
    cov = np.stack([np.eye(2), np.array([[1.0, 1.0], [1.0, 1.0]]), np.eye(2)])
    with pytest.raises(CovarianceError, match=r"component 1 \(weight 0\.2\).*reg_covar"):
        get_covariance_model("full").precision_cholesky(cov, np.array([0.5, 0.2, 0.3]))


def test_tied_precision_cholesky_names_the_shared_covariance():
    with pytest.raises(CovarianceError, match="the shared covariance"):
        get_covariance_model("tied").precision_cholesky(
            np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.5, 0.5])
        )


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_diagonal_precision_cholesky_names_the_failed_component(covariance_type):
    cov = np.array([[1.0, 1.0], [1.0, 0.0]])
    if covariance_type == "spherical":
        cov = cov.min(axis=1)
    with pytest.raises(CovarianceError, match=r"component 1 \(weight 0\.75\)"):
        get_covariance_model(covariance_type).precision_cholesky(cov, np.array([0.25, 0.75]))


def test_batched_failure_names_the_component_not_the_draw():
    """A stack of posterior draws (S, K, D): the component index, never the draw's."""
    cov = np.ones((5, 3, 2))
    cov[4, 2, 1] = -1.0
    with pytest.raises(CovarianceError, match="component 2"):
        get_covariance_model("diag").precision_cholesky(cov, np.full((5, 3), 1 / 3))


def test_covariance_error_is_a_value_error():
    """Callers that catch ValueError (as for scikit-learn's message) still catch it."""
    assert issubclass(CovarianceError, ValueError)
