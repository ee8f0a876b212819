"""Risk measures against closed forms, Monte Carlo, finite differences and posterior draws."""

import numpy as np
import pandas as pd
import pytest
from bayes_fakes import fake_posterior_result
from scipy import stats

from bayesgmm import GaussianMixture, MixtureResult
from bayesgmm.risk import (
    RiskEstimate,
    cdf,
    expected_shortfall,
    mixture_cdf,
    mixture_parameters_1d,
    mixture_quantile,
    mixture_shortfall,
    quantile,
    risk_contributions,
    value_at_risk,
)

WEIGHTS = np.array([0.25, 0.75])
MEANS = np.array([[-0.5], [0.1]])
VARIANCES = np.array([9.0, 1.0])


def _mixture(weights=WEIGHTS, means=MEANS, variances=VARIANCES):
    return MixtureResult(
        weights=weights, means=means, covariances=variances, covariance_type="spherical"
    )


@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.05, 0.5])
@pytest.mark.parametrize(("mu", "sigma"), [(0.0, 1.0), (0.3, 2.5), (-1.0, 0.2)])
def test_one_component_matches_the_normal_closed_form(alpha, mu, sigma):
    fit = _mixture(np.array([1.0]), np.array([[mu]]), np.array([sigma**2]))
    z = stats.norm.ppf(alpha)
    assert value_at_risk(fit, alpha).value == pytest.approx(-(mu + sigma * z), abs=1e-10)
    es = -(mu - sigma * stats.norm.pdf(z) / alpha)
    assert expected_shortfall(fit, alpha).value == pytest.approx(es, rel=1e-10)


def test_cdf_matches_scipy_sum_of_normals():
    x = np.linspace(-8, 8, 33)
    expected = sum(
        w * stats.norm.cdf(x, m[0], np.sqrt(v))
        for w, m, v in zip(WEIGHTS, MEANS, VARIANCES, strict=True)
    )
    np.testing.assert_allclose(cdf(_mixture(), x).value, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("q", [1e-6, 0.01, 0.3, 0.5, 0.99])
def test_quantile_inverts_cdf(q):
    fit = _mixture()
    assert cdf(fit, quantile(fit, q).value).value == pytest.approx(q, rel=1e-9)


def test_expected_shortfall_matches_monte_carlo_and_exceeds_var():
    fit = _mixture()
    draws = fit.sample(2_000_000, random_state=0)[:, 0]
    for alpha in (0.01, 0.05):
        var = value_at_risk(fit, alpha).value
        es = expected_shortfall(fit, alpha).value
        assert es > var
        tail = draws[draws <= -var]
        assert np.mean(draws <= -var) == pytest.approx(alpha, rel=0.03)
        assert es == pytest.approx(-tail.mean(), rel=0.01)


def test_array_levels_give_arrays():
    fit = _mixture()
    levels = np.array([0.01, 0.05])
    var = value_at_risk(fit, levels)
    assert var.value.shape == (2,)
    assert var.value[0] > var.value[1]
    assert var.value[1] == pytest.approx(value_at_risk(fit, 0.05).value)


def test_em_fit_returns_a_point():
    rng = np.random.default_rng(0)
    returns = np.concatenate([rng.normal(0, 1, 900), rng.normal(0, 3, 100)])[:, None]
    fit = GaussianMixture(2, random_state=0).fit(returns)
    estimate = value_at_risk(fit, 0.01)
    assert isinstance(estimate, RiskEstimate) and not estimate.is_bayesian
    assert estimate.lower is None and estimate.draws is None
    assert float(estimate) == estimate.value
    assert "value_at_risk" in repr(estimate)


def test_bayesian_fit_gives_posterior_mean_and_interval():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 1))
    fit = fake_posterior_result(WEIGHTS, MEANS, VARIANCES[:, None, None], X, draws=60, spread=0.05)
    weights, means, sds, bayesian = mixture_parameters_1d(fit)
    assert bayesian and weights.shape == (120, 2)
    estimate = value_at_risk(fit, 0.01, ci_prob=0.9)
    assert estimate.is_bayesian and estimate.draws.shape == (120,)
    # each draw's VaR is the VaR of that draw's mixture
    for s in (0, 77):
        point = _mixture(weights[s], means[s][:, None], sds[s] ** 2)
        assert estimate.draws[s] == pytest.approx(value_at_risk(point, 0.01).value, rel=1e-9)
    assert estimate.value == pytest.approx(estimate.draws.mean())
    assert estimate.lower < estimate.value < estimate.upper
    assert estimate.lower == pytest.approx(np.quantile(estimate.draws, 0.05))
    assert "90% credible interval" in repr(estimate)
    es = expected_shortfall(fit, [0.01, 0.05])
    assert es.draws.shape == (120, 2) and (es.draws[:, 0] > es.draws[:, 1]).all()


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda f: value_at_risk(f, 0.0), ValueError, "between 0 and 1"),
        (lambda f: expected_shortfall(f, 1.5), ValueError, "between 0 and 1"),
        (lambda f: quantile(f, [0.5, -0.1]), ValueError, "between 0 and 1"),
        (lambda f: value_at_risk("model"), TypeError, "MixtureResult"),
    ],
)
def test_bad_input_raises_clear_errors(call, error, text):
    with pytest.raises(error, match=text):
        call(_mixture())


