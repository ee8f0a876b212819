"""Backtests of VaR and ES forecasts, and mixtures refitted on rolling windows.

Backtests, as R's rugarch ``VaRTest`` and ``ESTest`` run them:

- :func:`backtest`: the exceedances of a VaR forecast, with Kupiec's (1995)
  unconditional coverage test, Christoffersen's (1998) independence test and his
  conditional coverage test (both together);
- :func:`es_backtest`: Acerbi and Szekely's (2014) ``Z2`` test of an expected
  shortfall forecast, with its p-value simulated from the forecast distributions.

Risk over time:

- :func:`rolling_fit` refits a mixture on rolling (or expanding) windows, each
  warm-started from the previous window's fit, and relabels every window's
  components to match the previous window's, so that component ``k`` stays the same
  regime from window to window;
- :meth:`RollingFit.regime_probabilities` gives each date's regime probabilities,
  :meth:`RollingFit.forecast` an out-of-sample VaR and ES series (each date's from the
  window that ends the day before) to feed the backtests.

Series are aligned by their index (pandas), so a forecast and the returns it forecasts
may cover different dates: the tests use the dates they share.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

from . import risk
from .comparison import match_components
from .data import check_int, check_random_state, check_X

__all__ = [
    "Backtest",
    "ShortfallBacktest",
    "RiskForecast",
    "RollingFit",
    "backtest",
    "es_backtest",
    "rolling_fit",
]

logger = logging.getLogger(__name__)

#: Largest number of simulated returns (simulations x dates x components) held at once.
_SIMULATION_BLOCK = 1 << 22


# ---------------------------------------------------------------------- alignment
def _as_series(values: Any, name: str) -> pd.Series | np.ndarray:
    """A Series (index kept) or a 1-D float array from a Series, 1-column frame or array."""
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise ValueError(
                f"{name} has {values.shape[1]} columns; give one series (for a portfolio, "
                "its returns: returns @ weights)."
            )
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        return values.astype(np.float64)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be one series of shape (n,); got shape {array.shape}.")
    return array


def _align(returns: Any, forecast: Any, name: str) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Returns and a per-day forecast on their common dates, in the returns' order.

    Two Series are matched by index label (the dates both hold); otherwise the two
    must have the same length and are matched by position.
    """
    returns = _as_series(returns, "returns")
    forecast = _as_series(forecast, name)
    if isinstance(returns, pd.Series) and isinstance(forecast, pd.Series):
        if not forecast.index.is_unique or not returns.index.is_unique:
            raise ValueError(f"returns and {name} need unique index labels (one per date).")
        common = returns.index[returns.index.isin(forecast.index)]
        if len(common) == 0:
            raise ValueError(
                f"returns and {name} share no dates: returns cover {returns.index[0]} to "
                f"{returns.index[-1]}, {name} {forecast.index[0]} to {forecast.index[-1]}. "
                "Pass series over the same dates."
            )
        index = pd.Index(common)
        values, forecast = returns.loc[index].to_numpy(), forecast.loc[index].to_numpy()
    else:
        if len(forecast) != len(returns):
            raise ValueError(
                f"{name} has {len(forecast)} values but returns have {len(returns)}: give one "
                f"{name} per return, or Series indexed by date to align them."
            )
        index = returns.index if isinstance(returns, pd.Series) else pd.RangeIndex(len(returns))
        values, forecast = np.asarray(returns), np.asarray(forecast)
    if not (np.isfinite(values).all() and np.isfinite(forecast).all()):
        raise ValueError(f"returns and {name} must be finite; drop missing days first.")
    return values, forecast, index


