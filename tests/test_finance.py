"""Backtests (closed forms, a published table, simulated rejection rates) and rolling refits."""

import itertools
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from bayes_fakes import fake_posterior_result
from scipy import stats

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bayesgmm import GaussianMixture, MixtureResult  # noqa: E402
from bayesgmm.exceptions import ConvergenceWarning  # noqa: E402
from bayesgmm.finance import (  # noqa: E402
    Backtest,
    RiskForecast,
    RollingFit,
    ShortfallBacktest,
    backtest,
    es_backtest,
    rolling_fit,
)
from bayesgmm.plot import (  # noqa: E402
    plot_regime_probabilities,
    plot_risk_contributions,
    plot_var_backtest,
)
from bayesgmm.risk import (  # noqa: E402
    RiskEstimate,
    expected_shortfall,
    mixture_shortfall,
    risk_contributions,
    value_at_risk,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _normal(sd=1.0):
    return MixtureResult(
        weights=np.array([1.0]),
        means=np.array([[0.0]]),
        covariances=np.array([sd**2]),
        covariance_type="spherical",
    )


# ---------------------------------------------------------------------- VaR backtests
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
    assert backtest(returns, estimate).alpha == 0.05  # the level comes with the estimate
    assert backtest(np.zeros(5), 1.0, 0.05).lr_statistic >= 0


# Jorion, P. (2007). Value at Risk, 3rd ed., McGraw-Hill, Table 6-3 "Model backtesting,
# 95 % nonrejection test confidence regions" (from Kupiec 1995): the exceedance counts
# N that Kupiec's test does not reject at the 5 % level, as open intervals low < N < high.
KUPIEC_TABLE = {
    (0.01, 510): (1, 11),
    (0.01, 1000): (4, 17),
    (0.025, 252): (2, 12),
    (0.025, 510): (6, 21),
    (0.025, 1000): (15, 36),
    (0.05, 252): (6, 20),
    (0.05, 510): (16, 36),
    (0.05, 1000): (37, 65),
    (0.075, 252): (11, 28),
    (0.075, 510): (27, 51),
    (0.075, 1000): (59, 92),
    (0.10, 252): (16, 36),
    (0.10, 510): (38, 65),
    (0.10, 1000): (81, 120),
}


def _kupiec_p(n, x, alpha):
    returns = np.where(np.arange(n) < x, -2.0, 0.0)
    return backtest(returns, 1.0, alpha).p_value


@pytest.mark.parametrize(("level", "n"), sorted(KUPIEC_TABLE))
def test_kupiec_nonrejection_regions_match_the_published_table(level, n):
    low, high = KUPIEC_TABLE[level, n]
    assert _kupiec_p(n, low, level) < 0.05 <= _kupiec_p(n, low + 1, level)
    assert _kupiec_p(n, high - 1, level) >= 0.05 > _kupiec_p(n, high, level)


def test_kupiec_table_first_cell_upper_bound():
    """Jorion's cell p = 0.01, T = 252 reads "N < 7" (no lower bound given)."""
    assert _kupiec_p(252, 6, 0.01) >= 0.05 > _kupiec_p(252, 7, 0.01)


def test_christoffersen_statistics_match_the_closed_form():
    """Transitions of 0 0 1 1 0 0 0 1 0 0: n00 = 4, n01 = 2, n10 = 2, n11 = 1; the
    likelihood ratios as rugarch's ``.LR.cc`` writes them."""
    hits = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0], dtype=bool)
    result = backtest(np.where(hits, -2.0, 0.0), 1.0, alpha=0.2)
    np.testing.assert_array_equal(result.transitions, [[4, 2], [2, 1]])
    n00, n01, n10, n11 = 4, 2, 2, 1
    pi0, pi1, pi = n01 / (n00 + n01), n11 / (n10 + n11), (n01 + n11) / 9
    log_alt = n00 * np.log(1 - pi0) + n01 * np.log(pi0) + n10 * np.log(1 - pi1)
    log_alt += n11 * np.log(pi1)
    log_null = (n00 + n10) * np.log(1 - pi) + (n01 + n11) * np.log(pi)
    independence = 2 * (log_alt - log_null)
    kupiec = -2 * (7 * np.log(0.8) + 3 * np.log(0.2) - 7 * np.log(0.7) - 3 * np.log(0.3))
    assert result.independence_statistic == pytest.approx(independence, rel=1e-12)
    assert result.lr_statistic == pytest.approx(kupiec, rel=1e-12)
    assert result.coverage_statistic == pytest.approx(kupiec + independence, rel=1e-12)
    assert result.independence_p_value == pytest.approx(stats.chi2.sf(independence, 1))
    assert result.coverage_p_value == pytest.approx(stats.chi2.sf(kupiec + independence, 2))
    table = result.table()
    assert table["df"].tolist() == [1, 1, 2]
    assert table["p_value"].iloc[2] == result.coverage_p_value
    assert "independence LR" in repr(result)