def test_two_feature_fit_is_refused():
    fit = MixtureResult(
        weights=np.array([1.0]),
        means=np.zeros((1, 2)),
        covariances=np.ones(1),
        covariance_type="spherical",
    )
    with pytest.raises(ValueError, match="one variable"):
        value_at_risk(fit)


def _per_draw_reference(name, weights, means, sds, at):
    """The quantity for one draw's mixture, from SciPy alone (root finding, quadrature)."""
    from scipy import integrate, optimize

    def mixture_cdf(x):
        return float(np.sum(weights * stats.norm.cdf(x, means, sds)))

    if name == "cdf":
        return mixture_cdf(at)
    q = optimize.brentq(lambda x: mixture_cdf(x) - at, -100.0, 100.0, xtol=1e-14, rtol=1e-14)
    if name == "quantile":
        return q
    if name == "value_at_risk":
        return -q
    tail, _ = integrate.quad(
        lambda x: x * np.sum(weights * stats.norm.pdf(x, means, sds)), -np.inf, q, epsabs=1e-13
    )
    return -tail / at


@pytest.mark.parametrize(
    ("function", "at"),
    [(cdf, -1.5), (quantile, 0.2), (value_at_risk, 0.01), (expected_shortfall, 0.05)],
)
def test_bayesian_interval_is_the_equal_tailed_interval_of_the_draws(function, at):
    """At the default ci_prob=0.94 the bounds are the 3 % and 97 % quantiles of the per-draw
    values (a bound taken at ci_prob, or at 1 - ci_prob, fails), and each draw's value is
    that draw's mixture's, computed by SciPy."""
    X = np.random.default_rng(2).normal(size=(30, 1))
    fit = fake_posterior_result(WEIGHTS, MEANS, VARIANCES[:, None, None], X, draws=50, spread=0.1)
    posterior = fit.posterior.posterior
    weights = posterior["weights"].values.reshape(-1, 2)
    means = posterior["means"].values.reshape(-1, 2)
    sds = np.sqrt(posterior["covariances"].values.reshape(-1, 2))
    draws = zip(weights, means, sds, strict=True)
    expected = np.array([_per_draw_reference(function.__name__, *draw, at) for draw in draws])
    estimate = function(fit, at)
    np.testing.assert_allclose(estimate.draws, expected, rtol=1e-9, atol=1e-12)
    assert estimate.ci_prob == 0.94
    assert estimate.lower == pytest.approx(np.quantile(expected, 0.03), rel=1e-9)
    assert estimate.upper == pytest.approx(np.quantile(expected, 0.97), rel=1e-9)
    assert estimate.value == pytest.approx(expected.mean(), rel=1e-9)
    # the draws spread enough that bounds at the wrong levels would be other numbers
    assert not np.isclose(np.quantile(expected, 0.94), np.quantile(expected, 0.97), rtol=1e-6)
    assert not np.isclose(np.quantile(expected, 0.06), np.quantile(expected, 0.03), rtol=1e-6)


