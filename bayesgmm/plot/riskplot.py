"""The risk plot: a return density with its value at risk at several levels."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import risk
from . import _draw
from ._inputs import as_array, fitted_result

__all__ = ["plot_risk"]


def _density_on_grid(grid: np.ndarray, weights, means, sds, bayesian: bool) -> np.ndarray:
    """Mixture density at ``grid`` (G,); per draw (S, G) when the parameters are draws."""
    if bayesian:
        weights, means, sds = weights[..., None, :], means[..., None, :], sds[..., None, :]
    z = (grid[:, None] - means) / sds
    return np.sum(weights * np.exp(-0.5 * z**2) / (sds * np.sqrt(2 * np.pi)), axis=-1)


def _var_lines(result: Any, alpha: tuple[float, ...], ci_prob: float) -> list[tuple]:
    """``(loss, label, (lower, upper, label) or None)`` of the VaR at each level."""
    lines = []
    for level in alpha:
        var = risk.value_at_risk(result, level, ci_prob=ci_prob)
        interval = None
        if var.is_bayesian:
            text = f"  {ci_prob:.0%} credible interval [{var.lower:.2f}, {var.upper:.2f}]"
            interval = (var.lower, var.upper, text)
        lines.append((var.value, f"VaR {1 - level:.0%}: loss {var.value:.2f}", interval))
    return lines


def plot_risk(
    model: Any,
    returns: Any = None,
    *,
    alpha: tuple[float, ...] = (0.05, 0.01),
    ci_prob: float = 0.94,
    ax: Any = None,
    hist_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Return density with the value at risk at each level, and its credible band.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
        A 1-D fit to returns.
    returns : array-like, Series or DataFrame, default=None
        Drawn as a histogram.
    alpha : tuple of float, default=(0.05, 0.01)
        VaR levels.
    ci_prob : float, default=0.94
        Credible band probability (Bayesian fits).
    ax : matplotlib Axes, default=None
    hist_kwargs : dict, default=None
        Forwarded to ``ax.hist``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from bayesgmm import GaussianMixture
    >>> from bayesgmm.datasets import load_sp500_returns
    >>> X = load_sp500_returns()
    >>> ax = plot_risk(GaussianMixture(2, random_state=0).fit(X), X)
    >>> ax.get_ylabel()
    'density (log scale)'
    """
    result = fitted_result(model)
    weights, means, sds, bayesian = risk.mixture_parameters_1d(result)
    shown, bins = None, 0
    if returns is not None:
        values = as_array(returns).ravel()
        low, high = np.quantile(values, [0.0005, 0.9995])
        shown = values[(values >= low) & (values <= high)]
        bins = int(np.clip(len(values) // 20, 30, 120))
    else:
        low, high = float(np.min(means - 5 * sds)), float(np.max(means + 5 * sds))
    grid = np.linspace(low, high, 500)
    density = _density_on_grid(grid, weights, means, sds, bayesian)
    band = None
    if bayesian:
        tail = (1 - ci_prob) / 2
        lower, upper = np.quantile(density, [tail, 1 - tail], axis=0)
        band = (lower, upper, f"{ci_prob:.0%} credible band of the density")
        density = density.mean(axis=0)
    return _draw.risk_density(
        ax,
        shown,
        grid,
        density,
        band,
        _var_lines(result, alpha, ci_prob),
        bins=bins,
        label="posterior mean density" if bayesian else "mixture density",
        xlabel=f"return ({result.feature_names[0]})",
        title=f"Return distribution and value at risk ({result.n_components} components)",
        hist_kwargs=hist_kwargs,
    )