@pytest.mark.parametrize(
    ("hits", "independence"),
    [
        (np.zeros(50, bool), 0.0),  # no exceedance: nothing to cluster
        (np.r_[np.zeros(49, bool), True], 0.0),  # one at the end: pi_11 has no data
    ],
)
def test_christoffersen_edge_cases_are_finite(hits, independence):
    result = backtest(np.where(hits, -2.0, 0.0), 1.0, alpha=0.02)
    assert result.independence_statistic == pytest.approx(independence, abs=1e-12)
    assert np.isfinite(result.coverage_statistic) and result.independence_p_value <= 1


def test_every_day_an_exceedance_is_finite():
    result = backtest(-np.ones(20), 0.5, alpha=0.05)
    assert result.n_exceedances == 20 and result.independence_statistic == 0.0
    assert np.isfinite(result.lr_statistic) and result.p_value < 1e-10


def test_tests_reject_at_their_nominal_level_when_the_var_is_right():
    """Independent Bernoulli(alpha) exceedances, 2000 days at alpha = 0.05 (100 expected,
    where the chi-squared laws hold): each test rejects at 5 % in 5 % of 2000 simulations,
    within 4 Monte Carlo standard errors (0.0049 each)."""
    rng = np.random.default_rng(0)
    n_sim, n, alpha = 2000, 2000, 0.05
    rejections = np.zeros(3)
    for _ in range(n_sim):
        hits = rng.random(n) < alpha
        result = backtest(np.where(hits, -2.0, 0.0), 1.0, alpha)
        p = np.array([result.p_value, result.independence_p_value, result.coverage_p_value])
        rejections += p < 0.05
    se = np.sqrt(0.05 * 0.95 / n_sim)
    np.testing.assert_array_less(np.abs(rejections / n_sim - 0.05), 4 * se)


def test_independence_test_detects_clustered_exceedances():
    """A Markov chain of exceedances (after an exceedance, another with probability 0.3;
    otherwise 0.03): the rate is near alpha but the exceedances cluster."""
    rng = np.random.default_rng(1)
    rejected = []
    for _ in range(200):
        hits = np.zeros(1500, bool)
        for t in range(1, 1500):
            hits[t] = rng.random() < (0.3 if hits[t - 1] else 0.03)
        rejected.append(backtest(np.where(hits, -2.0, 0.0), 1.0, 0.04).independence_p_value)
    assert np.mean(np.array(rejected) < 0.05) > 0.9