def test_em_parameters_are_the_fits_own():
    fit = GaussianMixture(2, covariance_type="diag", random_state=0).fit(
        np.random.default_rng(3).normal(size=(200, 1)) * [[2.0]]
    )
    weights, means, sds, bayesian = mixture_parameters_1d(fit)
    assert not bayesian and weights.shape == means.shape == sds.shape == (2,)
    np.testing.assert_array_equal(weights, fit.weights_)
    np.testing.assert_array_equal(means, fit.means_[:, 0])
    np.testing.assert_allclose(sds, np.sqrt(fit.covariances_[:, 0]), rtol=1e-15)


# ---------------------------------------------------------------------- portfolios
ASSET_WEIGHTS = np.array([0.6, 0.4])
ASSET_MEANS = np.array([[0.05, 0.02, 0.04], [-0.4, -0.6, -0.3]])
ASSET_COVARIANCES = np.array(
    [
        [[1.0, 0.3, 0.2], [0.3, 0.8, 0.1], [0.2, 0.1, 1.5]],
        [[6.0, 4.0, 3.0], [4.0, 5.0, 2.5], [3.0, 2.5, 7.0]],
    ]
)
PORTFOLIOS = np.array([[1 / 3, 1 / 3, 1 / 3], [0.7, 0.2, 0.1], [1.0, -0.5, 0.2]])


def _assets():
    return MixtureResult(
        weights=ASSET_WEIGHTS,
        means=ASSET_MEANS,
        covariances=ASSET_COVARIANCES,
        covariance_type="full",
        feature_names=["a", "b", "c"],
    )


def _projected(x, weights=ASSET_WEIGHTS, means=ASSET_MEANS, covariances=ASSET_COVARIANCES):
    """The 1-D mixture of the portfolio return x . r, built by hand."""
    return MixtureResult(
        weights=weights,
        means=(means @ x)[:, None],
        covariances=np.einsum("d,kde,e->k", x, covariances, x),
        covariance_type="spherical",
    )


@pytest.mark.parametrize(
    ("function", "at"),
    [(value_at_risk, 0.01), (expected_shortfall, 0.025), (quantile, 0.3), (cdf, -1.0)],
)
def test_portfolio_risk_is_the_risk_of_the_projected_mixture(function, at):
    """x . r of a normal mixture is the mixture of x . mu_k, x' Sigma_k x: one portfolio,
    or many at once, give the 1-D function's value on that mixture."""
    fit = _assets()
    many = function(fit, at, portfolio=PORTFOLIOS).value
    assert many.shape == (len(PORTFOLIOS),)
    for m, x in enumerate(PORTFOLIOS):
        expected = function(_projected(x), at).value
        assert function(fit, at, portfolio=x).value == pytest.approx(expected, rel=1e-12)
        assert many[m] == pytest.approx(expected, rel=1e-12)


def test_portfolios_times_levels_give_a_grid():
    fit = _assets()
    levels = np.array([0.01, 0.05])
    grid = value_at_risk(fit, levels, portfolio=PORTFOLIOS).value
    assert grid.shape == (3, 2)
    for m, x in enumerate(PORTFOLIOS):
        np.testing.assert_allclose(grid[m], value_at_risk(fit, levels, portfolio=x).value)


@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_portfolio_var_and_es_match_monte_carlo(alpha):
    """Returns sampled from the fit: the exceedance rate of the VaR is alpha within its
    binomial standard error, and the mean loss beyond the VaR is the ES within the
    standard error of a tail mean (5 standard errors each)."""
    fit, x, n = _assets(), PORTFOLIOS[1], 400_000
    returns = fit.sample(n, random_state=1) @ x
    var = value_at_risk(fit, alpha, portfolio=x).value
    es = expected_shortfall(fit, alpha, portfolio=x).value
    tail = returns[returns <= -var]
    assert abs(len(tail) / n - alpha) < 5 * np.sqrt(alpha * (1 - alpha) / n)
    assert abs(-tail.mean() - es) < 5 * tail.std() / np.sqrt(len(tail))


