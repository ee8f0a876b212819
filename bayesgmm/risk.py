"""Risk measures of a 1-D Gaussian mixture: cdf, quantile, VaR, expected shortfall.

For returns ``r`` (in the data's units, for example percent) the mixture density is
``sum_k w_k N(r | mu_k, sigma_k^2)``. At level ``alpha`` (for example 0.01):

- value at risk ``VaR = -q_alpha``, the loss exceeded with probability ``alpha``
  (``q_alpha`` is the mixture's ``alpha`` quantile);
- expected shortfall ``ES = -E[r | r <= q_alpha]``, the mean loss beyond VaR, in
  closed form ``-(1/alpha) sum_k w_k (mu_k Phi(z_k) - sigma_k phi(z_k))`` with
  ``z_k = (q_alpha - mu_k) / sigma_k``.

Both are reported as positive losses. An EM fit gives one number; a Bayesian fit
gives one per posterior draw, summarised by the posterior mean and an equal-tailed
credible interval of probability ``ci_prob``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from .data import check_float

__all__ = [
    "RiskEstimate",
    "Backtest",
    "cdf",
    "quantile",
    "value_at_risk",
    "expected_shortfall",
    "backtest",
    "mixture_parameters_1d",
]

_BISECTION_STEPS = 200


@dataclass(frozen=True)
class RiskEstimate:
    """A risk quantity from a fit: a point (EM) or a posterior summary (Bayes).

    Attributes
    ----------
    name : str
        What was computed ("cdf", "quantile", "value_at_risk", "expected_shortfall").
    at : float or ndarray
        The level or point it was computed at (``alpha``, ``q`` or ``x``).
    value : float or ndarray
        The EM value, or the posterior mean for a Bayesian fit.
    lower, upper : float, ndarray or None
        Equal-tailed ``ci_prob`` credible interval (None for EM).
    ci_prob : float or None
        Probability of the credible interval (None for EM).
    draws : ndarray or None
        One value per posterior draw, draws first (None for EM).
    """

    name: str
    at: Any
    value: Any
    lower: Any = None
    upper: Any = None
    ci_prob: float | None = None
    draws: np.ndarray | None = None

    @property
    def is_bayesian(self) -> bool:
        """True when the estimate carries a posterior distribution."""
        return self.draws is not None

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        def show(value: Any) -> str:
            array = np.asarray(value)
            return f"{float(array):.4g}" if array.ndim == 0 else np.array2string(array, precision=4)

        text = f"RiskEstimate({self.name} at {show(self.at)}: {show(self.value)}"
        if self.is_bayesian:
            text += (
                f", posterior mean; {self.ci_prob:.0%} credible interval "
                f"[{show(self.lower)}, {show(self.upper)}] from {len(self.draws)} draws"
            )
        return text + ")"


@dataclass(frozen=True)
class Backtest:
    """Exceedance count of a VaR forecast, with Kupiec's proportion-of-failures test.

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
    lr_statistic : float
        Kupiec's likelihood-ratio statistic (chi-squared, 1 degree of freedom, under
        a correct VaR).
    p_value : float
        Small values say the exceedance rate differs from ``alpha``.
    exceedances : ndarray of bool
        Which observations exceeded.
    """

    alpha: float
    n_observations: int
    n_exceedances: int
    expected: float
    rate: float
    lr_statistic: float
    p_value: float
    exceedances: np.ndarray

    def __repr__(self) -> str:
        return (
            f"Backtest(alpha={self.alpha:g}: {self.n_exceedances} exceedances in "
            f"{self.n_observations} observations, {self.expected:.1f} expected; "
            f"Kupiec LR {self.lr_statistic:.3g}, p={self.p_value:.3g})"
        )


def mixture_parameters_1d(model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Weights, means and standard deviations of a 1-D mixture fit.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A fit to one feature.

    Returns
    -------
    weights, means, sds : ndarray
        Shape (K,) for an EM fit; (n_draws, K) for a Bayesian fit (chains and draws
        stacked).
    bayesian : bool
        Whether the arrays are posterior draws.

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([0.3, 0.7]), means=np.array([[-1.0], [0.5]]),
    ...                     covariances=np.array([4.0, 1.0]), covariance_type="spherical")
    >>> mixture_parameters_1d(fit)[2]
    array([2., 1.])
    """
    result = getattr(model, "result_", model)
    if not hasattr(result, "covariances") or not hasattr(result, "posterior"):
        raise TypeError(
            "Expected a fitted GaussianMixture, BayesianGaussianMixture or a MixtureResult; "
            f"got {type(model).__name__}. Fit the estimator first."
        )
    if result.n_features != 1:
        raise ValueError(
            f"Risk measures need a mixture of one variable (a return series); this fit has "
            f"{result.n_features} features {result.feature_names}. Fit one column, e.g. "
            "X[['returns']]."
        )
    draws = result.draws()  # chains and draws stacked below; an EM fit is one draw
    k = result.n_components
    weights = draws["weights"].values.reshape(-1, k)
    means = draws["means"].values.reshape(-1, k)
    sds = np.sqrt(draws["covariances"].values.reshape(-1, k))
    if getattr(result.posterior, "posterior", None) is not None:
        return weights, means, sds, True
    return weights[0], means[0], sds[0], False