# ---------------------------------------------------------------------- VaR backtests
@dataclass(frozen=True)
class Backtest:
    """Exceedances of a VaR forecast, with the coverage tests of Kupiec and Christoffersen.

    Attributes
    ----------
    alpha : float
        Level of the VaR (expected exceedance rate).
    n_observations : int
    n_exceedances : int
        Returns below ``-VaR`` (losses larger than VaR).
    expected : float
        ``alpha * n_observations``.
    rate : float
        Observed exceedance rate.
    lr_statistic, p_value : float
        Kupiec's (1995) proportion-of-failures likelihood ratio (chi-squared, 1
        degree of freedom, under a correct VaR) and its p-value: small values say
        the exceedance rate differs from ``alpha``.
    independence_statistic, independence_p_value : float
        Christoffersen's (1998) likelihood ratio of a first-order Markov chain of
        exceedances against independent ones (chi-squared, 1 degree of freedom):
        small p-values say exceedances cluster (or avoid each other).
    coverage_statistic, coverage_p_value : float
        Christoffersen's conditional coverage test, the sum of the two statistics
        (chi-squared, 2 degrees of freedom): the rate is ``alpha`` and exceedances
        are independent.
    transitions : ndarray of shape (2, 2)
        ``transitions[i, j]``: days with state ``j`` after a day with state ``i``
        (1 = exceedance).
    exceedances : pandas.Series of bool
        Which days exceeded, indexed like the returns.
    """

    alpha: float
    n_observations: int
    n_exceedances: int
    expected: float
    rate: float
    lr_statistic: float
    p_value: float
    independence_statistic: float
    independence_p_value: float
    coverage_statistic: float
    coverage_p_value: float
    transitions: np.ndarray
    exceedances: pd.Series

    def table(self) -> pd.DataFrame:
        """The three tests as rows: ``statistic``, ``df`` and ``p_value``, as rugarch's VaRTest.

        Examples
        --------
        >>> result = backtest(np.array([-3.0, 0.5, 1.0, -0.2]), 2.0, alpha=0.25)
        >>> result.table()["df"].tolist()
        [1, 1, 2]
        """
        return pd.DataFrame(
            {
                "statistic": [
                    self.lr_statistic,
                    self.independence_statistic,
                    self.coverage_statistic,
                ],
                "df": [1, 1, 2],
                "p_value": [self.p_value, self.independence_p_value, self.coverage_p_value],
            },
            index=pd.Index(
                [
                    "unconditional coverage (Kupiec)",
                    "independence (Christoffersen)",
                    "conditional coverage (Christoffersen)",
                ],
                name="test",
            ),
        )

    def __repr__(self) -> str:
        return (
            f"Backtest(alpha={self.alpha:g}: {self.n_exceedances} exceedances in "
            f"{self.n_observations} observations, {self.expected:.1f} expected; "
            f"Kupiec LR {self.lr_statistic:.3g}, p={self.p_value:.3g}; independence LR "
            f"{self.independence_statistic:.3g}, p={self.independence_p_value:.3g}; "
            f"conditional coverage LR {self.coverage_statistic:.3g}, "
            f"p={self.coverage_p_value:.3g})"
        )


def _likelihood_ratio(log_alternative: float, log_null: float) -> float:
    return max(float(2.0 * (log_alternative - log_null)), 0.0) + 0.0  # no "-0"


def _kupiec(n: int, x: int, alpha: float) -> float:
    """``LR_uc = -2 [log L(alpha) - log L(x / n)]`` with binomial likelihoods."""
    rate = x / n
    log_null = special.xlogy(n - x, 1 - alpha) + special.xlogy(x, alpha)
    log_alt = special.xlogy(n - x, 1 - rate) + special.xlogy(x, rate)
    return _likelihood_ratio(log_alt, log_null)


def _christoffersen(hits: np.ndarray) -> tuple[float, np.ndarray]:
    """Independence LR of a hit sequence, and its transition counts ``n[i, j]``.

    ``LR_ind = -2 [log L(pi) - log L(pi_01, pi_11)]``: a Bernoulli(pi) sequence
    against a first-order Markov chain with ``pi_01 = n_01 / (n_00 + n_01)`` and
    ``pi_11 = n_11 / (n_10 + n_11)`` (``0 log 0 = 0``).
    """
    before, after = hits[:-1], hits[1:]
    counts = np.array(
        [
            [np.sum(~before & ~after), np.sum(~before & after)],
            [np.sum(before & ~after), np.sum(before & after)],
        ]
    )
    from_calm, from_hit = counts.sum(axis=1)
    total = from_calm + from_hit
    if total == 0:
        return 0.0, counts
    pi_01 = counts[0, 1] / from_calm if from_calm else 0.0
    pi_11 = counts[1, 1] / from_hit if from_hit else 0.0
    pi = counts[:, 1].sum() / total
    log_alt = (
        special.xlogy(counts[0, 0], 1 - pi_01)
        + special.xlogy(counts[0, 1], pi_01)
        + special.xlogy(counts[1, 0], 1 - pi_11)
        + special.xlogy(counts[1, 1], pi_11)
    )
    log_null = special.xlogy(counts[:, 0].sum(), 1 - pi) + special.xlogy(counts[:, 1].sum(), pi)
    return _likelihood_ratio(log_alt, log_null), counts


def _check_alpha(alpha: Any, given: Any, source: str) -> float:
    """``alpha``, checked against the level a forecast or estimate was made at."""
    if alpha is None:
        if given is None:
            raise ValueError(f"Pass alpha, the level of the {source} (for example 0.01).")
        alpha = given
    alpha = float(risk._check_level("alpha", alpha))
    if given is not None and not np.isclose(alpha, float(given)):
        raise ValueError(f"alpha={alpha:g} but the {source} was made at alpha={float(given):g}.")
    return alpha


def _var_and_level(var: Any, alpha: Any) -> tuple[Any, float]:
    """The VaR values and their level from a number, array, Series, estimate or forecast."""
    if isinstance(var, RiskForecast):
        return var.var, _check_alpha(alpha, var.alpha, "forecast")
    if isinstance(var, risk.RiskEstimate):
        if var.name != "value_at_risk" or np.ndim(var.value):
            raise ValueError(
                f"var is a RiskEstimate of {var.name} with value of shape "
                f"{np.shape(var.value)}; give one value_at_risk (one level, one portfolio)."
            )
        return var.value, _check_alpha(alpha, var.at, "value at risk")
    return var, _check_alpha(alpha, None, "value at risk")