def test_series_are_aligned_by_their_dates():
    dates = pd.bdate_range("2020-01-01", periods=8)
    returns = pd.Series([-3.0, 0.1, -2.5, 0.2, 0.3, -0.1, -4.0, 0.0], index=dates)
    var = pd.Series([3.0, 2.0, 2.0, 2.0, 2.0, 2.0], index=dates[2:])[::-1]  # shuffled
    result = backtest(returns, var, 0.1)
    assert result.n_observations == 6
    assert list(result.exceedances.index) == list(dates[2:])
    assert result.exceedances.tolist() == [False, False, False, False, True, False]
    with pytest.raises(ValueError, match="share no dates"):
        backtest(returns, pd.Series([1.0], index=[pd.Timestamp("1999-01-01")]), 0.1)


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda: backtest(np.zeros(3), np.ones(2), 0.05), ValueError, "one var per return"),
        (lambda: backtest([np.nan, 0.0], 1.0, 0.05), ValueError, "finite"),
        (lambda: backtest(np.zeros(3), 1.0), ValueError, "Pass alpha"),
        (lambda: backtest(np.zeros(3), 1.0, 1.5), ValueError, "between 0 and 1"),
        (
            lambda: backtest(np.zeros(3), RiskEstimate("value_at_risk", 0.01, 1.0), 0.05),
            ValueError,
            "made at alpha=0.01",
        ),
        (
            lambda: backtest(np.zeros(3), RiskEstimate("value_at_risk", [0.01, 0.05], [1, 2])),
            ValueError,
            "one value_at_risk",
        ),
        (lambda: backtest(np.zeros((3, 2)), 1.0, 0.05), ValueError, "one series"),
        (
            lambda: backtest(pd.DataFrame(np.zeros((3, 2))), 1.0, 0.05),
            ValueError,
            "2 columns",
        ),
    ],
)
def test_bad_backtest_input_raises_clear_errors(call, error, text):
    with pytest.raises(error, match=text):
        call()


# ---------------------------------------------------------------------- ES backtest
def test_z2_statistic_matches_its_closed_form():
    """Z2 = 1 + sum_t r_t I_t / (T alpha ES_t) (Acerbi and Szekely 2014, eq. for Z2)."""
    returns = np.array([-3.0, 0.5, -2.0, 1.0, -1.0])
    result = es_backtest(returns, _normal(), 0.1, n_simulations=50, random_state=0)
    var, es = (e.value for e in (value_at_risk(_normal(), 0.1), expected_shortfall(_normal(), 0.1)))
    hits = returns < -var
    assert hits.tolist() == [True, False, True, False, False]
    assert result.statistic == pytest.approx(1 + np.sum(returns[hits] / es) / (5 * 0.1))
    assert result.n_exceedances == 2 and isinstance(result, ShortfallBacktest)
    assert "Z2" in repr(result)


def test_z2_has_mean_zero_under_a_correct_forecast():
    """Simulated Z2 values under the forecast (the test's null law) average zero, within
    5 standard errors: E[r 1{r < -VaR}] = -alpha ES exactly."""
    rng = np.random.default_rng(3)
    fit = _normal(2.0)
    returns = fit.sample(400, random_state=rng)[:, 0]
    from bayesgmm.finance import _simulated_z2, _static_forecast

    forecast = _static_forecast(fit, 0.05, None, returns)
    simulated = _simulated_z2(forecast, np.arange(400), 4000, 0.05, rng)
    assert abs(simulated.mean()) < 5 * simulated.std() / np.sqrt(len(simulated))


def test_es_backtest_rejects_at_its_nominal_level_when_the_forecast_is_right():
    """Returns drawn from the forecast mixture itself: the p-value is uniform, so the 5 %
    test rejects in 5 % of 300 data sets, within 4 standard errors (0.0126 each)."""
    fit = MixtureResult(
        weights=np.array([0.8, 0.2]),
        means=np.array([[0.05], [-0.2]]),
        covariances=np.array([0.5, 4.0]),
        covariance_type="spherical",
    )
    rng = np.random.default_rng(4)
    p_values = []
    for _ in range(300):
        returns = rng.permutation(fit.sample(250, random_state=rng)[:, 0])
        p_values.append(es_backtest(returns, fit, 0.025, n_simulations=200, random_state=rng))
    rate = np.mean([result.p_value < 0.05 for result in p_values])
    assert abs(rate - 0.05) < 4 * np.sqrt(0.05 * 0.95 / 300)


