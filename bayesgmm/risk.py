"""Risk measures of Gaussian mixtures: cdf, quantile, VaR, expected shortfall, contributions.

For returns ``r`` (in the data's units, for example percent) the mixture density is
``sum_k w_k N(r | mu_k, sigma_k^2)``. At level ``alpha`` (for example 0.01):

- value at risk ``VaR = -q_alpha``, the loss exceeded with probability ``alpha``
  (``q_alpha`` is the mixture's ``alpha`` quantile);
- expected shortfall ``ES = -E[r | r <= q_alpha]``, the mean loss beyond VaR, in
  closed form ``-(1/alpha) sum_k w_k (mu_k Phi(z_k) - sigma_k phi(z_k))`` with
  ``z_k = (q_alpha - mu_k) / sigma_k``.

Both are reported as positive losses. A fit to several assets gives the risk of any
portfolio ``x``: its return ``x . r`` is again a mixture of normals, with means
``x . mu_k`` and variances ``x' Sigma_k x``, so every function here takes
``portfolio=`` (one weight vector, or many as an (M, D) array, computed at once).
:func:`risk_contributions` splits a portfolio's VaR or ES among its assets (Euler
allocation), and ``component=k`` gives the risk within one regime.

An EM fit gives one number; a Bayesian fit gives one per posterior draw, summarised
by the posterior mean and an equal-tailed credible interval of probability
``ci_prob``. The interval is parameter uncertainty (how well the data pin the tail
down), not the spread of tomorrow's return.

Student-t components (``family="t"``) are handled by the same formulas: a portfolio
of a multivariate t component is a 1-D t with the same degrees of freedom, location
``x . mu_k`` and scale ``sqrt(x' Sigma_k x)`` (Sigma_k the scale matrix), and every
formula reads the standardised component law from one object (:class:`_Family`): the
normal's, or the t's with each component's degrees of freedom. The t's cdf and quantile
are SciPy's (``stdtr``, ``stdtrit``); its partial mean is in closed form,
``E[T 1{T <= z}] = -(nu + z^2) / (nu - 1) f_nu(z)``, infinite for ``nu <= 1`` (a
component with no mean has an infinite expected shortfall).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from . import gaussian
from .data import check_float

__all__ = [
    "RiskEstimate",
    "cdf",
    "quantile",
    "value_at_risk",
    "expected_shortfall",
    "risk_contributions",
    "mixture_parameters_1d",
    "mixture_cdf",
    "mixture_quantile",
    "mixture_shortfall",
]

_BISECTION_STEPS = 200
_LOG_SQRT_2PI = 0.5 * float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class RiskEstimate:
    """A risk quantity from a fit: a point (EM) or a posterior summary (Bayes).

    Attributes
    ----------
    name : str
        What was computed ("cdf", "quantile", "value_at_risk", "expected_shortfall",
        "value_at_risk_contributions", "expected_shortfall_contributions").
    at : float or ndarray
        The level or point it was computed at (``alpha``, ``q`` or ``x``).
    value : float or ndarray
        The EM value, or the posterior mean for a Bayesian fit. With an (M, D)
        ``portfolio`` the first axis is the portfolio; contributions end with an
        axis over the features.
    lower, upper : float, ndarray or None
        Equal-tailed ``ci_prob`` credible interval (None for EM).
    ci_prob : float or None
        Probability of the credible interval (None for EM).
    draws : ndarray or None
        One value per posterior draw, draws first (None for EM).
    features : tuple of str or None
        Names of the last axis of ``value`` for contributions (None otherwise).
    """

    name: str
    at: Any
    value: Any
    lower: Any = None
    upper: Any = None
    ci_prob: float | None = None
    draws: np.ndarray | None = None
    features: tuple[str, ...] | None = None

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
        if self.features is not None:
            text += f" over features {list(self.features)}"
        if self.is_bayesian:
            text += (
                f", posterior mean; {self.ci_prob:.0%} credible interval "
                f"[{show(self.lower)}, {show(self.upper)}] from {len(self.draws)} draws"
            )
        return text + ")"


# ---------------------------------------------------------------------- the component law
def _normal_log_pdf(z: np.ndarray) -> np.ndarray:
    return -0.5 * z * z - _LOG_SQRT_2PI


def _normal_lower_partial_mean(z: np.ndarray) -> np.ndarray:
    """``E[Z 1{Z <= z}]`` of a standard normal: ``-phi(z)``."""
    return -np.exp(_normal_log_pdf(z))


@dataclass(frozen=True)
class _Family:
    """A standardised component distribution: what the risk formulas need of it.

    ``lower_partial_mean(z)`` is ``E[Z 1{Z <= z}]``. Every formula in this module
    reads the component law from here (cdf for probabilities, ppf for the quantile's
    bracket, the partial mean for ES, the log-pdf for VaR contributions), and uses
    only that each component is a location-scale law whose conditional means are
    linear (true of the Gaussian and the Student-t).
    """

    name: str
    cdf: Callable[[np.ndarray], np.ndarray]
    log_cdf: Callable[[np.ndarray], np.ndarray]
    ppf: Callable[[np.ndarray], np.ndarray]
    log_pdf: Callable[[np.ndarray], np.ndarray]
    lower_partial_mean: Callable[[np.ndarray], np.ndarray]


_NORMAL = _Family(
    "normal",
    special.ndtr,
    special.log_ndtr,
    special.ndtri,
    _normal_log_pdf,
    _normal_lower_partial_mean,
)


def _student_t(dof: np.ndarray) -> _Family:
    """The standard t law with degrees of freedom ``dof`` (broadcast against ``z``)."""
    nu = np.asarray(dof, dtype=np.float64)
    constant = (
        special.gammaln(0.5 * (nu + 1)) - special.gammaln(0.5 * nu) - 0.5 * np.log(nu * np.pi)
    )

    def log_pdf(z: np.ndarray) -> np.ndarray:
        return constant - 0.5 * (nu + 1) * np.log1p(z * z / nu)

    def log_cdf(z: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(special.stdtr(nu, z))

    def lower_partial_mean(z: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            value = -(nu + z * z) / (nu - 1) * np.exp(log_pdf(z))
        return np.where(nu > 1, value, -np.inf)

    return _Family(
        "t",
        lambda z: special.stdtr(nu, z),
        log_cdf,
        lambda q: special.stdtrit(nu, q),
        log_pdf,
        lower_partial_mean,
    )


def _family_of(dof: np.ndarray | None) -> _Family:
    """The component law: the normal's, or the t's with these degrees of freedom (shaped
    as the mixture parameters they go with)."""
    return _NORMAL if dof is None else _student_t(dof)


# ---------------------------------------------------------------------- array level
def mixture_cdf(x: Any, weights: Any, means: Any, sds: Any) -> np.ndarray:
    """cdf of 1-D normal mixtures with parameters ``(..., K)``; ``x`` broadcasts to ``...``.

    Examples
    --------
    >>> float(mixture_cdf(0.0, [0.5, 0.5], [-1.0, 1.0], [1.0, 1.0]))
    0.5
    """
    weights, means, sds = (np.asarray(p, dtype=np.float64) for p in (weights, means, sds))
    z = (np.asarray(x, dtype=np.float64)[..., None] - means) / sds
    return np.sum(weights * _NORMAL.cdf(z), axis=-1)


def _log_cdf(x: np.ndarray, weights, means, sds, family: _Family) -> np.ndarray:
    z = (x[..., None] - means) / sds
    with np.errstate(divide="ignore"):
        return gaussian.log_mixture_density(np.log(weights) + family.log_cdf(z))[0]


def _quantile(q: np.ndarray, weights, means, sds, family: _Family = _NORMAL) -> np.ndarray:
    """Vectorised bisection on the log-cdf; q broadcast against the leading dims.

    The mixture's quantile lies between the smallest and the largest of its
    components' quantiles (below all of them every component's cdf is under ``q``,
    above all of them over it), which brackets it; halving the bracket reaches the
    float64 resolution in at most 200 steps, usually about 55.
    """
    q = np.asarray(q, dtype=np.float64)
    component_quantiles = means + sds * family.ppf(q[..., None])
    with np.errstate(invalid="ignore"):  # a zero weight's component does not bound
        present = weights > 0
    low = np.min(np.where(present, component_quantiles, np.inf), axis=-1)
    high = np.max(np.where(present, component_quantiles, -np.inf), axis=-1)
    shape = np.broadcast_shapes(q.shape, low.shape)
    low = np.broadcast_to(low, shape).copy()
    high = np.broadcast_to(high, shape).copy()
    target = np.broadcast_to(np.log(q), shape)
    for _ in range(_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        below = _log_cdf(middle, weights, means, sds, family) < target
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
        if np.all(high - low <= 4 * np.finfo(np.float64).eps * np.maximum(np.abs(middle), 1.0)):
            break
    return 0.5 * (low + high)


def mixture_quantile(q: Any, weights: Any, means: Any, sds: Any) -> np.ndarray:
    """Quantiles of 1-D normal mixtures with parameters ``(..., K)``, by bisection.

    Parameters
    ----------
    q : float or array-like
        Probabilities in (0, 1), broadcast against the parameters' leading dims.
    weights, means, sds : array-like of shape (..., K)
        Weights, means and standard deviations of each mixture's components.

    Returns
    -------
    ndarray
        ``q`` broadcast against the leading dims.

    Examples
    --------
    >>> round(float(mixture_quantile(0.975, [1.0], [0.0], [1.0])), 4)
    1.96
    """
    weights, means, sds = (np.asarray(p, dtype=np.float64) for p in (weights, means, sds))
    return _quantile(_check_level("q", q), weights, means, sds)


def _tail_mean(q: np.ndarray, weights, means, sds, alpha, family: _Family = _NORMAL):
    """``E[r | r <= q]`` in closed form (the mixture's partial first moment over alpha)."""
    z = (q[..., None] - means) / sds
    partial = means * family.cdf(z) + sds * family.lower_partial_mean(z)
    return np.sum(weights * partial, axis=-1) / alpha


def mixture_shortfall(
    alpha: Any, weights: Any, means: Any, sds: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Value at risk and expected shortfall of 1-D normal mixtures, ``(..., K)`` parameters.

    Parameters
    ----------
    alpha : float or array-like
        Tail probabilities, broadcast against the parameters' leading dims.
    weights, means, sds : array-like of shape (..., K)

    Returns
    -------
    var, es : ndarray
        Positive losses, ``-q_alpha`` and ``-E[r | r <= q_alpha]``.

    Examples
    --------
    >>> var, es = mixture_shortfall(0.05, [1.0], [0.0], [1.0])
    >>> round(float(var), 3), round(float(es), 3)
    (1.645, 2.063)
    """
    weights, means, sds = (np.asarray(p, dtype=np.float64) for p in (weights, means, sds))
    alpha = _check_level("alpha", alpha)
    q = _quantile(alpha, weights, means, sds)
    return -q, -_tail_mean(q, weights, means, sds, alpha)


# ---------------------------------------------------------------------- fit level
def _result_of(model: Any) -> Any:
    result = getattr(model, "result_", model)
    if not callable(getattr(type(result), "draws", None)) or not hasattr(result, "posterior"):
        raise TypeError(
            "Expected a fitted GaussianMixture, BayesianGaussianMixture or a MixtureResult; "
            f"got {type(model).__name__}. Fit the estimator first."
        )
    return result


def _check_portfolio(portfolio: Any, result: Any) -> np.ndarray:
    """Portfolio weights as an (M, D) or (D,) float array in the fit's feature order.

    A Series is aligned on the feature names by its index, a DataFrame by its columns
    (when those are strings); anything else is taken in the fit's column order.
    """
    names = list(result.feature_names)
    if hasattr(portfolio, "columns"):
        labels = list(portfolio.columns)
    elif getattr(portfolio, "ndim", 0) == 1 and hasattr(portfolio, "index"):
        labels = list(portfolio.index)
    else:
        labels = None
    if labels is not None and all(isinstance(label, str) for label in labels):
        if sorted(labels) != sorted(names):
            raise ValueError(
                f"portfolio names {labels} do not match the fit's features {names}: give one "
                "weight per feature, labelled by its column name (or a plain array in the "
                "fit's column order)."
            )
        portfolio = portfolio[names] if hasattr(portfolio, "columns") else portfolio.loc[names]
    array = np.asarray(getattr(portfolio, "values", portfolio), dtype=np.float64)
    if array.ndim not in (1, 2) or array.shape[-1] != result.n_features:
        raise ValueError(
            f"portfolio has shape {array.shape}; expected ({result.n_features},) for one "
            f"portfolio or (M, {result.n_features}) for M portfolios, one weight per "
            f"feature {names}."
        )
    if not np.isfinite(array).all() or not np.any(array != 0, axis=-1).all():
        raise ValueError(
            "portfolio weights must be finite and not all zero (a portfolio with no "
            "position has no return distribution)."
        )
    return array


def _portfolio_sds(variances: np.ndarray) -> np.ndarray:
    if not (variances > 0).all():
        raise ValueError(
            "A portfolio has zero variance in some component (its weights are orthogonal "
            "to that component's covariance): its VaR is not defined. Check the weights."
        )
    return np.sqrt(variances)


def _component_index(component: Any, n_components: int) -> int | None:
    if component is None:
        return None
    if isinstance(component, bool) or not isinstance(component, int | np.integer):
        raise TypeError(f"component must be an int (a component's index); got {component!r}.")
    if not 0 <= component < n_components:
        raise ValueError(
            f"component={component} does not exist: this fit has components 0 to "
            f"{n_components - 1}."
        )
    return int(component)


def _parameter_draws(result: Any, component: int | None) -> tuple[np.ndarray, ...]:
    """Weights (S, K), means (S, K, D), full covariances (S, K, D, D) and degrees of
    freedom (S, K; None for Gaussian components) from ``draws()``.

    With ``component`` only that component is kept, with weight 1: the law of a
    return given that regime.
    """
    draws = result.draws()  # chains and draws stacked below; an EM fit is one draw
    k, d = result.n_components, result.n_features
    weights = draws["weights"].values.reshape(-1, k)
    means = draws["means"].values.reshape(-1, k, d)
    covariances = draws["covariances"].values.reshape(-1, k, d, d)
    dof = draws["dof"].values.reshape(-1, k) if "dof" in draws else None
    if component is not None:
        keep = slice(component, component + 1)
        weights = np.ones_like(weights[:, keep])
        means, covariances = means[:, keep], covariances[:, keep]
        dof = None if dof is None else dof[:, keep]
    return weights, means, covariances, dof


def _is_bayesian(result: Any) -> bool:
    return getattr(result.posterior, "posterior", None) is not None


def mixture_parameters_1d(
    model: Any, portfolio: Any = None, *, component: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Weights, means and standard deviations of a fit's 1-D return mixture.

    For Student-t components the third array holds the components' scales (their
    standard deviations times ``sqrt((nu - 2) / nu)``), the t's location-scale
    parameters; the degrees of freedom are in ``result.draws()["dof"]``.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A fit to one return series, or to several assets with ``portfolio`` given.
    portfolio : array-like of shape (D,) or (M, D), Series or DataFrame, default=None
        Portfolio weights, one per feature (a Series by its index, a DataFrame by its
        columns are aligned on the feature names). The portfolio return ``x . r`` is
        the mixture with means ``x . mu_k`` and variances ``x' Sigma_k x``.
    component : int, default=None
        Keep only this component, with weight 1: the law within one regime.

    Returns
    -------
    weights, means, sds : ndarray
        Shape (K,) for an EM fit and one portfolio (or none); (M, K) for M
        portfolios; a leading axis over the posterior draws (chains stacked) for a
        Bayesian fit. K is 1 with ``component``.
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
    *params, _, bayesian = _parameters_1d(_result_of(model), portfolio, component)
    return (*params, bayesian)


def _parameters_1d(result: Any, portfolio: Any, component: Any) -> tuple:
    """:func:`mixture_parameters_1d` with the degrees of freedom shaped as the weights."""
    component = _component_index(component, result.n_components)
    weights, means, covariances, dof = _parameter_draws(result, component)
    if portfolio is None:
        if result.n_features != 1:
            raise ValueError(
                f"This fit has {result.n_features} features {result.feature_names}: pass "
                "portfolio= (one weight per feature) for the risk of a portfolio, or fit a "
                "mixture of one variable (a return series), e.g. X[['returns']]."
            )
        means, sds = means[..., 0], np.sqrt(covariances[..., 0, 0])
    else:
        x = _check_portfolio(portfolio, result)
        means = np.einsum("skd,...d->s...k", means, x)
        sds = _portfolio_sds(np.einsum("...d,skde,...e->s...k", x, covariances, x))
        lead = (len(weights), *(1,) * (x.ndim - 1), -1)
        weights = np.broadcast_to(weights.reshape(lead), means.shape).copy()
        dof = None if dof is None else np.broadcast_to(dof.reshape(lead), means.shape)
    if _is_bayesian(result):
        return weights, means, sds, dof, True
    return weights[0], means[0], sds[0], None if dof is None else dof[0], False


def _check_level(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if not np.all((array > 0) & (array < 1)):
        raise ValueError(
            f"{name} must lie strictly between 0 and 1 (a probability such as 0.01 for a 1 % "
            f"VaR); got {value!r}."
        )
    return array


def _summarise(
    name: str, at: Any, values: np.ndarray, bayesian: bool, ci_prob: float, features=None
) -> RiskEstimate:
    if not bayesian:
        value = values if np.ndim(values) else float(values)
        return RiskEstimate(name, at, value, features=features)
    ci_prob = check_float("risk", "ci_prob", ci_prob, 0.0, strict=True)
    if ci_prob >= 1:
        raise ValueError(f"ci_prob must be below 1 (for example 0.94); got {ci_prob!r}.")
    tail = (1 - ci_prob) / 2
    lower, upper = np.quantile(values, [tail, 1 - tail], axis=0)
    mean = values.mean(axis=0)

    def scalar(value: Any) -> Any:
        return float(value) if np.ndim(value) == 0 else value

    return RiskEstimate(
        name, at, scalar(mean), scalar(lower), scalar(upper), ci_prob, np.asarray(values), features
    )


def _expand(params: tuple[np.ndarray, ...], ndim: int) -> tuple:
    """(..., K) arrays to (..., 1, ..., 1, K) so they broadcast against ``ndim`` level dims."""
    return tuple(p.reshape(p.shape[:-1] + (1,) * ndim + p.shape[-1:]) for p in params)


def _at(value: np.ndarray) -> Any:
    return float(value) if value.ndim == 0 else value


def _risk_inputs(model: Any, portfolio: Any, component: Any, ndim: int) -> tuple:
    """Expanded 1-D mixture parameters, the component law, and whether they are draws."""
    *params, dof, bayesian = _parameters_1d(_result_of(model), portfolio, component)
    family = _family_of(None if dof is None else _expand((dof,), ndim)[0])
    return _expand(tuple(params), ndim), family, bayesian


def cdf(
    model: Any,
    x: Any,
    *,
    portfolio: Any = None,
    component: int | None = None,
    ci_prob: float = 0.94,
) -> RiskEstimate:
    """Probability that a return is at most ``x``, under the fitted mixture.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A 1-D fit, or a fit to several assets with ``portfolio``.
    x : float or array-like
        Points, in the data's units.
    portfolio : array-like of shape (D,) or (M, D), Series or DataFrame, default=None
        Portfolio weights (see :func:`mixture_parameters_1d`).
    component : int, default=None
        The probability within this regime (component) only.
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
    x = np.asarray(x, dtype=np.float64)
    (weights, means, sds), family, bayesian = _risk_inputs(model, portfolio, component, x.ndim)
    z = (x[..., None] - means) / sds
    values = np.sum(weights * family.cdf(z), axis=-1)
    return _summarise("cdf", _at(x), values, bayesian, ci_prob)


def quantile(
    model: Any,
    q: Any,
    *,
    portfolio: Any = None,
    component: int | None = None,
    ci_prob: float = 0.94,
) -> RiskEstimate:
    """The mixture's ``q`` quantile (inverse cdf), found by bisection on the log-cdf.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A 1-D fit, or a fit to several assets with ``portfolio``.
    q : float or array-like
        Probabilities strictly between 0 and 1.
    portfolio : array-like of shape (D,) or (M, D), Series or DataFrame, default=None
        Portfolio weights (see :func:`mixture_parameters_1d`).
    component : int, default=None
        The quantile within this regime (component) only.
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
    q = _check_level("q", q)
    params, family, bayesian = _risk_inputs(model, portfolio, component, q.ndim)
    return _summarise("quantile", _at(q), _quantile(q, *params, family), bayesian, ci_prob)


def value_at_risk(
    model: Any,
    alpha: Any = 0.01,
    *,
    portfolio: Any = None,
    component: int | None = None,
    ci_prob: float = 0.94,
) -> RiskEstimate:
    """Value at risk: the loss exceeded with probability ``alpha``, ``-q_alpha``.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A 1-D fit to returns (losses are negative returns), or a fit to several
        assets' returns with ``portfolio``.
    alpha : float or array-like, default=0.01
        Tail probability, e.g. 0.01 for the 99 % VaR.
    portfolio : array-like of shape (D,) or (M, D), Series or DataFrame, default=None
        Portfolio weights, one per feature: the VaR of the return ``x . r``. An
        (M, D) array gives M VaRs at once.
    component : int, default=None
        The VaR within this regime (component): of the return given the regime.
    ci_prob : float, default=0.94
        Credible interval probability for a Bayesian fit.

    Returns
    -------
    RiskEstimate
        A positive number for a loss, in the data's units (with weights that sum to
        one, the portfolio's return units).

    See Also
    --------
    expected_shortfall, risk_contributions, bayesgmm.finance.backtest

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([1.0]), means=np.array([[0.0]]),
    ...                     covariances=np.array([1.0]), covariance_type="spherical")
    >>> round(value_at_risk(fit, 0.05).value, 3)
    1.645
    >>> two = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
    ...                     covariances=np.ones(1), covariance_type="spherical")
    >>> value_at_risk(two, 0.05, portfolio=[[1.0, 0.0], [0.5, 0.5]]).value.round(3)
    array([1.645, 1.163])
    """
    alpha = _check_level("alpha", alpha)
    params, family, bayesian = _risk_inputs(model, portfolio, component, alpha.ndim)
    values = -_quantile(alpha, *params, family)
    return _summarise("value_at_risk", _at(alpha), values, bayesian, ci_prob)


def expected_shortfall(
    model: Any,
    alpha: Any = 0.01,
    *,
    portfolio: Any = None,
    component: int | None = None,
    ci_prob: float = 0.94,
) -> RiskEstimate:
    """Expected shortfall: the mean loss on the worst ``alpha`` share of days.

    ``ES = -E[r | r <= q_alpha]``, in closed form for a Gaussian mixture (see the
    module's docstring). Always at least the VaR at the same level.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A 1-D fit to returns, or a fit to several assets with ``portfolio``.
    alpha : float or array-like, default=0.01
        Tail probability.
    portfolio : array-like of shape (D,) or (M, D), Series or DataFrame, default=None
        Portfolio weights, one per feature (see :func:`value_at_risk`).
    component : int, default=None
        The ES within this regime (component).
    ci_prob : float, default=0.94
        Credible interval probability for a Bayesian fit.

    Returns
    -------
    RiskEstimate
        A positive number for a loss, in the data's units.

    See Also
    --------
    value_at_risk, risk_contributions

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([1.0]), means=np.array([[0.0]]),
    ...                     covariances=np.array([1.0]), covariance_type="spherical")
    >>> round(expected_shortfall(fit, 0.05).value, 3)
    2.063
    """
    alpha = _check_level("alpha", alpha)
    params, family, bayesian = _risk_inputs(model, portfolio, component, alpha.ndim)
    q = _quantile(alpha, *params, family)
    values = -_tail_mean(q, *params, alpha, family)
    return _summarise("expected_shortfall", _at(alpha), values, bayesian, ci_prob)


def _euler_gradients(q, weights, means, shifted, centre, sds, family: _Family) -> tuple:
    """Gradients in the portfolio weights of the quantile and of the tail's partial mean.

    Per draw s, portfolio m and component k, with ``c_k = Sigma_k x`` (``shifted``),
    ``s_k^2 = x' c_k``, ``z_k = (q - x . mu_k) / s_k``:

    - ``dq/dx = sum_k p_k (mu_k + z_k c_k / s_k)``, ``p_k`` proportional to
      ``w_k f(z_k) / s_k`` (the regime probabilities given a return of exactly ``q``):
      ``E[r | x . r = q]``;
    - ``d/dx E[x.r 1{x.r <= q}] = sum_k w_k (mu_k F(z_k) + c_k L(z_k) / s_k)`` with ``L``
      the law's lower partial mean: ``E[r 1{x . r <= q}]`` (the terms in dq/dx cancel).
    """
    z = (q[..., None] - centre) / sds
    with np.errstate(divide="ignore"):
        log_p = np.log(weights)[:, None, :] + family.log_pdf(z) - np.log(sds)
    p = np.exp(log_p - special.logsumexp(log_p, axis=-1, keepdims=True))
    quantile_gradient = np.einsum("smk,skd->smd", p, means) + np.einsum(
        "smk,smkd->smd", p * z / sds, shifted
    )
    tail = weights[:, None, :] * family.cdf(z)
    slope = weights[:, None, :] * family.lower_partial_mean(z) / sds
    tail_gradient = np.einsum("smk,skd->smd", tail, means) + np.einsum(
        "smk,smkd->smd", slope, shifted
    )
    return quantile_gradient, tail_gradient


def risk_contributions(
    model: Any,
    portfolio: Any,
    alpha: float = 0.01,
    *,
    measure: str = "expected_shortfall",
    component: int | None = None,
    ci_prob: float = 0.94,
) -> RiskEstimate:
    """Each asset's share of a portfolio's VaR or ES (Euler allocation).

    The contribution of asset ``i`` is ``x_i dRisk/dx_i``; VaR and ES are
    homogeneous of degree one in the weights, so the contributions sum to the
    portfolio's risk (Tasche 1999). For a normal mixture both are in closed form:
    the VaR contribution is ``-x_i E[r_i | x . r = q_alpha]`` and the ES contribution
    ``-x_i E[r_i | x . r <= q_alpha]``, each a sum over the components of the normal's
    conditional mean (Notes).

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A fit to the assets' returns (one feature per asset).
    portfolio : array-like of shape (D,) or (M, D), Series or DataFrame
        Portfolio weights, one per feature.
    alpha : float, default=0.01
        Tail probability (one level).
    measure : {"expected_shortfall", "value_at_risk"}, default="expected_shortfall"
        The risk measure to allocate.
    component : int, default=None
        Allocate the risk within this regime only.
    ci_prob : float, default=0.94
        Credible interval probability for a Bayesian fit.

    Returns
    -------
    RiskEstimate
        ``value`` of shape (D,), or (M, D) for M portfolios, in the data's units,
        named by ``features``; per draw for a Bayesian fit (each draw's
        contributions sum to that draw's risk).

    Notes
    -----
    With ``c_k = Sigma_k x``, ``s_k^2 = x' c_k``, ``z_k = (q - x . mu_k) / s_k``:
    ``dq/dx = sum_k p_k (mu_k + z_k c_k / s_k)`` where ``p_k`` is proportional to
    ``w_k phi(z_k) / s_k``, and ``dES/dx = -(1/alpha) sum_k w_k (mu_k Phi(z_k) -
    c_k phi(z_k) / s_k)``.

    References
    ----------
    Tasche, D. (1999). Risk contributions and performance measurement. Working paper,
    TU Munich.

    See Also
    --------
    value_at_risk, expected_shortfall

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
    ...                     covariances=np.array([[[1.0, 0.0], [0.0, 4.0]]]),
    ...                     covariance_type="full")
    >>> parts = risk_contributions(fit, [0.5, 0.5], 0.05)
    >>> parts.value.round(3), round(float(parts.value.sum()), 3)
    (array([0.461, 1.845]), 2.306)
    """
    result = _result_of(model)
    component = _component_index(component, result.n_components)
    level = _check_level("alpha", alpha)
    if level.ndim:
        raise ValueError(f"risk_contributions takes one level alpha; got {alpha!r}.")
    if measure not in ("expected_shortfall", "value_at_risk"):
        raise ValueError(
            f"measure must be 'expected_shortfall' or 'value_at_risk'; got {measure!r}."
        )
    x = _check_portfolio(portfolio, result)
    values = _contributions(result, np.atleast_2d(x), float(level), measure, component)
    values = values if x.ndim == 2 else values[:, 0]
    bayesian = _is_bayesian(result)
    return _summarise(
        f"{measure}_contributions",
        float(level),
        values if bayesian else values[0],
        bayesian,
        ci_prob,
        tuple(result.feature_names),
    )


def _contributions(result, portfolios, alpha: float, measure: str, component) -> np.ndarray:
    """Euler contributions (S, M, D) of portfolios (M, D) for every draw."""
    weights, means, covariances, dof = _parameter_draws(result, component)
    shifted = np.einsum("skde,me->smkd", covariances, portfolios)
    centre = np.einsum("skd,md->smk", means, portfolios)
    sds = _portfolio_sds(np.einsum("smkd,md->smk", shifted, portfolios))
    family = _family_of(None if dof is None else dof[:, None, :])
    q = _quantile(alpha, weights[:, None, :], centre, sds, family)
    quantile_gradient, tail_gradient = _euler_gradients(
        q, weights, means, shifted, centre, sds, family
    )
    if measure == "value_at_risk":
        return -portfolios * quantile_gradient
    return -portfolios * tail_gradient / alpha