def backtest(returns: Any, var: Any, alpha: float | None = None) -> Backtest:
    """Count the days whose loss exceeded the VaR, and test the exceedances.

    Parameters
    ----------
    returns : array-like or Series of shape (n,)
        Realised returns, in the units of the VaR.
    var : float, array-like, Series, RiskEstimate or RiskForecast
        The VaR forecast (a positive loss): one number, or one per day. A Series is
        aligned with a Series of returns by index (the dates both hold). A Bayesian
        :class:`~bayesgmm.risk.RiskEstimate` is used through its posterior mean; a
        :class:`RiskForecast` through its ``var``.
    alpha : float, default=None
        Level of the VaR; read from a RiskEstimate or RiskForecast when None.

    Returns
    -------
    Backtest
        Exceedances, the expected count, Kupiec's (1995) unconditional coverage test
        and Christoffersen's (1998) independence and conditional coverage tests.

    Notes
    -----
    The statistics are those of rugarch's ``VaRTest`` (with ``0 log 0 = 0``, where
    rugarch gives NaN when no two exceedances follow each other). Each is compared
    with its asymptotic chi-squared law, which the independence statistic reaches
    slowly: with a few dozen expected exceedances its real size at a nominal 5 % lies
    between about 2 % and 8 %; with a hundred or more it is close to nominal.

    References
    ----------
    Kupiec, P. (1995). Techniques for verifying the accuracy of risk measurement
    models. Journal of Derivatives 3(2), 73-84.
    Christoffersen, P. (1998). Evaluating interval forecasts. International Economic
    Review 39(4), 841-862.

    See Also
    --------
    es_backtest, RollingFit.forecast

    Examples
    --------
    >>> returns = np.array([-3.0, 0.5, 1.0, -0.2, 0.1])
    >>> backtest(returns, 2.0, alpha=0.2).n_exceedances
    1
    """
    var, alpha = _var_and_level(var, alpha)
    if np.ndim(var) == 0:
        series = _as_series(returns, "returns")
        var = (
            pd.Series(float(var), index=series.index)
            if isinstance(series, pd.Series)
            else (np.full(len(series), float(var)))
        )
    values, var, index = _align(returns, var, "var")
    hits = values < -var
    n, x = len(values), int(hits.sum())
    kupiec = _kupiec(n, x, alpha)
    independence, transitions = _christoffersen(hits)
    coverage = kupiec + independence
    return Backtest(
        alpha=alpha,
        n_observations=n,
        n_exceedances=x,
        expected=alpha * n,
        rate=x / n,
        lr_statistic=kupiec,
        p_value=float(stats.chi2.sf(kupiec, df=1)),
        independence_statistic=independence,
        independence_p_value=float(stats.chi2.sf(independence, df=1)),
        coverage_statistic=coverage,
        coverage_p_value=float(stats.chi2.sf(coverage, df=2)),
        transitions=transitions,
        exceedances=pd.Series(hits, index=index, name="exceedance"),
    )


# ---------------------------------------------------------------------- ES backtest
@dataclass(frozen=True)
class ShortfallBacktest:
    """Acerbi and Szekely's ``Z2`` test of an expected shortfall forecast.

    Attributes
    ----------
    alpha : float
        Level of the forecasts.
    n_observations, n_exceedances : int
        Days tested, and days whose return fell below ``-VaR``.
    expected : float
        ``alpha * n_observations``.
    statistic : float
        ``Z2 = 1 + sum_t r_t 1{r_t < -VaR_t} / (n alpha ES_t)``: 0 on average under a
        correct forecast, negative when losses beyond VaR are more frequent or larger
        than the ES says.
    p_value : float
        Share of ``Z2`` values at most the observed one among returns simulated from
        the forecast distributions (one-sided: small values say ES is too low).
    n_simulations : int
    """

    alpha: float
    n_observations: int
    n_exceedances: int
    expected: float
    statistic: float
    p_value: float
    n_simulations: int

    def __repr__(self) -> str:
        return (
            f"ShortfallBacktest(alpha={self.alpha:g}: Acerbi-Szekely Z2 {self.statistic:.3g} "
            f"over {self.n_observations} observations ({self.n_exceedances} exceedances, "
            f"{self.expected:.1f} expected); p={self.p_value:.3g} from {self.n_simulations} "
            "simulations of the forecasts)"
        )


def _z2(values: np.ndarray, var: np.ndarray, es: np.ndarray, alpha: float) -> np.ndarray:
    """``Z2`` of returns ``values`` (..., n) against forecasts (n,)."""
    tail = np.where(values < -var, values, 0.0)
    return 1.0 + np.sum(tail / es, axis=-1) / (values.shape[-1] * alpha)