def test_es_backtest_detects_tail_losses_larger_than_forecast():
    """Normal returns, forecast as N(0, 1), with each loss beyond the VaR made 4 times as
    deep: the exceedance count keeps its law (Kupiec's test stays at its level, within 4
    standard errors of 60 data sets) but the ES is 3.47, not 2.34, and Z2 rejects far
    more often than its 5 % (about 60 % by a longer simulation; 0.3 is 4 standard errors
    below that)."""
    fit = _normal()
    var = value_at_risk(fit, 0.025).value
    rng = np.random.default_rng(5)
    es_rejected, var_rejected = 0, 0
    for _ in range(60):
        returns = rng.standard_normal(1000)
        tail = returns < -var
        returns[tail] = -var + 4 * (returns[tail] + var)
        result = es_backtest(returns, fit, 0.025, n_simulations=300, random_state=rng)
        es_rejected += result.p_value < 0.05
        var_rejected += backtest(returns, var, 0.025).p_value < 0.05
    assert es_rejected / 60 > 0.3
    assert var_rejected / 60 < 0.05 + 4 * np.sqrt(0.05 * 0.95 / 60)


def test_es_backtest_rejects_a_forecast_with_too_little_variance():
    """Student-t returns (3 degrees of freedom, variance 3) forecast as N(0, 1)."""
    rng = np.random.default_rng(6)
    p_values = [
        es_backtest(
            stats.t.rvs(3, size=500, random_state=rng),
            _normal(),
            0.025,
            n_simulations=300,
            random_state=rng,
        ).p_value
        for _ in range(20)
    ]
    assert np.mean(np.array(p_values) < 0.05) > 0.9


def test_es_backtest_of_a_bayesian_fit_forecasts_with_the_posterior_predictive():
    """The predictive distribution is the mixture over all draws and components with
    weights w_sk / S; its VaR and ES are the forecast's."""
    X = np.random.default_rng(6).normal(size=(30, 1))
    fit = fake_posterior_result(
        [0.7, 0.3], [[0.0], [-0.5]], [[[1.0]], [[4.0]]], X, draws=30, spread=0.1
    )
    posterior = fit.posterior.posterior
    weights = posterior["weights"].values.reshape(1, -1) / 60
    means = posterior["means"].values.reshape(1, -1)
    sds = np.sqrt(posterior["covariances"].values.reshape(1, -1))
    var, es = mixture_shortfall(0.05, weights, means, sds)
    from bayesgmm.finance import _static_forecast

    forecast = _static_forecast(fit, 0.05, None, pd.Series(np.zeros(4)))
    assert forecast.var.iloc[0] == pytest.approx(var[0], rel=1e-12)
    assert forecast.es.iloc[0] == pytest.approx(es[0], rel=1e-12)
    per_draw = value_at_risk(fit, 0.05, ci_prob=0.9)
    assert forecast.var_lower.iloc[0] == pytest.approx(np.quantile(per_draw.draws, 0.03))
    result = es_backtest(np.linspace(-3, 3, 100), fit, 0.05, n_simulations=100, random_state=0)
    assert 0 < result.p_value <= 1


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda: es_backtest(np.zeros(5), _normal()), ValueError, "Pass alpha"),
        (
            lambda: es_backtest(np.zeros(5), _normal(), 0.05, n_simulations=0),
            ValueError,
            "n_simulations",
        ),
        (lambda: es_backtest(np.zeros(5), "fit", 0.05), TypeError, "MixtureResult"),
    ],
)
def test_bad_es_backtest_input_raises_clear_errors(call, error, text):
    with pytest.raises(error, match=text):
        call()


