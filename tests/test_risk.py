"""Risk measures of 1-D mixtures against closed forms, Monte Carlo and posterior draws."""

import numpy as np
import pytest
from bayes_fakes import fake_posterior_result
from scipy import stats

from bayesgmm import GaussianMixture, MixtureResult
from bayesgmm.risk import (
    Backtest,
    RiskEstimate,
    backtest,
    cdf,
    expected_shortfall,
    mixture_parameters_1d,
    quantile,
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


def test_backtest_counts_and_kupiec_statistic():
    returns = np.array([-3.0, 0.5, 1.0, -0.2, 0.1, -2.5, 0.3, 0.0, 0.4, 1.2])
    result = backtest(returns, 2.0, alpha=0.1)
    assert isinstance(result, Backtest)
    assert result.n_exceedances == 2 and result.n_observations == 10
    assert result.exceedances.tolist() == [True] + [False] * 4 + [True] + [False] * 4
    n, x, a = 10, 2, 0.1
    lr = -2 * ((n - x) * np.log(1 - a) + x * np.log(a) - (n - x) * np.log(0.8) - x * np.log(0.2))
    assert result.lr_statistic == pytest.approx(lr)
    assert result.p_value == pytest.approx(stats.chi2.sf(lr, 1))


def test_backtest_accepts_a_rolling_var_and_a_risk_estimate():
    returns = np.array([-1.0, -1.0, -1.0])
    assert backtest(returns, np.array([0.5, 2.0, 0.9]), 0.05).n_exceedances == 2
    estimate = RiskEstimate("value_at_risk", 0.05, 0.5)
    assert backtest(returns, estimate, 0.05).n_exceedances == 3
    assert backtest(np.zeros(5), 1.0, 0.05).lr_statistic >= 0


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda f: value_at_risk(f, 0.0), ValueError, "between 0 and 1"),
        (lambda f: expected_shortfall(f, 1.5), ValueError, "between 0 and 1"),
        (lambda f: quantile(f, [0.5, -0.1]), ValueError, "between 0 and 1"),
        (lambda f: value_at_risk("model"), TypeError, "MixtureResult"),
        (lambda f: backtest(np.zeros(3), np.ones(2), 0.05), ValueError, "one VaR"),
        (lambda f: backtest([np.nan, 0.0], 1.0, 0.05), ValueError, "finite"),
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