def _simulate_returns(mixtures: tuple, fit_index: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` return paths (n, T) from each date's forecast mixture.

    ``mixtures`` are weights, means and sds of shape (J, S, K), date ``t`` drawing from
    fit ``fit_index[t]``: a draw ``s`` is chosen uniformly (the posterior predictive;
    S = 1 for EM), then a component by its weight, then a normal.
    """
    weights, means, sds = mixtures
    cumulative = np.cumsum(weights, axis=-1)
    cumulative[..., -1] = np.inf  # rounding never leaves a uniform above the last bin
    fit = fit_index[None, :]
    n_draws = weights.shape[1]
    draw = rng.integers(n_draws, size=(n, len(fit_index))) if n_draws > 1 else 0
    uniform = rng.random((n, len(fit_index), 1))
    component = (cumulative[fit, draw] < uniform).sum(axis=-1)
    noise = rng.standard_normal((n, len(fit_index)))
    return means[fit, draw, component] + sds[fit, draw, component] * noise


def _simulated_z2(forecast: RiskForecast, positions, n_simulations, alpha, rng) -> np.ndarray:
    fit_index = forecast.fit_index[positions]
    var = forecast.var.to_numpy()[positions]
    es = forecast.es.to_numpy()[positions]
    per_block = max(1, _SIMULATION_BLOCK // (len(positions) * forecast.mixtures[0].shape[-1]))
    simulated = []
    for start in range(0, n_simulations, per_block):
        count = min(per_block, n_simulations - start)
        paths = _simulate_returns(forecast.mixtures, fit_index, count, rng)
        simulated.append(_z2(paths, var, es, alpha))
    return np.concatenate(simulated)


def es_backtest(
    returns: Any,
    forecast: Any,
    alpha: float | None = None,
    *,
    portfolio: Any = None,
    n_simulations: int = 2000,
    random_state: Any = None,
) -> ShortfallBacktest:
    """Test an expected shortfall forecast with Acerbi and Szekely's ``Z2`` statistic.

    ``Z2`` weighs each loss beyond VaR by the ES forecast of its day, so it tests the
    frequency and the size of tail losses together. Its p-value comes from returns
    simulated from the forecast distributions themselves (the mixtures the forecasts
    were computed from), so the test has its nominal size for any sample size.

    Parameters
    ----------
    returns : array-like or Series of shape (n,)
        Realised returns (of the portfolio, when the forecast is for one).
    forecast : RiskForecast, GaussianMixture, BayesianGaussianMixture or MixtureResult
        A rolling forecast (:meth:`RollingFit.forecast`; aligned with ``returns`` by
        index), or one fit whose distribution forecasts every day (a static model,
        as when a fit on past data is tested on later days).
    alpha : float, default=None
        Level of the ES; required with a fit, read from a RiskForecast.
    portfolio : array-like of shape (D,), default=None
        Portfolio weights, with a fit to several assets.
    n_simulations : int, default=2000
        Simulated samples for the p-value (its resolution is ``1 / n_simulations``).
    random_state : int, Generator or None, default=None

    Returns
    -------
    ShortfallBacktest

    Notes
    -----
    Acerbi and Szekely's test rather than McNeil and Frey's (2000, rugarch's
    ``ESTest``): McNeil and Frey test only the mean size of losses beyond VaR, on the
    exceedance days alone (10-25 of them in a typical backtest, so the test has little
    power, and its bootstrap needs residuals scaled by a conditional volatility), and
    say nothing about how many there were. ``Z2`` uses every day, reacts to too many
    exceedances as well as to too large ones, and because a mixture fit gives the
    whole forecast distribution of each day, its null law can be simulated exactly
    instead of approximated. A Bayesian fit forecasts with its posterior predictive
    distribution (see :class:`RiskForecast`).

    References
    ----------
    Acerbi, C. and Szekely, B. (2014). Backtesting expected shortfall. Risk, December.
    McNeil, A. and Frey, R. (2000). Estimation of tail-related risk measures for
    heteroscedastic financial time series. Journal of Empirical Finance 7, 271-300.

    See Also
    --------
    backtest, RollingFit.forecast

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([1.0]), means=np.array([[0.0]]),
    ...                     covariances=np.array([1.0]), covariance_type="spherical")
    >>> returns = np.random.default_rng(0).standard_normal(500)
    >>> result = es_backtest(returns, fit, 0.025, n_simulations=500, random_state=0)
    >>> result.p_value > 0.05
    True
    """
    n_simulations = check_int("es_backtest", "n_simulations", n_simulations, 1)
    rng = check_random_state(random_state)
    if not isinstance(forecast, RiskForecast):
        alpha = _check_alpha(alpha, None, "expected shortfall")
        forecast = _static_forecast(forecast, alpha, portfolio, _as_series(returns, "returns"))
    elif portfolio is not None:
        raise ValueError("A RiskForecast was made for its portfolio; do not pass portfolio.")
    alpha = _check_alpha(alpha, forecast.alpha, "forecast")
    return _z2_test(returns, forecast, alpha, n_simulations, rng)


def _z2_test(returns, forecast: RiskForecast, alpha: float, n_simulations: int, rng):
    """Z2 of the returns on the forecast's dates, and its simulated p-value."""
    positions = pd.Series(np.arange(len(forecast.var)), index=forecast.var.index)
    values, positions, _ = _align(returns, positions, "forecast")
    positions = positions.astype(np.intp)
    var, es = forecast.var.to_numpy()[positions], forecast.es.to_numpy()[positions]
    observed = float(_z2(values, var, es, alpha))
    simulated = _simulated_z2(forecast, positions, n_simulations, alpha, rng)
    return ShortfallBacktest(
        alpha=alpha,
        n_observations=len(values),
        n_exceedances=int(np.sum(values < -var)),
        expected=alpha * len(values),
        statistic=observed,
        p_value=float((1 + np.sum(simulated <= observed)) / (1 + n_simulations)),
        n_simulations=n_simulations,
    )


# ---------------------------------------------------------------------- forecasts
@dataclass(frozen=True)
class RiskForecast:
    """A VaR and ES forecast per date, with the distributions they come from.

    Attributes
    ----------
    alpha : float
        Level of the forecasts.
    var, es : pandas.Series
        The forecasts (positive losses), indexed by the date they forecast. For an
        EM fit, those of the fitted mixture; for a Bayesian fit, those of the
        posterior predictive distribution (the mixture averaged over the posterior
        draws: the distribution a Bayesian expects the day's return to follow, and
        the one the backtests test).
    realised : pandas.Series
        The realised return of each forecast date (of the portfolio, when there is
        one).
    window_end : pandas.Series
        The last date of the window whose fit made each forecast (the day before).
    var_lower, var_upper, es_lower, es_upper : pandas.Series or None
        Bayesian fits: the equal-tailed ``ci_prob`` credible interval of each date's
        VaR and ES over the posterior draws. It is parameter uncertainty (how well
        the window pins the tail down), not the spread of the day's return.
    ci_prob : float or None
    mixtures : tuple of ndarray
        Weights, means and standard deviations (J, S, K) of the 1-D return mixture
        of each fit (S posterior draws; 1 for EM).
    fit_index : ndarray of shape (n_dates,)
        The fit (row of ``mixtures``) behind each date.
    """

    alpha: float
    var: pd.Series
    es: pd.Series
    realised: pd.Series
    window_end: pd.Series
    var_lower: pd.Series | None = None
    var_upper: pd.Series | None = None
    es_lower: pd.Series | None = None
    es_upper: pd.Series | None = None
    ci_prob: float | None = None
    mixtures: tuple = field(default=(), repr=False)
    fit_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.intp), repr=False)

    @property
    def is_bayesian(self) -> bool:
        """True when the forecast carries credible bands."""
        return self.var_lower is not None

    def to_frame(self) -> pd.DataFrame:
        """The series as columns of one DataFrame (bands included when there are any)."""
        names = ["realised", "var", "es", "var_lower", "var_upper", "es_lower", "es_upper"]
        columns = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        return pd.DataFrame({**columns, "window_end": self.window_end})

    def backtest(self) -> Backtest:
        """:func:`backtest` of this forecast's VaR against its realised returns."""
        return backtest(self.realised, self)

    def es_backtest(self, n_simulations: int = 2000, random_state: Any = None) -> ShortfallBacktest:
        """:func:`es_backtest` of this forecast's ES against its realised returns."""
        return es_backtest(
            self.realised, self, n_simulations=n_simulations, random_state=random_state
        )

    def __repr__(self) -> str:
        kind = "posterior predictive" if self.is_bayesian else "plug-in"
        return (
            f"RiskForecast(alpha={self.alpha:g}, {kind}: {len(self.var)} dates "
            f"{self.var.index[0]} to {self.var.index[-1]}, from {len(self.mixtures[0])} fits; "
            f"mean VaR {self.var.mean():.3g}, mean ES {self.es.mean():.3g})"
        )


def _check_ci_prob(ci_prob: float) -> float:
    if not 0.0 < float(ci_prob) < 1.0:
        raise ValueError(f"ci_prob must be in the open interval (0, 1); got {ci_prob!r}.")
    return float(ci_prob)


def _forecast_mixtures(results: list, portfolio: Any) -> tuple[tuple, bool]:
    """Each fit's 1-D return mixture, stacked to (J, S, K), and whether S are draws."""
    if portfolio is not None and np.ndim(portfolio) != 1:
        raise ValueError(
            f"A forecast is for one portfolio: give weights of shape (D,); got shape "
            f"{np.shape(portfolio)}."
        )
    parts = [risk.mixture_parameters_1d(result, portfolio) for result in results]
    bayesian = parts[0][3]
    shapes = {part[0].shape for part in parts}
    if len(shapes) > 1:
        raise ValueError(
            f"The fits have different numbers of draws or components ({sorted(shapes)}); "
            "fit every window with the same estimator settings."
        )
    stacked = tuple(
        np.stack([part[i] if bayesian else part[i][None] for part in parts]) for i in range(3)
    )
    return stacked, bayesian


def _make_forecast(mixtures, bayesian, alpha, ci_prob, fit_index, realised, window_end):
    """A RiskForecast from per-fit mixtures (J, S, K) and the fit behind each date."""
    weights, means, sds = mixtures
    n_fits, n_draws, n_components = weights.shape
    flat = (n_fits, n_draws * n_components)
    var, es = risk.mixture_shortfall(
        alpha, (weights / n_draws).reshape(flat), means.reshape(flat), sds.reshape(flat)
    )
    index = realised.index

    def per_date(values: np.ndarray, name: str) -> pd.Series:
        return pd.Series(values[fit_index], index=index, name=name)

    bands = {}
    if bayesian:
        ci_prob = _check_ci_prob(ci_prob)
        tail = (1 - ci_prob) / 2
        per_draw = risk.mixture_shortfall(alpha, *mixtures)
        for name, values in zip(("var", "es"), per_draw, strict=True):
            lower, upper = np.quantile(values, [tail, 1 - tail], axis=1)
            bands[f"{name}_lower"] = per_date(lower, f"{name}_lower")
            bands[f"{name}_upper"] = per_date(upper, f"{name}_upper")
    return RiskForecast(
        alpha=alpha,
        var=per_date(var, "var"),
        es=per_date(es, "es"),
        realised=realised,
        window_end=pd.Series(window_end, index=index, name="window_end"),
        ci_prob=ci_prob if bayesian else None,
        mixtures=mixtures,
        fit_index=np.asarray(fit_index, dtype=np.intp),
        **bands,
    )


def _static_forecast(model: Any, alpha: float, portfolio: Any, returns: Any) -> RiskForecast:
    """One fit's forecast for every day of ``returns`` (a model tested on later days)."""
    mixtures, bayesian = _forecast_mixtures([risk._result_of(model)], portfolio)
    if not isinstance(returns, pd.Series):
        returns = pd.Series(returns)
    fit_index = np.zeros(len(returns), dtype=np.intp)
    window_end = np.full(len(returns), None)
    return _make_forecast(mixtures, bayesian, alpha, 0.94, fit_index, returns, window_end)


# ---------------------------------------------------------------------- rolling refits
@dataclass
class RollingFit:
    """Mixtures fitted on rolling (or expanding) windows, with stable component labels.

    Component ``k`` names the same regime in every window: window ``j``'s own
    component ``orders_[j, k]`` is the one matched to regime ``k`` of window ``j - 1``
    (:func:`~bayesgmm.comparison.match_components`: least symmetrised KL divergence,
    Hungarian algorithm). In the first window the regimes are ordered by total
    variance (trace of the covariance), calmest first.

    Attributes
    ----------
    data : pandas.DataFrame
        The returns, one column per asset, indexed by date.
    results_ : list of MixtureResult
        Each window's fit, in its own component order.
    orders_ : ndarray of shape (n_windows, K)
        The relabelling: the stable component ``k`` of window ``j`` is
        ``results_[j]``'s component ``orders_[j, k]``.
    window_starts_, window_ends_ : ndarray of int
        Rows ``window_starts_[j]`` (included) to ``window_ends_[j]`` (excluded) of
        ``data`` are window ``j``.
    warm_starts_ : ndarray of bool
        Which windows started from the previous window's fit (the others ran the
        estimator's own starts).
    warnings_ : dict
        Window -> the warnings its fit raised.
    """

    data: pd.DataFrame
    results_: list
    orders_: np.ndarray
    window_starts_: np.ndarray
    window_ends_: np.ndarray
    warm_starts_: np.ndarray
    warnings_: dict = field(default_factory=dict)

    @property
    def n_windows(self) -> int:
        """Number of windows fitted."""
        return len(self.results_)

    @property
    def window_end_dates(self) -> pd.Index:
        """The last date of each window."""
        return self.data.index[self.window_ends_ - 1]

    def __repr__(self) -> str:
        result = self.results_[0]
        return (
            f"RollingFit({self.n_windows} windows of {result.n_components} components on "
            f"{result.n_features} feature(s), ending {self.window_end_dates[0]} to "
            f"{self.window_end_dates[-1]}; {int(self.warm_starts_.sum())} warm-started)"
        )

    def parameters(self) -> xr.Dataset:
        """Each window's parameters in the stable labels: the estimate, or posterior mean.

        Returns
        -------
        xarray.Dataset
            ``weights`` (window, component), ``means`` (window, component, feature),
            ``covariances`` (window, component, feature, feature_bis); ``window`` is
            labelled by each window's last date.
        """
        parts = []
        for result, order in zip(self.results_, self.orders_, strict=True):
            mean = result.draws().mean(dim=("chain", "draw"))
            parts.append(mean.isel(component=order).assign_coords(component=np.arange(len(order))))
        dataset = xr.concat(parts, dim="window").assign_coords(window=self.window_end_dates)
        dataset.attrs["description"] = (
            "parameters of each window's fit (posterior means for Bayesian fits), in labels "
            "kept stable from window to window"
        )
        return dataset

    def _segments(self, first_row: int) -> list[tuple[int, int, int]]:
        """(fit, first row, end row): the rows each fit is the latest for.

        A fit is the latest from row ``window_ends_[j] - 1 + first_row`` until the next
        fit's; ``first_row`` is 0 for in-window use, 1 for the next day's forecast.
        """
        starts = self.window_ends_ - 1 + first_row
        ends = np.append(starts[1:], len(self.data))
        return [(j, a, b) for j, (a, b) in enumerate(zip(starts, ends, strict=True)) if b > a]

    def regime_probabilities(self, *, ci_prob: float = 0.94) -> Any:
        """Each date's regime (component) probabilities, from the latest window holding it.

        Date ``t`` is classified by the fit of the latest window ending on or before
        ``t`` (no later data is used), in the stable labels. Dates before the end of
        the first window get none.

        Parameters
        ----------
        ci_prob : float, default=0.94
            Bayesian fits: probability of the equal-tailed credible interval of each
            date's probabilities over the posterior draws.

        Returns
        -------
        xarray.DataArray or xarray.Dataset
            As :meth:`MixtureResult.responsibilities`: dims ``(observation,
            component)``, ``observation`` labelled by date; for Bayesian fits a Dataset
            of ``mean``, ``lower`` and ``upper``.
        """
        bayesian = risk._is_bayesian(self.results_[0])
        if bayesian:
            ci_prob = _check_ci_prob(ci_prob)
        blocks: dict[str, list[np.ndarray]] = {}
        segments = self._segments(first_row=0)
        for j, a, b in segments:
            resp = self.results_[j].responsibilities(self.data.iloc[a:b], ci_prob=ci_prob)
            order = self.orders_[j]
            variables = resp.data_vars if bayesian else {"probabilities": resp}
            for name, values in variables.items():
                blocks.setdefault(name, []).append(values.values[:, order])
        index = self.data.index[segments[0][1] :]
        coords = {"observation": np.asarray(index), "component": np.arange(self.orders_.shape[1])}
        dims = ("observation", "component")
        if not bayesian:
            return xr.DataArray(
                np.concatenate(blocks["probabilities"]),
                dims=dims,
                coords=coords,
                name="regime_probabilities",
            )
        return xr.Dataset(
            {name: (dims, np.concatenate(parts)) for name, parts in blocks.items()},
            coords=coords,
            attrs={
                "ci_prob": ci_prob,
                "description": f"posterior mean and {ci_prob:.0%} equal-tailed credible "
                "interval of each date's regime probabilities over the posterior draws",
            },
        )

    def forecast(
        self, alpha: float = 0.01, *, portfolio: Any = None, ci_prob: float = 0.94
    ) -> RiskForecast:
        """Out-of-sample VaR and ES: each date's from the window that ends the day before.

        Parameters
        ----------
        alpha : float, default=0.01
            Tail probability of the VaR and ES.
        portfolio : array-like of shape (D,) or Series, default=None
            Portfolio weights, one per asset, when the fit has several.
        ci_prob : float, default=0.94
            Bayesian fits: probability of the credible bands.

        Returns
        -------
        RiskForecast
            For every date after the first window (with ``step`` > 1, a fit forecasts
            the ``step`` days up to the next refit), with the realised returns.
        """
        level = risk._check_level("alpha", alpha)
        if level.ndim:
            raise ValueError(f"forecast takes one level alpha; got {alpha!r}.")
        alpha = float(level)
        segments = self._segments(first_row=1)
        if not segments:
            raise ValueError(
                "The last window ends on the last date, so there is no later date to "
                "forecast: use a shorter window or more data."
            )
        mixtures, bayesian = _forecast_mixtures(self.results_, portfolio)
        fit_index = np.concatenate([np.full(b - a, j) for j, a, b in segments])
        rows = slice(segments[0][1], len(self.data))
        values = self.data.iloc[rows]
        if portfolio is not None:
            weights = risk._check_portfolio(portfolio, self.results_[0])
            realised = pd.Series(values.to_numpy() @ weights, index=values.index)
        else:
            realised = values.iloc[:, 0]
        realised = realised.rename("realised")
        window_end = self.window_end_dates[fit_index]
        return _make_forecast(mixtures, bayesian, alpha, ci_prob, fit_index, realised, window_end)


def _returns_frame(returns: Any) -> pd.DataFrame:
    """Returns as a checked float DataFrame (a Series becomes one column), index kept."""
    if isinstance(returns, pd.Series):
        returns = returns.to_frame(name=returns.name if returns.name is not None else "returns")
    elif not isinstance(returns, pd.DataFrame):
        array = np.asarray(returns, dtype=np.float64)
        returns = pd.DataFrame(array[:, None] if array.ndim == 1 else array)
        returns.columns = [f"x{i}" for i in range(returns.shape[1])]
    check_X(returns, estimator="rolling_fit", min_samples=2)
    if not returns.index.is_unique or not returns.index.is_monotonic_increasing:
        raise ValueError(
            "returns need an increasing index with one row per date (sort it and drop "
            "duplicate dates first)."
        )
    return returns.astype(np.float64)


def _window_bounds(n_rows: int, window: int, step: int, expanding: bool) -> tuple:
    window = check_int("rolling_fit", "window", window, 2)
    step = check_int("rolling_fit", "step", step, 1)
    if window > n_rows:
        raise ValueError(
            f"window={window} is longer than the {n_rows} rows of returns: use a window of "
            "at most that many rows."
        )
    ends = np.arange(window, n_rows + 1, step)
    starts = np.zeros_like(ends) if expanding else ends - window
    return starts, ends


def _clone(estimator: Any) -> Any:
    return type(estimator)(**estimator.get_params())


def _fit_quietly(estimator: Any, data: pd.DataFrame) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(data)
    return list(caught)


def _fit_window(current: Any, template: Any, data: pd.DataFrame, warm: bool) -> tuple:
    """Fit one window: warm from ``current`` when asked, else (or if that degenerates) cold.

    Returns the fitted estimator (the next window's warm start), whether the fit it
    kept was warm, and the warnings of that fit.
    """
    if warm:
        current.set_params(warm_start=True)
        caught = _fit_quietly(current, data)
        if not current.result_.degenerate:
            return current, True, caught
        logger.info("warm start degenerated on the window ending %s; refitting", data.index[-1])
    estimator = _clone(template)
    if "warm_start" in estimator.get_params():
        estimator.set_params(warm_start=False)
    return estimator, False, _fit_quietly(estimator, data)


def _first_order(result: Any) -> np.ndarray:
    """Components of the first window by total variance (covariance trace), calmest first."""
    trace = np.trace(result.covariances.values, axis1=-2, axis2=-1)
    return np.argsort(trace, kind="stable")


def _report_warnings(caught: dict, frame: pd.DataFrame, ends: np.ndarray) -> dict:
    """Window -> warning texts; one summary warning (of the first's category) if any."""
    texts = {j: [str(w.message) for w in messages] for j, messages in caught.items() if messages}
    if texts:
        first = min(texts)
        category = caught[first][0].category
        warnings.warn(
            f"{len(texts)} of {len(ends)} window fits raised warnings; the first, on the "
            f"window ending {frame.index[ends[first] - 1]}: {texts[first][0]} "
            "(all are in RollingFit.warnings_).",
            category,
            stacklevel=3,
        )
    return texts


def rolling_fit(
    returns: Any,
    *,
    window: int,
    step: int = 1,
    expanding: bool = False,
    estimator: Any = None,
    warm_start: bool = True,
) -> RollingFit:
    """Refit a mixture on rolling (or expanding) windows, keeping component labels stable.

    Parameters
    ----------
    returns : Series, DataFrame or array-like of shape (n,) or (n, D)
        Returns (one column per asset), in time order; a DatetimeIndex labels the
        results by date.
    window : int
        Rows per window (with ``expanding``, rows of the first window).
    step : int, default=1
        Rows between refits: 1 refits every day, 5 every week of trading days.
    expanding : bool, default=False
        Every window starts at the first row (an expanding window) instead of
        rolling forward.
    estimator : GaussianMixture or BayesianGaussianMixture, default=None
        The unfitted estimator every window is fitted with (it is copied, not
        changed); ``GaussianMixture(2, random_state=0)`` when None.
    warm_start : bool, default=True
        Start each window's EM from the previous window's fit (one start, a few
        iterations) instead of the estimator's own starts. A warm start that ends
        with a degenerate component is refitted with the estimator's starts.
        Ignored for estimators without ``warm_start``.

    Returns
    -------
    RollingFit
        The fits, their relabelling, and :meth:`~RollingFit.regime_probabilities`,
        :meth:`~RollingFit.forecast` and :meth:`~RollingFit.parameters`.

    Notes
    -----
    A warm start keeps the previous optimum's neighbourhood, which is what keeps
    regimes comparable from day to day; it can also stay in a local optimum that a
    fresh multi-start fit would leave. Compare a few windows with a cold fit (the
    estimator alone) when that matters. Warnings of the window fits are collected
    into ``warnings_`` and summarised in one warning.

    See Also
    --------
    bayesgmm.comparison.match_components, backtest, es_backtest

    Examples
    --------
    >>> from bayesgmm.datasets import load_sp500_returns
    >>> returns = load_sp500_returns().iloc[-300:]
    >>> rolling = rolling_fit(returns, window=250, step=10)
    >>> rolling.n_windows, rolling.regime_probabilities().dims
    (6, ('observation', 'component'))
    """
    frame = _returns_frame(returns)
    starts, ends = _window_bounds(len(frame), window, step, expanding)
    if estimator is None:
        from .em.estimator import GaussianMixture

        estimator = GaussianMixture(2, random_state=0)
    can_warm = warm_start and "warm_start" in estimator.get_params()
    results, orders, warm_flags, caught = _fit_windows(frame, starts, ends, estimator, can_warm)
    return RollingFit(
        data=frame,
        results_=results,
        orders_=np.array(orders),
        window_starts_=starts,
        window_ends_=ends,
        warm_starts_=np.array(warm_flags),
        warnings_=_report_warnings(caught, frame, ends),
    )


def _fit_windows(frame, starts, ends, estimator, can_warm: bool) -> tuple:
    """Every window's fit, its stable order, whether it was warm, and its warnings.

    Window ``j``'s order maps the previous window's labels through the matching of the
    two fits: ``order_j[k] = match(fit_{j-1}, fit_j)[order_{j-1}[k]]``.
    """
    current, results, orders, warm_flags, caught = None, [], [], [], {}
    for j, (start, end) in enumerate(zip(starts, ends, strict=True)):
        current, warm, caught[j] = _fit_window(
            current, estimator, frame.iloc[start:end], can_warm and j > 0
        )
        result = current.result_
        if j == 0:
            order = _first_order(result)
        else:
            order = match_components(results[-1], result)[orders[-1]]
        results.append(result)
        orders.append(order)
        warm_flags.append(warm)
    return results, orders, warm_flags, caught