def test_portfolio_of_a_fitted_em_model_matches_its_projection():
    rng = np.random.default_rng(4)
    X = np.concatenate(
        [
            rng.multivariate_normal(m, c, size=n)
            for m, c, n in zip(ASSET_MEANS, ASSET_COVARIANCES, [600, 400], strict=True)
        ]
    )
    fit = GaussianMixture(2, covariance_type="full", random_state=0).fit(X)
    x = PORTFOLIOS[0]
    projected = _projected(x, fit.weights_, fit.means_, fit.covariances_)
    assert value_at_risk(fit, 0.01, portfolio=x).value == pytest.approx(
        value_at_risk(projected, 0.01).value, rel=1e-12
    )


@pytest.mark.parametrize("component", [0, 1])
def test_risk_within_a_regime_is_the_normals_closed_form(component):
    fit, x, alpha = _assets(), PORTFOLIOS[0], 0.02
    mu = ASSET_MEANS[component] @ x
    sigma = np.sqrt(x @ ASSET_COVARIANCES[component] @ x)
    z = stats.norm.ppf(alpha)
    var = value_at_risk(fit, alpha, portfolio=x, component=component).value
    es = expected_shortfall(fit, alpha, portfolio=x, component=component).value
    assert var == pytest.approx(-(mu + sigma * z), rel=1e-12)
    assert es == pytest.approx(-(mu - sigma * stats.norm.pdf(z) / alpha), rel=1e-12)
    one_d = _mixture()
    sd = np.sqrt(VARIANCES[component])
    expected = -(MEANS[component, 0] + sd * z)
    assert value_at_risk(one_d, alpha, component=component).value == pytest.approx(expected)


@pytest.mark.parametrize("measure", ["value_at_risk", "expected_shortfall"])
@pytest.mark.parametrize("x", list(PORTFOLIOS))
def test_contributions_sum_to_the_risk_and_are_weight_times_gradient(measure, x):
    """Euler allocation: x_i dRisk/dx_i, checked by central differences. The risk is
    exact to a few ulps of |q| (bisection to float64), so with h = 1e-5 the difference
    quotient's rounding is ~1e-11 relative and its truncation O(h^2) ~1e-10: 1e-7 of the
    risk is far above both."""
    fit, alpha = _assets(), 0.025
    function = value_at_risk if measure == "value_at_risk" else expected_shortfall
    parts = risk_contributions(fit, x, alpha, measure=measure)
    total = function(fit, alpha, portfolio=x).value
    assert parts.features == ("a", "b", "c") and parts.value.shape == (3,)
    assert parts.value.sum() == pytest.approx(total, rel=1e-10)
    h = 1e-5
    for i in range(3):
        step = np.zeros(3)
        step[i] = h
        up = function(fit, alpha, portfolio=x + step).value
        down = function(fit, alpha, portfolio=x - step).value
        assert parts.value[i] == pytest.approx(x[i] * (up - down) / (2 * h), abs=1e-7 * total)


def test_es_contributions_match_monte_carlo_tail_means():
    """The ES contribution of asset i is -x_i E[r_i | x . r <= q]: the tail mean of the
    sampled asset returns, within 5 of its standard errors."""
    fit, x, alpha, n = _assets(), PORTFOLIOS[1], 0.05, 400_000
    X = fit.sample(n, random_state=2)
    var = value_at_risk(fit, alpha, portfolio=x).value
    tail = X[X @ x <= -var]
    expected = -x * tail.mean(axis=0)
    error = np.abs(x) * tail.std(axis=0) / np.sqrt(len(tail))
    parts = risk_contributions(fit, x, alpha).value
    assert (np.abs(parts - expected) < 5 * error).all()


def test_many_portfolios_contributions_equal_one_at_a_time():
    fit = _assets()
    many = risk_contributions(fit, PORTFOLIOS, 0.01).value
    assert many.shape == (3, 3)
    for m, x in enumerate(PORTFOLIOS):
        np.testing.assert_allclose(many[m], risk_contributions(fit, x, 0.01).value, rtol=1e-12)


