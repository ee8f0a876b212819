"""Student-t components (``family="t"``): EM against independent answers.

Checked against SciPy's multivariate t (densities), against simulations whose truth is
known (means, scales, weights and degrees of freedom recovered within their standard
errors), against the Gaussian fit as the degrees of freedom grow, against numerical
optimisation of the likelihood (EM's answer is a maximum), and against themselves
(engines, every covariance model, monotone ascent).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import special, stats

from bayesgmm import GaussianMixture, MixtureResult, load
from bayesgmm.covariance import MODELS
from bayesgmm.family import DOF_MAX, DOF_MIN, STUDENT_T

ALL_MODELS = sorted(MODELS)
TYPES = ["full", "tied", "diag", "spherical"]

TRUE_WEIGHTS = np.array([0.4, 0.6])
TRUE_MEANS = np.array([[-3.0, 0.0], [3.0, 1.0]])
TRUE_SCALES = np.array([[[1.0, 0.3], [0.3, 0.8]], [[1.5, -0.4], [-0.4, 0.6]]])
TRUE_DOF = np.array([3.0, 8.0])


def _t_mixture(n_samples, seed=0, weights=TRUE_WEIGHTS, means=TRUE_MEANS, scales=TRUE_SCALES,
               dof=TRUE_DOF):  # fmt: skip
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_samples, weights)
    parts = [
        stats.multivariate_t(loc=means[k], shape=scales[k], df=dof[k])
        .rvs(counts[k], random_state=rng)
        .reshape(counts[k], -1)
        for k in range(len(weights))
    ]
    labels = np.repeat(np.arange(len(weights)), counts)
    return np.concatenate(parts), labels


def _scipy_log_density(X, weights, means, scales, dof):
    return special.logsumexp(
        [
            np.log(weights[k])
            + stats.multivariate_t(loc=means[k], shape=scales[k], df=dof[k]).logpdf(X)
            for k in range(len(weights))
        ],
        axis=0,
    )


def _fit(X, **options):
    options = {"random_state": 0, "family": "t", **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(2, **options).fit(X)


def _ordered(fit):
    """Components ordered by their first mean coordinate (as the truth is)."""
    order = np.argsort(fit.means_[:, 0])
    return order


# ---------------------------------------------------------------- densities
@pytest.mark.parametrize("covariance_type", TYPES)
def test_score_samples_equal_scipy_multivariate_t(covariance_type):
    X, _ = _t_mixture(600, seed=1)
    fit = _fit(X, covariance_type=covariance_type)
    scales = fit.result_.draws()["covariances"].values[0, 0]
    expected = _scipy_log_density(X, fit.weights_, fit.means_, scales, fit.dof_)
    np.testing.assert_allclose(fit.score_samples(X), expected, rtol=1e-10, atol=1e-10)
    assert fit.score(X) == pytest.approx(fit.lower_bound_, rel=1e-9)


# ---------------------------------------------------------------- recovery of the truth
def _dof_standard_error(nu, n_features, n_rows):
    """Asymptotic standard error of nu with location and scale known (Lange, Little &
    Taylor 1989, eq. 6): a lower bound on the error with them estimated."""
    d = n_features
    information = 0.25 * (special.polygamma(1, nu / 2) - special.polygamma(1, (nu + d) / 2)) - (
        d * (nu + d + 4) / (2 * nu * (nu + d) * (nu + d + 2))
    )
    return 1.0 / np.sqrt(n_rows * information)


def test_recovers_means_scales_weights_and_dof_of_known_truth():
    n = 20000
    X, _ = _t_mixture(n, seed=2)
    fit = _fit(X, covariance_type="full", n_init=2)
    order = _ordered(fit)
    counts = n * TRUE_WEIGHTS
    # weights: binomial standard error; means: sd / sqrt(n_k) times the t's variance factor
    np.testing.assert_allclose(fit.weights_[order], TRUE_WEIGHTS, atol=5 * np.sqrt(0.24 / n))
    for k, j in enumerate(order):
        variance = np.diag(TRUE_SCALES[k]) * TRUE_DOF[k] / (TRUE_DOF[k] - 2)
        np.testing.assert_allclose(
            fit.means_[j], TRUE_MEANS[k], atol=5 * np.sqrt(variance.max() / counts[k])
        )
        # scale matrices: relative error of a covariance estimate ~ sqrt(2 / n_k), inflated
        # for heavy tails; 6 such errors
        np.testing.assert_allclose(
            fit.covariances_[j], TRUE_SCALES[k], atol=6 * np.sqrt(2 / counts[k]) * 1.5
        )
        error = _dof_standard_error(TRUE_DOF[k], 2, counts[k])
        assert abs(fit.dof_[j] - TRUE_DOF[k]) < 6 * error, (fit.dof_[j], TRUE_DOF[k], error)


def test_fixed_dof_is_kept_and_not_counted_as_a_parameter():
    X, _ = _t_mixture(1000, seed=3)
    estimated = _fit(X)
    fixed = _fit(X, dof=5.0)
    np.testing.assert_array_equal(fixed.dof_, [5.0, 5.0])
    assert estimated._n_parameters() == fixed._n_parameters() + 2
    assert estimated.result_.n_parameters == fixed.result_.n_parameters + 2
    n_gaussian = GaussianMixture(2).fit(X).result_.n_parameters
    assert fixed.result_.n_parameters == n_gaussian
    # the ECM's degrees of freedom maximise the likelihood over fixed ones
    assert estimated.score(X) >= fixed.score(X) - 1e-9


# ---------------------------------------------------------------- the Gaussian limit
@pytest.mark.parametrize("covariance_type", TYPES)
def test_large_dof_gives_the_gaussian_fit(covariance_type):
    """With nu = 1e6 every scale weight is 1 + O(delta / nu): the t fit is the Gaussian
    fit from the same start, to that order."""
    rng = np.random.default_rng(4)
    X = np.concatenate([rng.normal(-2, 1, (300, 2)), rng.normal(2, 0.7, (300, 2))])
    start = {"means_init": X[[0, 599]], "weights_init": [0.5, 0.5], "n_init": 1}
    gaussian = _fit(X, covariance_type=covariance_type, family="gaussian", tol=1e-10, **start)
    t = _fit(X, covariance_type=covariance_type, dof=1e6, tol=1e-10, **start)
    maha = -2 * gaussian.score_samples(X).min()  # bounds every delta_nk of the rows' component
    bound = 20 * maha / 1e6
    np.testing.assert_allclose(t.weights_, gaussian.weights_, atol=bound)
    np.testing.assert_allclose(t.means_, gaussian.means_, atol=bound)
    np.testing.assert_allclose(t.covariances_, gaussian.covariances_, atol=bound)
    assert t.score(X) == pytest.approx(gaussian.score(X), abs=bound)


def test_estimated_dof_of_gaussian_data_is_large():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(5000, 2)) @ np.array([[1.0, 0.5], [0.0, 1.0]])
    # plain ECM (a user's start runs plain EM) raises nu slowly toward the Gaussian
    # limit, and the warning says so
    start = {
        "weights_init": [1.0],
        "means_init": X.mean(axis=0)[None],
        "precisions_init": np.linalg.inv(np.cov(X.T))[None],
    }
    with pytest.warns(Warning, match="degrees of freedom .* still rising"):
        plain = GaussianMixture(1, family="t", max_iter=1000, **start).fit(X)
    assert plain.dof_[0] > 100
    # the default starts run SQUAREM, which reaches the optimum on the bound DOF_MAX
    fit = GaussianMixture(1, family="t", max_iter=1000).fit(X)
    assert fit.converged_ and fit.dof_[0] == pytest.approx(DOF_MAX)
    assert fit.score(X) >= plain.score(X)
    gaussian = GaussianMixture(1).fit(X)
    assert fit.score(X) < gaussian.score(X) + 1e-3  # no better than the Gaussian limit
    assert fit.bic(X) > gaussian.bic(X)  # and BIC prefers the Gaussian


# ---------------------------------------------------------------- EM is an ascent
@pytest.mark.parametrize(
    "covariance_type",
    # each model is a compile of its own for the t family: the layouts' four here, the
    # other ten with -m slow
    [name if name in TYPES else pytest.param(name, marks=pytest.mark.slow) for name in ALL_MODELS],
)
def test_em_never_decreases_the_t_log_likelihood(covariance_type):
    X, _ = _t_mixture(800, seed=6)
    history = np.array(
        _fit(
            X, covariance_type=covariance_type, init_params="random_from_data", n_init=1,
            tol=0.0, max_iter=40, reg_covar=0.0,
        ).lower_bounds_
    )  # fmt: skip
    rounding = len(X) * np.finfo(float).eps * np.abs(history).max()
    assert np.diff(history).min() >= -rounding
    assert history[-1] > history[0]


@pytest.mark.parametrize("covariance_type", TYPES)
def test_engines_agree_for_t(covariance_type):
    X, _ = _t_mixture(1500, seed=7)
    fits = [
        _fit(X, covariance_type=covariance_type, engine=engine, n_init=1, tol=0.0, max_iter=25)
        for engine in ("compiled", "blocks")
    ]
    np.testing.assert_allclose(fits[0].lower_bounds_, fits[1].lower_bounds_, rtol=1e-10)
    for name in ("weights_", "means_", "covariances_", "dof_"):
        np.testing.assert_allclose(getattr(fits[0], name), getattr(fits[1], name), rtol=1e-7,
                                   atol=1e-9)  # fmt: skip


def test_dask_t_fit_equals_numpy():
    da = pytest.importorskip("dask.array")
    X, _ = _t_mixture(3000, seed=8)
    weights = np.random.default_rng(1).uniform(0.5, 2, len(X))
    options = {  # a whole start: dask initialises from a sample of rows otherwise
        "n_init": 1, "tol": 0.0, "max_iter": 15, "means_init": X[[0, 2999]],
        "weights_init": [0.5, 0.5], "precisions_init": np.repeat(np.eye(2)[None], 2, axis=0),
    }  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        numpy_fit = GaussianMixture(2, family="t", random_state=0, **options).fit(
            X, sample_weight=weights
        )
        dask_fit = GaussianMixture(2, family="t", random_state=0, **options).fit(
            da.from_array(X, chunks=(700, 2)), sample_weight=da.from_array(weights, chunks=700)
        )
    for name in ("weights_", "means_", "covariances_", "dof_"):
        np.testing.assert_allclose(getattr(dask_fit, name), getattr(numpy_fit, name), rtol=1e-8)


# ---------------------------------------------------------------- EM's answer is a maximum
def test_em_answer_is_a_local_maximum_of_the_likelihood():
    """No direction improves the log-likelihood at EM's converged answer: its numerical
    gradient in (weights, means, Cholesky factors, log dof) vanishes."""
    X, _ = _t_mixture(1500, seed=9)
    fit = _fit(X, tol=1e-12, max_iter=2000, reg_covar=0.0)
    chol = np.linalg.cholesky(fit.covariances_)
    rows, cols = np.tril_indices(2)

    def unpack(theta):
        logit, rest = theta[:1], theta[1:]
        weights = special.softmax(np.r_[0.0, logit])
        means = rest[:4].reshape(2, 2)
        factors = np.zeros((2, 2, 2))
        factors[:, rows, cols] = rest[4:10].reshape(2, 3)
        return weights, means, factors @ factors.transpose(0, 2, 1), np.exp(rest[10:])

    def log_likelihood(theta):
        return _scipy_log_density(X, *unpack(theta)).mean()

    theta = np.r_[
        np.log(fit.weights_[1] / fit.weights_[0]), fit.means_.ravel(),
        chol[:, rows, cols].ravel(), np.log(fit.dof_),
    ]  # fmt: skip
    step = 1e-5
    gradient = [
        (log_likelihood(theta + step * e) - log_likelihood(theta - step * e)) / (2 * step)
        for e in np.eye(len(theta))
    ]
    # central differences: truncation O(step^2), rounding O(eps |ll| / step)
    assert np.abs(gradient).max() < 1e-6, gradient


# ---------------------------------------------------------------- the result object
def test_result_carries_dof_through_draws_sample_and_files(tmp_path):
    X, _ = _t_mixture(2000, seed=10)
    fit = _fit(X)
    result = fit.result_
    assert result.family == "t"
    np.testing.assert_array_equal(result.dof.values, fit.dof_)
    np.testing.assert_array_equal(result.draws()["dof"].values[0, 0], fit.dof_)
    path = tmp_path / "t.nc"
    result.save(path)
    loaded = load(path)
    assert loaded.family == "t" and loaded.estimate_dof
    np.testing.assert_array_equal(loaded.dof.values, fit.dof_)
    np.testing.assert_allclose(loaded.log_prob(X).values, result.log_prob(X).values, rtol=1e-12)
    assert loaded.n_parameters == result.n_parameters


def test_sample_draws_from_the_t_mixture():
    result = MixtureResult(
        weights=np.array([1.0]), means=np.zeros((1, 1)), covariances=np.array([2.0]),
        covariance_type="spherical", family="t", dof=[3.0],
    )  # fmt: skip
    X = result.sample(20000, random_state=0)
    law = stats.t(3.0, loc=0.0, scale=np.sqrt(2.0))
    assert stats.kstest(X[:, 0], law.cdf).pvalue > 1e-3


def test_bad_family_options_are_refused_clearly():
    X, _ = _t_mixture(200, seed=11)
    with pytest.raises(ValueError, match="family"):
        GaussianMixture(2, family="student").fit(X)
    with pytest.raises(ValueError, match="dof.*family='t'"):
        GaussianMixture(2, dof=4.0).fit(X)
    with pytest.raises(ValueError, match="dof"):
        GaussianMixture(2, family="t", dof=-1.0).fit(X)
    with pytest.raises(ValueError, match="dof"):
        MixtureResult(
            weights=np.ones(1), means=np.zeros((1, 1)), covariances=np.ones(1),
            covariance_type="spherical", family="t",
        )  # fmt: skip


def test_dof_bounds_hold():
    """Cauchy-like data drive nu to its floor, never below; nu stays within bounds."""
    rng = np.random.default_rng(12)
    X = rng.standard_cauchy((3000, 1)) * 0.5
    fit = GaussianMixture(1, family="t").fit(X)
    assert DOF_MIN <= fit.dof_[0] <= DOF_MAX
    assert fit.dof_[0] == pytest.approx(1.0, abs=0.15)
    assert STUDENT_T.n_parameters(3, True) == 3


# ---------------------------------------------------------------- risk of a t mixture
def _two_asset_t():
    return MixtureResult(
        weights=np.array([0.3, 0.7]),
        means=np.array([[-1.0, 0.5], [0.2, 0.1]]),
        covariances=np.array([[[4.0, 1.0], [1.0, 2.0]], [[1.0, 0.2], [0.2, 0.5]]]),
        covariance_type="full", family="t", dof=[3.5, 8.0],
    )  # fmt: skip


def test_portfolio_var_and_es_of_a_t_mixture_equal_quadrature():
    """A portfolio of t components is a 1-D t mixture: its quantile by root finding on
    SciPy's t cdf and its ES by numerical integration of SciPy's t pdf."""
    from scipy import integrate, optimize

    from bayesgmm.risk import expected_shortfall, value_at_risk

    result, x, alpha = _two_asset_t(), np.array([0.6, 0.4]), 0.01
    w, mu, cov, nu = result._weights, result._means, result._covariances, result._dof
    loc, scale = mu @ x, np.sqrt(np.einsum("d,kde,e->k", x, cov, x))
    laws = [stats.t(nu[k], loc[k], scale[k]) for k in range(2)]
    q = optimize.brentq(lambda r: sum(w[k] * laws[k].cdf(r) for k in range(2)) - alpha, -50, 50)
    tail = integrate.quad(lambda r: r * sum(w[k] * laws[k].pdf(r) for k in range(2)), -np.inf, q)
    assert value_at_risk(result, alpha, portfolio=x).value == pytest.approx(-q, rel=1e-10)
    assert expected_shortfall(result, alpha, portfolio=x).value == pytest.approx(
        -tail[0] / alpha, rel=1e-8
    )


@pytest.mark.parametrize("measure", ["expected_shortfall", "value_at_risk"])
def test_t_risk_contributions_are_euler_derivatives(measure):
    """Contributions x_i dRisk/dx_i against central differences, summing to the risk."""
    from bayesgmm import risk

    result, x, alpha = _two_asset_t(), np.array([0.6, 0.4]), 0.01
    measure_of = getattr(risk, measure)
    parts = risk.risk_contributions(result, x, alpha, measure=measure).value
    step = 1e-6
    derivative = [
        (measure_of(result, alpha, portfolio=x + step * e).value
         - measure_of(result, alpha, portfolio=x - step * e).value) / (2 * step)
        for e in np.eye(2)
    ]  # fmt: skip
    np.testing.assert_allclose(parts, x * np.array(derivative), rtol=1e-6)
    assert parts.sum() == pytest.approx(measure_of(result, alpha, portfolio=x).value, rel=1e-10)


def test_t_var_matches_its_own_samples_and_cauchy_es_is_infinite():
    from bayesgmm.risk import expected_shortfall, value_at_risk

    result, x = _two_asset_t(), np.array([0.6, 0.4])
    returns = result.sample(200_000, random_state=1) @ x
    var = value_at_risk(result, 0.05, portfolio=x).value
    share = np.mean(returns <= -var)  # binomial standard error sqrt(0.05 * 0.95 / n)
    assert abs(share - 0.05) < 5 * np.sqrt(0.05 * 0.95 / len(returns))
    cauchy = MixtureResult(
        weights=np.ones(1), means=np.zeros((1, 1)), covariances=np.ones(1),
        covariance_type="spherical", family="t", dof=[1.0],
    )  # fmt: skip
    assert value_at_risk(cauchy, 0.05).value == pytest.approx(-stats.cauchy.ppf(0.05), rel=1e-10)
    assert expected_shortfall(cauchy, 0.05).value == np.inf


def test_a_t_file_without_dof_is_refused(tmp_path):
    import xarray as xr

    result = _two_asset_t()
    dataset = result.to_dataset()
    with pytest.raises(ValueError, match="needs 'dof'"):
        MixtureResult.from_dataset(dataset.drop_vars("dof"))
    gaussian = dataset.assign_attrs(family="gaussian")
    with pytest.raises(ValueError, match="family is 'gaussian'"):
        MixtureResult.from_dataset(gaussian)
    bad = dataset.assign(dof=xr.DataArray([-1.0, 3.0], dims=("component",)))
    with pytest.raises(ValueError, match="positive finite"):
        MixtureResult.from_dataset(bad)