# ---------------------------------------------------------------------- rolling refits
def _regime_returns(n=700, seed=0):
    """Daily returns: a calm regime (sd 0.5) and a turbulent one (sd 2.5), the turbulent
    share rising from 15 % to 35 % halfway."""
    rng = np.random.default_rng(seed)
    share = np.where(np.arange(n) < n // 2, 0.15, 0.35)
    turbulent = rng.random(n) < share
    values = np.where(turbulent, rng.normal(-0.1, 2.5, n), rng.normal(0.05, 0.5, n))
    return pd.Series(values, index=pd.bdate_range("2010-01-01", periods=n), name="ret")


@pytest.fixture(scope="module")
def rolling():
    return rolling_fit(_regime_returns(), window=300, step=20)


def test_windows_roll_and_each_fit_is_on_its_own_window(rolling):
    """At an EM fixed point the mixture's mean, sum_k w_k mu_k, is the sample mean of the
    data it was fitted on (every M-step makes it so): that identifies each window."""
    assert isinstance(rolling, RollingFit) and rolling.n_windows == 21
    np.testing.assert_array_equal(rolling.window_ends_, np.arange(300, 701, 20))
    np.testing.assert_array_equal(rolling.window_starts_, rolling.window_ends_ - 300)
    data = rolling.data["ret"].to_numpy()
    for j in (0, 7, 20):
        result = rolling.results_[j]
        mixture_mean = float(result.weights.values @ result.means.values[:, 0])
        window = data[rolling.window_starts_[j] : rolling.window_ends_[j]]
        assert mixture_mean == pytest.approx(window.mean(), abs=1e-10 * np.abs(window).max())
    assert rolling.warm_starts_[1:].all() and not rolling.warm_starts_[0]
    assert rolling.window_end_dates[0] == rolling.data.index[299]
    assert "21 windows" in repr(rolling)


def test_expanding_windows_start_at_the_first_row():
    fit = rolling_fit(_regime_returns(400), window=300, step=50, expanding=True)
    np.testing.assert_array_equal(fit.window_starts_, [0, 0, 0])
    np.testing.assert_array_equal(fit.window_ends_, [300, 350, 400])


def _symmetric_kl(mean_a, var_a, mean_b, var_b):
    """Symmetrised KL of two 1-D normals, written out independently."""
    d = (mean_a - mean_b) ** 2
    return 0.5 * (var_a / var_b + var_b / var_a + d / var_a + d / var_b) - 1.0


def test_labels_follow_the_previous_window_even_when_raw_fits_swap():
    """Cold fits (no warm start) of three components come out in arbitrary order; the
    stable labels must be, window after window, the permutation closest (least total
    symmetrised KL, checked over all 6 permutations) to the previous window's, and
    regime 0 the calmest in the first window."""
    returns = _regime_returns(900, seed=2)
    estimator = GaussianMixture(3, covariance_type="spherical", random_state=0, n_init=2)
    fit = rolling_fit(returns, window=400, step=50, estimator=estimator, warm_start=False)
    parameters = fit.parameters()
    variances = parameters["covariances"].values[:, :, 0, 0]
    means = parameters["means"].values[:, :, 0]
    assert np.argmin(variances[0]) == 0 and np.all(np.diff(variances[0]) >= 0)
    for j in range(1, fit.n_windows):
        costs = {
            perm: sum(
                _symmetric_kl(means[j - 1, k], variances[j - 1, k], means[j, p], variances[j, p])
                for k, p in enumerate(perm)
            )
            for perm in itertools.permutations(range(3))
        }
        assert min(costs, key=costs.get) == (0, 1, 2)
    raw_orders = {tuple(order) for order in fit.orders_}
    assert len(raw_orders) > 1 or fit.orders_[0].tolist() != [0, 1, 2]


def test_warm_starts_reach_the_optimum_of_cold_multistart_fits(rolling):
    """On well separated regimes the warm-started window fits end at the same mean
    log-likelihood as fresh multi-start fits, to the EM tolerance (1e-6 per observation,
    with Aitken's projection: well below 1e-4)."""
    data = rolling.data
    for j in (3, 12, 20):
        window = data.iloc[rolling.window_starts_[j] : rolling.window_ends_[j]]
        cold = GaussianMixture(2, random_state=0).fit(window)
        warm = rolling.results_[j].log_likelihood(window) / len(window)
        assert warm == pytest.approx(cold.score(window), abs=1e-4)


def test_regime_probabilities_come_from_the_latest_window_holding_each_date(rolling):
    probabilities = rolling.regime_probabilities()
    assert probabilities.dims == ("observation", "component")
    index = rolling.data.index
    assert probabilities["observation"].values[0] == index[299]
    assert len(probabilities) == len(index) - 299
    np.testing.assert_allclose(probabilities.values.sum(axis=1), 1.0, rtol=1e-12)
    for date_row, fit_row in ((299, 0), (318, 0), (319, 1), (699, 20)):
        result, order = rolling.results_[fit_row], rolling.orders_[fit_row]
        expected = result.responsibilities(rolling.data.iloc[[date_row]]).values[0, order]
        row = probabilities.sel(observation=index[date_row]).values
        np.testing.assert_allclose(row, expected, rtol=1e-12)


def test_calm_regime_stays_component_zero_and_its_weight_falls(rolling):
    parameters = rolling.parameters()
    variances = parameters["covariances"].values[:, :, 0, 0]
    assert (variances[:, 0] < variances[:, 1]).all()
    weights = parameters["weights"].values[:, 0]
    assert weights[0] > 0.75 and weights[-1] < 0.72  # truth: 0.85 then 0.65
    assert parameters["window"].values[0] == rolling.window_end_dates[0]


def test_forecasts_come_from_the_window_ending_the_day_before(rolling):
    forecast = rolling.forecast(0.01)
    index = rolling.data.index
    assert isinstance(forecast, RiskForecast) and not forecast.is_bayesian
    assert forecast.var.index[0] == index[300] and forecast.var.index[-1] == index[-1]
    assert (forecast.window_end < forecast.var.index).all()
    for date_row, fit_row in ((300, 0), (319, 0), (320, 1), (699, 19)):
        date = index[date_row]
        assert forecast.window_end[date] == rolling.window_end_dates[fit_row]
        assert forecast.var[date] == pytest.approx(
            value_at_risk(rolling.results_[fit_row], 0.01).value, rel=1e-12
        )
        assert forecast.es[date] == pytest.approx(
            expected_shortfall(rolling.results_[fit_row], 0.01).value, rel=1e-12
        )
    np.testing.assert_array_equal(forecast.realised, rolling.data["ret"].iloc[300:])
    assert forecast.backtest().n_observations == 400
    assert forecast.to_frame().shape == (400, 4)
    assert "plug-in" in repr(forecast)


def test_daily_refits_forecast_each_day_from_the_previous_day():
    returns = _regime_returns(260)
    fit = rolling_fit(returns, window=250, step=1)
    forecast = fit.forecast(0.05)
    assert fit.n_windows == 11 and len(forecast.var) == 10
    np.testing.assert_array_equal(forecast.window_end.to_numpy(), returns.index[249:259])


def test_portfolio_forecast_of_a_multi_asset_rolling_fit():
    rng = np.random.default_rng(7)
    returns = pd.DataFrame(
        rng.standard_normal((360, 2)) @ [[1.0, 0.4], [0.0, 0.8]], columns=["a", "b"]
    )
    fit = rolling_fit(returns, window=300, step=30, estimator=GaussianMixture(1))
    x = np.array([0.5, 0.5])
    forecast = fit.forecast(0.05, portfolio=x)
    np.testing.assert_allclose(forecast.realised, returns.iloc[300:].to_numpy() @ x)
    assert forecast.var.iloc[0] == pytest.approx(
        value_at_risk(fit.results_[0], 0.05, portfolio=x).value, rel=1e-12
    )
    with pytest.raises(ValueError, match="pass portfolio="):
        fit.forecast(0.05)
    with pytest.raises(ValueError, match="one portfolio"):
        fit.forecast(0.05, portfolio=[[0.5, 0.5]])
    assert forecast.es_backtest(n_simulations=100, random_state=0).n_observations == 60


class _FakeBayes:
    """A stand-in Bayesian estimator: EM on the window, then a tight fake posterior."""

    def get_params(self):
        return {}

    def fit(self, X):
        em = GaussianMixture(2, random_state=0).fit(X)
        self.result_ = fake_posterior_result(
            em.weights_,
            em.means_,
            em.covariances_,
            X.iloc[:5],
            draws=20,
            spread=0.05,
            feature_names=list(X.columns),
        )
        return self


def test_bayesian_rolling_fits_give_bands_of_probabilities_and_var():
    returns = _regime_returns(400)
    fit = rolling_fit(returns, window=300, step=50, estimator=_FakeBayes())
    assert not fit.warm_starts_.any()  # no warm_start parameter to use
    probabilities = fit.regime_probabilities(ci_prob=0.9)
    assert set(probabilities.data_vars) == {"mean", "lower", "upper"}
    assert (probabilities["lower"] <= probabilities["mean"] + 1e-12).all()
    assert probabilities.attrs["ci_prob"] == 0.9
    forecast = fit.forecast(0.01, ci_prob=0.9)
    assert forecast.is_bayesian and forecast.ci_prob == 0.9
    estimate = value_at_risk(fit.results_[0], 0.01, ci_prob=0.9)
    first = forecast.var.index[0]
    assert forecast.var_lower[first] == pytest.approx(estimate.lower, rel=1e-12)
    assert forecast.var_upper[first] == pytest.approx(estimate.upper, rel=1e-12)
    assert forecast.var_lower[first] < forecast.var[first] < forecast.var_upper[first] * 1.05
    assert "posterior predictive" in repr(forecast)


def test_window_fit_warnings_are_collected_and_summarised_once():
    estimator = GaussianMixture(2, max_iter=2, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = rolling_fit(_regime_returns(360), window=300, step=20, estimator=estimator)
    summaries = [w for w in caught if "window fits raised warnings" in str(w.message)]
    assert len(summaries) == 1 and issubclass(summaries[0].category, ConvergenceWarning)
    assert len(fit.warnings_) == fit.n_windows
    assert estimator.max_iter == 2 and not hasattr(estimator, "result_")  # not changed


def test_a_degenerate_warm_start_is_refitted_cold():
    """Eighty days of exactly zero returns (a market closed, recorded as 0): once they fill
    enough of the window, the warm-started EM puts a component on them (a point mass,
    degenerate); such a window is refitted with the estimator's own starts, which find a
    sound fit (they prefer one), and every kept fit is sound."""
    returns = np.random.default_rng(0).normal(0, 1, 500)
    returns[300:380] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = rolling_fit(pd.Series(returns), window=250, step=10)
    cold = np.flatnonzero(~fit.warm_starts_[1:]) + 1  # windows after the first, refitted
    assert len(cold) and fit.warm_starts_[1 : cold[0]].all()
    # window j holds rows [10 j, 10 j + 250): each refitted one holds some of the zeros
    assert (10 * cold + 250 > 300).all() and (10 * cold < 380).all()
    assert not any(result.degenerate for result in fit.results_)
    # what the first refit replaced: EM from the previous window's fit degenerates there
    draws = fit.results_[cold[0] - 1].draws()
    warm = GaussianMixture(
        2,
        weights_init=draws["weights"].values[0, 0],
        means_init=draws["means"].values[0, 0],
        precisions_init=np.linalg.inv(draws["covariances"].values[0, 0]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm.fit(returns[10 * cold[0] : 10 * cold[0] + 250, None])
    assert warm.result_.degenerate


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda r: rolling_fit(r, window=1000), ValueError, "longer than"),
        (lambda r: rolling_fit(r, window=300, step=0), ValueError, "step"),
        (lambda r: rolling_fit(r, window=1.5), TypeError, "window"),
        (lambda r: rolling_fit(r.iloc[::-1], window=300), ValueError, "increasing index"),
        (lambda r: rolling_fit(r.where(r > -5), window=300), ValueError, "NaN"),
        (lambda r: rolling_fit(r, window=700).forecast(), ValueError, "no later date"),
        (
            lambda r: rolling_fit(r, window=600, step=100).forecast([0.01, 0.05]),
            ValueError,
            "one level",
        ),
        (
            lambda r: rolling_fit(r, window=600, step=100).regime_probabilities(ci_prob=2),
            None,
            None,
        ),
    ],
)
def test_bad_rolling_input_raises_clear_errors(call, error, text):
    returns = _regime_returns()
    if error is None:  # an EM fit has no bands: ci_prob is not used
        assert call(returns).dims == ("observation", "component")
        return
    with pytest.raises(error, match=text):
        call(returns)


# ---------------------------------------------------------------------- plots
def test_regime_plot_draws_each_days_probability_and_each_windows_weight(rolling):
    ax = plot_regime_probabilities(rolling)
    assert len(ax.collections) == 2 and len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), rolling.parameters()["weights"][:, 0])
    offsets = ax.collections[0].get_offsets()
    assert len(offsets) == 401
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any("regime 0" in label and "window weight" in label for label in labels)


