"""Finance plots: regime probabilities over time, VaR against returns, risk contributions.

They take the objects of :mod:`bayesgmm.finance` without importing it (finance uses
:mod:`bayesgmm.comparison`, whose plot method imports this package).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import risk
from . import _draw
from ._inputs import fitted_result

__all__ = ["plot_regime_probabilities", "plot_var_backtest", "plot_risk_contributions"]


def _regime_labels(parameters: Any) -> list[str]:
    """``regime k (sd ...)``: each regime with its average standard deviation over windows.

    The standard deviation is that of a one-asset fit, or the root of the covariance's
    trace (total variance) for several assets.
    """
    covariances = parameters["covariances"].values  # (window, K, D, D)
    spread = np.sqrt(np.trace(covariances, axis1=-2, axis2=-1)).mean(axis=0)
    word = "sd" if covariances.shape[-1] == 1 else "total sd"
    return [f"regime {k} (mean {word} {value:.2g})" for k, value in enumerate(spread)]


def _time_label(index: Any) -> str:
    """The x-axis label: "date" for dates, else the rows' position in the data."""
    return "date" if np.issubdtype(np.asarray(index).dtype, np.datetime64) else "row (day number)"


def plot_regime_probabilities(
    rolling: Any,
    *,
    ci_prob: float = 0.94,
    ax: Any = None,
    scatter_kwargs: dict[str, Any] | None = None,
    line_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Each date's regime probabilities from a rolling fit, and each window's weights.

    A mixture has no dynamics, so a day's probabilities follow that day's return
    (points); the window weights (lines) show how the regimes' shares move. A
    Bayesian fit adds each day's credible interval (a vertical segment).

    Parameters
    ----------
    rolling : RollingFit
        From :func:`bayesgmm.finance.rolling_fit`.
    ci_prob : float, default=0.94
        Probability of the credible bands (Bayesian fits).
    ax : matplotlib Axes, default=None
    scatter_kwargs : dict, default=None
        Forwarded to ``ax.scatter`` (each regime's daily probabilities).
    line_kwargs : dict, default=None
        Forwarded to ``ax.plot`` (each regime's window weights).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from bayesgmm.datasets import load_sp500_returns
    >>> from bayesgmm.finance import rolling_fit
    >>> rolling = rolling_fit(load_sp500_returns().iloc[-400:], window=250, step=25)
    >>> plot_regime_probabilities(rolling).get_ylabel()
    'regime probability'
    """
    if not callable(getattr(rolling, "regime_probabilities", None)):
        raise TypeError(
            f"Expected a RollingFit (from bayesgmm.finance.rolling_fit); got "
            f"{type(rolling).__name__}."
        )
    probabilities = rolling.regime_probabilities(ci_prob=ci_prob)
    dates = probabilities["observation"].values
    bands = None
    if hasattr(probabilities, "data_vars"):
        label = f"{ci_prob:.0%} credible band (parameter uncertainty)"
        bands = (probabilities["lower"].values, probabilities["upper"].values, label)
        probabilities = probabilities["mean"]
    parameters = rolling.parameters()
    step = int(np.diff(rolling.window_ends_[:2])[0]) if rolling.n_windows > 1 else 1
    return _draw.regime_probabilities(
        ax,
        dates,
        probabilities.values,
        bands,
        parameters["window"].values,
        parameters["weights"].values,
        _regime_labels(parameters),
        xlabel=_time_label(dates),
        title=f"Regimes over time: windows of {rolling.window_ends_[0]} rows, refitted "
        + ("every row" if step == 1 else f"every {step} rows"),
        scatter_kwargs=scatter_kwargs,
        line_kwargs=line_kwargs,
    )


def plot_var_backtest(
    forecast: Any,
    *,
    show_es: bool = True,
    ax: Any = None,
    line_kwargs: dict[str, Any] | None = None,
    scatter_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Out-of-sample VaR (and ES) against the realised returns, exceedances marked.

    The VaR and ES are drawn as loss thresholds on the return axis (``-VaR``); a
    Bayesian forecast adds the credible band of its VaR. The title reports the
    backtest (:func:`bayesgmm.finance.backtest`).

    Parameters
    ----------
    forecast : RiskForecast
        From :meth:`bayesgmm.finance.RollingFit.forecast`.
    show_es : bool, default=True
        Also draw ``-ES``.
    ax : matplotlib Axes, default=None
    line_kwargs : dict, default=None
        Forwarded to ``ax.plot`` of the thresholds.
    scatter_kwargs : dict, default=None
        Forwarded to ``ax.scatter`` of the exceedances.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from bayesgmm.datasets import load_sp500_returns
    >>> from bayesgmm.finance import rolling_fit
    >>> rolling = rolling_fit(load_sp500_returns().iloc[-400:], window=250, step=25)
    >>> ax = plot_var_backtest(rolling.forecast(0.05))
    >>> ax.get_ylabel()
    'return (realised, and the forecast loss thresholds)'
    """
    if not callable(getattr(forecast, "backtest", None)) or not hasattr(forecast, "var"):
        raise TypeError(
            f"Expected a RiskForecast (from RollingFit.forecast); got {type(forecast).__name__}."
        )
    result = forecast.backtest()
    level = f"{100 * (1 - forecast.alpha):.3g}%"
    thresholds = [(-forecast.var.to_numpy(), f"-VaR {level}")]
    if show_es:
        thresholds.append((-forecast.es.to_numpy(), f"-ES {level}"))
    band = None
    if forecast.is_bayesian:
        label = f"{forecast.ci_prob:.0%} credible band of the VaR (parameter uncertainty)"
        band = (-forecast.var_upper.to_numpy(), -forecast.var_lower.to_numpy(), label)
    return _draw.var_backtest(
        ax,
        forecast.var.index.to_numpy(),
        forecast.realised.to_numpy(),
        thresholds,
        band,
        result.exceedances.to_numpy(),
        exceedance_label=f"exceedance ({result.n_exceedances}, {result.expected:.1f} expected)",
        xlabel=_time_label(forecast.var.index),
        ylabel="return (realised, and the forecast loss thresholds)",
        title=f"Out-of-sample VaR {level}: Kupiec p={result.p_value:.2g}, "
        f"Christoffersen conditional coverage p={result.coverage_p_value:.2g}",
        line_kwargs=line_kwargs,
        scatter_kwargs=scatter_kwargs,
    )


def plot_risk_contributions(
    model: Any,
    portfolio: Any,
    alpha: float = 0.01,
    *,
    measure: str = "expected_shortfall",
    ci_prob: float = 0.94,
    ax: Any = None,
    bar_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Each asset's contribution to a portfolio's ES (or VaR), with credible intervals.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A fit to the assets' returns.
    portfolio : array-like of shape (D,) or Series
        Portfolio weights, one per asset.
    alpha : float, default=0.01
    measure : {"expected_shortfall", "value_at_risk"}, default="expected_shortfall"
    ci_prob : float, default=0.94
        Credible interval probability (Bayesian fits).
    ax : matplotlib Axes, default=None
    bar_kwargs : dict, default=None
        Forwarded to ``ax.bar``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from bayesgmm import GaussianMixture
    >>> from bayesgmm.datasets import load_eustockmarkets
    >>> returns = load_eustockmarkets()
    >>> fit = GaussianMixture(2, random_state=0).fit(returns)
    >>> ax = plot_risk_contributions(fit, [0.25, 0.25, 0.25, 0.25])
    >>> [tick.get_text() for tick in ax.get_xticklabels()]
    ['DAX', 'SMI', 'CAC', 'FTSE']
    """
    result = fitted_result(model)
    if np.ndim(getattr(portfolio, "values", portfolio)) != 1:
        raise ValueError("plot_risk_contributions draws one portfolio: give weights of shape (D,).")
    parts = risk.risk_contributions(result, portfolio, alpha, measure=measure, ci_prob=ci_prob)
    name = "ES" if measure == "expected_shortfall" else "VaR"
    total = float(np.sum(parts.value))
    interval = None
    if parts.is_bayesian:
        interval = (parts.lower, parts.upper, f"{ci_prob:.0%} credible interval")
    return _draw.risk_contributions(
        ax,
        list(parts.features),
        np.asarray(parts.value),
        interval,
        label=f"contribution (sum = portfolio {name} {total:.3g})",
        ylabel=f"contribution to {name} {100 * (1 - alpha):.3g}% (data units)",
        title=f"Euler allocation of the portfolio {name} ({result.n_components} components)",
        bar_kwargs=bar_kwargs,
    )