def _cdf(x: np.ndarray, weights: np.ndarray, means: np.ndarray, sds: np.ndarray) -> np.ndarray:
    """Mixture cdf; parameters (..., K), x broadcast against their leading dims."""
    z = (x[..., None] - means) / sds
    return np.sum(weights * special.ndtr(z), axis=-1)


def _log_cdf(x: np.ndarray, weights: np.ndarray, means: np.ndarray, sds: np.ndarray) -> np.ndarray:
    z = (x[..., None] - means) / sds
    with np.errstate(divide="ignore"):
        return special.logsumexp(np.log(weights) + special.log_ndtr(z), axis=-1)


def _quantile(q: np.ndarray, weights: np.ndarray, means: np.ndarray, sds: np.ndarray) -> np.ndarray:
    """Vectorised bisection on the log-cdf; q broadcast against the leading dims.

    The bracket ``[min(mu - 40 sigma), max(mu + 40 sigma)]`` holds every quantile in
    (1e-300, 1); 200 halvings reach the float64 resolution of any bracket.
    """
    q = np.asarray(q, dtype=np.float64)
    low = np.min(means - 40 * sds, axis=-1)
    high = np.max(means + 40 * sds, axis=-1)
    shape = np.broadcast_shapes(q.shape, low.shape)
    low = np.broadcast_to(low, shape).copy()
    high = np.broadcast_to(high, shape).copy()
    target = np.broadcast_to(np.log(q), shape)
    for _ in range(_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        below = _log_cdf(middle, weights, means, sds) < target
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
        if np.all(high - low <= 4 * np.finfo(np.float64).eps * np.maximum(np.abs(middle), 1.0)):
            break
    return 0.5 * (low + high)


def _tail_mean(q: np.ndarray, weights, means, sds, alpha) -> np.ndarray:
    """``E[r | r <= q]`` in closed form (the mixture's partial first moment over alpha)."""
    z = (q[..., None] - means) / sds
    partial = np.sum(weights * (means * special.ndtr(z) - sds * stats.norm.pdf(z)), axis=-1)
    return partial / alpha


def _check_level(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if not np.all((array > 0) & (array < 1)):
        raise ValueError(
            f"{name} must lie strictly between 0 and 1 (a probability such as 0.01 for a 1 % "
            f"VaR); got {value!r}."
        )
    return array


def _summarise(name: str, at: Any, values: np.ndarray, bayesian: bool, ci_prob: float):
    if not bayesian:
        value = values if np.ndim(values) else float(values)
        return RiskEstimate(name, at, value)
    ci_prob = check_float("risk", "ci_prob", ci_prob, 0.0, strict=True)
    if ci_prob >= 1:
        raise ValueError(f"ci_prob must be below 1 (for example 0.94); got {ci_prob!r}.")
    tail = (1 - ci_prob) / 2
    lower, upper = np.quantile(values, [tail, 1 - tail], axis=0)
    mean = values.mean(axis=0)

    def scalar(value: Any) -> Any:
        return float(value) if np.ndim(value) == 0 else value

    return RiskEstimate(
        name, at, scalar(mean), scalar(lower), scalar(upper), ci_prob, np.asarray(values)
    )


def _expand(params: tuple[np.ndarray, ...], bayesian: bool, ndim: int) -> tuple:
    """(S, K) posterior arrays to (S, 1, ..., 1, K) so they broadcast against ``ndim`` dims."""
    if not bayesian:
        return params
    return tuple(p.reshape(p.shape[:1] + (1,) * ndim + p.shape[1:]) for p in params)


def _at(value: np.ndarray) -> Any:
    return float(value) if value.ndim == 0 else value


def cdf(model: Any, x: Any, *, ci_prob: float = 0.94) -> RiskEstimate:
    """Probability that a return is at most ``x``, under the fitted mixture.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A 1-D fit.
    x : float or array-like
        Points, in the data's units.
    ci_prob : float, default=0.94
        Credible interval probability for a Bayesian fit (ArviZ's default).

    Returns
    -------
    RiskEstimate

    See Also
    --------
    quantile, value_at_risk, expected_shortfall

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([1.0]), means=np.array([[0.0]]),
    ...                     covariances=np.array([1.0]), covariance_type="spherical")
    >>> round(cdf(fit, 1.96).value, 4)
    0.975
    """
    *params, bayesian = mixture_parameters_1d(model)
    x = np.asarray(x, dtype=np.float64)
    values = _cdf(x, *_expand(tuple(params), bayesian, x.ndim))
    return _summarise("cdf", _at(x), values, bayesian, ci_prob)


def quantile(model: Any, q: Any, *, ci_prob: float = 0.94) -> RiskEstimate:
    """The mixture's ``q`` quantile (inverse cdf), found by bisection on the log-cdf.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A 1-D fit.
    q : float or array-like
        Probabilities strictly between 0 and 1.
    ci_prob : float, default=0.94
        Credible interval probability for a Bayesian fit.

    Returns
    -------
    RiskEstimate

    See Also
    --------
    cdf, value_at_risk

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([1.0]), means=np.array([[0.0]]),
    ...                     covariances=np.array([1.0]), covariance_type="spherical")
    >>> round(quantile(fit, 0.975).value, 4)
    1.96
    """
    *params, bayesian = mixture_parameters_1d(model)
    q = _check_level("q", q)
    values = _quantile(q, *_expand(tuple(params), bayesian, q.ndim))
    return _summarise("quantile", _at(q), values, bayesian, ci_prob)


def value_at_risk(model: Any, alpha: Any = 0.01, *, ci_prob: float = 0.94) -> RiskEstimate:
    """Value at risk: the loss exceeded with probability ``alpha``, ``-q_alpha``.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A 1-D fit to returns (losses are negative returns).
    alpha : float or array-like, default=0.01
        Tail probability, e.g. 0.01 for the 99 % VaR.
    ci_prob : float, default=0.94
        Credible interval probability for a Bayesian fit.

    Returns
    -------
    RiskEstimate
        A positive number for a loss, in the data's units.

    See Also
    --------
    expected_shortfall, backtest

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([1.0]), means=np.array([[0.0]]),
    ...                     covariances=np.array([1.0]), covariance_type="spherical")
    >>> round(value_at_risk(fit, 0.05).value, 3)
    1.645
    """
    *params, bayesian = mixture_parameters_1d(model)
    alpha = _check_level("alpha", alpha)
    values = -_quantile(alpha, *_expand(tuple(params), bayesian, alpha.ndim))
    return _summarise("value_at_risk", _at(alpha), values, bayesian, ci_prob)


def expected_shortfall(model: Any, alpha: Any = 0.01, *, ci_prob: float = 0.94) -> RiskEstimate:
    """Expected shortfall: the mean loss on the worst ``alpha`` share of days.

    ``ES = -E[r | r <= q_alpha]``, in closed form for a Gaussian mixture (see the
    module's docstring). Always at least the VaR at the same level.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A 1-D fit to returns.
    alpha : float or array-like, default=0.01
        Tail probability.
    ci_prob : float, default=0.94
        Credible interval probability for a Bayesian fit.

    Returns
    -------
    RiskEstimate
        A positive number for a loss, in the data's units.

    See Also
    --------
    value_at_risk

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([1.0]), means=np.array([[0.0]]),
    ...                     covariances=np.array([1.0]), covariance_type="spherical")
    >>> round(expected_shortfall(fit, 0.05).value, 3)
    2.063
    """
    *params, bayesian = mixture_parameters_1d(model)
    alpha = _check_level("alpha", alpha)
    expanded = _expand(tuple(params), bayesian, alpha.ndim)
    q = _quantile(alpha, *expanded)
    values = -_tail_mean(q, *expanded, alpha)
    return _summarise("expected_shortfall", _at(alpha), values, bayesian, ci_prob)


def backtest(returns: Any, var: Any, alpha: float) -> Backtest:
    """Count the days whose loss exceeded the VaR, and test the rate against ``alpha``.

    Parameters
    ----------
    returns : array-like or Series of shape (n,)
        Realised returns, in the units of the VaR.
    var : float, RiskEstimate or array-like of shape (n,)
        The VaR forecast (a positive loss): one number, or one per day (rolling).
        A Bayesian :class:`RiskEstimate` is used through its posterior mean.
    alpha : float
        Level of the VaR.

    Returns
    -------
    Backtest
        Exceedances, the expected count and Kupiec's (1995) proportion-of-failures
        likelihood-ratio test.

    Examples
    --------
    >>> returns = np.array([-3.0, 0.5, 1.0, -0.2, 0.1])
    >>> backtest(returns, 2.0, alpha=0.2).n_exceedances
    1
    """
    alpha = float(_check_level("alpha", alpha))
    returns = np.asarray(getattr(returns, "values", returns), dtype=np.float64).ravel()
    if isinstance(var, RiskEstimate):
        var = var.value
    var = np.asarray(var, dtype=np.float64)
    if var.ndim and var.shape != returns.shape:
        raise ValueError(
            f"var has shape {var.shape} but returns have shape {returns.shape}: give one VaR "
            "or one per return."
        )
    if not (np.isfinite(returns).all() and np.isfinite(var).all()):
        raise ValueError("returns and var must be finite; drop missing days first.")
    exceed = returns < -var
    n, x = len(returns), int(exceed.sum())
    rate = x / n
    # Kupiec: LR = -2 [log L(alpha) - log L(rate)], binomial likelihoods
    log_null = special.xlogy(n - x, 1 - alpha) + special.xlogy(x, alpha)
    log_alt = special.xlogy(n - x, 1 - rate) + special.xlogy(x, rate)
    statistic = max(float(-2 * (log_null - log_alt)), 0.0) + 0.0  # no "-0"
    p_value = float(stats.chi2.sf(statistic, df=1))
    return Backtest(alpha, n, x, alpha * n, rate, statistic, p_value, exceed)