def test_regime_plot_of_a_bayesian_rolling_fit_labels_its_bands():
    fit = rolling_fit(_regime_returns(400), window=300, step=50, estimator=_FakeBayes())
    ax = plot_regime_probabilities(fit, ci_prob=0.8)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any("80% credible band" in label for label in labels)


def test_var_plot_marks_every_exceedance(rolling):
    forecast = rolling.forecast(0.05)
    ax = plot_var_backtest(forecast)
    result = forecast.backtest()
    marks = ax.collections[-1].get_offsets()
    assert len(marks) == result.n_exceedances > 0
    np.testing.assert_allclose(ax.lines[1].get_ydata(), -forecast.var.to_numpy())
    assert f"p={result.p_value:.2g}" in ax.get_title()
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "-VaR 95%" in labels and "-ES 95%" in labels
    ax = plot_var_backtest(forecast, show_es=False)
    assert "-ES 95%" not in [text.get_text() for text in ax.get_legend().get_texts()]


def test_contribution_plot_bars_are_the_contributions():
    X = np.random.default_rng(8).normal(size=(300, 3)) * [1.0, 2.0, 0.5]
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    fit = GaussianMixture(1, random_state=0).fit(frame)
    ax = plot_risk_contributions(fit, [0.2, 0.5, 0.3], 0.05)
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_allclose(heights, risk_contributions(fit, [0.2, 0.5, 0.3], 0.05).value)
    bayes = fake_posterior_result(
        fit.weights_, fit.means_, fit.covariances_, X[:5], draws=20, feature_names=["a", "b", "c"]
    )
    ax = plot_risk_contributions(bayes, [0.2, 0.5, 0.3], 0.05, measure="value_at_risk")
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "94% credible interval" in labels


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda: plot_regime_probabilities("fit"), TypeError, "RollingFit"),
        (lambda: plot_var_backtest(pd.Series([1.0])), TypeError, "RiskForecast"),
        (lambda: plot_risk_contributions(_normal(), [[1.0]]), ValueError, "one portfolio"),
    ],
)
def test_bad_plot_input_raises_clear_errors(call, error, text):
    with pytest.raises(error, match=text):
        call()