def test_bayesian_portfolio_risk_is_per_draw_with_bands():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 3))
    fit = fake_posterior_result(
        ASSET_WEIGHTS,
        ASSET_MEANS,
        ASSET_COVARIANCES,
        X,
        draws=40,
        spread=0.05,
        feature_names=["a", "b", "c"],
    )
    x = PORTFOLIOS[2]
    var = value_at_risk(fit, 0.01, portfolio=x)
    parts = risk_contributions(fit, x, 0.01)
    es = expected_shortfall(fit, 0.01, portfolio=x)
    posterior = fit.posterior.posterior
    weights = posterior["weights"].values.reshape(80, 2)
    means = posterior["means"].values.reshape(80, 2, 3)
    covariances = posterior["covariances"].values.reshape(80, 2, 3, 3)
    assert var.draws.shape == (80,) and parts.draws.shape == (80, 3)
    for s in (0, 41, 79):
        point = _projected(x, weights[s], means[s], covariances[s])
        assert var.draws[s] == pytest.approx(value_at_risk(point, 0.01).value, rel=1e-10)
    np.testing.assert_allclose(parts.draws.sum(axis=1), es.draws, rtol=1e-10)
    assert (parts.lower < parts.value).all() and (parts.value < parts.upper).all()
    assert var.lower == pytest.approx(np.quantile(var.draws, 0.03))


def test_portfolio_labels_align_on_feature_names():
    fit = _assets()
    x = PORTFOLIOS[1]
    expected = value_at_risk(fit, 0.01, portfolio=x).value
    series = pd.Series(x[::-1], index=["c", "b", "a"])
    assert value_at_risk(fit, 0.01, portfolio=series).value == pytest.approx(expected)
    frame = pd.DataFrame([x[[1, 2, 0]]], columns=["b", "c", "a"])
    assert value_at_risk(fit, 0.01, portfolio=frame).value[0] == pytest.approx(expected)
    parts = risk_contributions(fit, series, 0.01).value
    np.testing.assert_allclose(parts, risk_contributions(fit, x, 0.01).value)


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda f: value_at_risk(f), ValueError, "pass portfolio="),
        (lambda f: value_at_risk(f, portfolio=[1.0, 0.0]), ValueError, r"expected \(3,\)"),
        (lambda f: value_at_risk(f, portfolio=[0.0, 0.0, 0.0]), ValueError, "not all zero"),
        (lambda f: value_at_risk(f, portfolio=[np.nan, 1, 1]), ValueError, "finite"),
        (
            lambda f: value_at_risk(f, portfolio=pd.Series([1.0, 1.0, 1.0], index=list("abd"))),
            ValueError,
            "do not match",
        ),
        (lambda f: value_at_risk(f, portfolio=[1, 1, 1], component=2), ValueError, "0 to 1"),
        (lambda f: value_at_risk(f, portfolio=[1, 1, 1], component=0.5), TypeError, "an int"),
        (lambda f: risk_contributions(f, [1, 1, 1], [0.01, 0.05]), ValueError, "one level"),
        (lambda f: risk_contributions(f, [1, 1, 1], measure="sd"), ValueError, "measure"),
    ],
)
def test_bad_portfolio_input_raises_clear_errors(call, error, text):
    with pytest.raises(error, match=text):
        call(_assets())


def test_array_level_functions_agree_with_scipy():
    weights, means, sds = [0.3, 0.7], [-1.0, 0.5], [2.0, 1.0]
    x = np.array([-3.0, 0.0, 2.0])
    expected = sum(w * stats.norm.cdf(x, m, s) for w, m, s in zip(weights, means, sds, strict=True))
    np.testing.assert_allclose(mixture_cdf(x, weights, means, sds), expected, rtol=1e-14)
    q = mixture_quantile([0.01, 0.5], weights, means, sds)
    np.testing.assert_allclose(mixture_cdf(q, weights, means, sds), [0.01, 0.5], rtol=1e-12)
    var, es = mixture_shortfall(0.01, weights, means, sds)
    fit = _mixture(np.array(weights), np.array(means)[:, None], np.array(sds) ** 2)
    assert var == pytest.approx(value_at_risk(fit, 0.01).value, rel=1e-14)
    assert es == pytest.approx(expected_shortfall(fit, 0.01).value, rel=1e-14)
