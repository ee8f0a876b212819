"""The EM-versus-Bayes figure: EM clusters, posterior ellipses, and a parameter panel.

It takes a :class:`~bayesgmm.comparison.Comparison` duck-typed (its ``em_fit``,
``bayes_aligned``, ``table`` and ``ci_prob``), so that ``bayesgmm.comparison`` may call
it without an import cycle.
"""

from __future__ import annotations

from typing import Any

from . import _draw
from ._inputs import fitted_result
from .clusterplot import plot_clusters
from .densityplot import plot_posterior_ellipses

__all__ = ["plot_comparison"]

_VALUES = ("em", "posterior_mean", "hdi_lower", "hdi_upper")


def plot_comparison(
    comparison: Any, X: Any, *, features: Any = None, figsize: tuple[float, float] = (13, 5)
) -> Any:
    """EM and Bayesian fits side by side: EM ellipses, posterior ellipses, parameters.

    Parameters
    ----------
    comparison : Comparison
        The output of :func:`bayesgmm.compare`.
    X : array-like or DataFrame
        The data both were fitted to.
    features : pair of str or int, default=None
    figsize : tuple, default=(13, 5)

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from bayesgmm import BayesianGaussianMixture, GaussianMixture, compare
    >>> from bayesgmm.datasets import load_faithful
    >>> X = load_faithful()
    >>> em = GaussianMixture(2, random_state=0).fit(X)
    >>> bayes = BayesianGaussianMixture(2, method="advi", random_state=0).fit(X)  # doctest: +SKIP
    >>> plot_comparison(compare(em, bayes, X), X).savefig("em_vs_bayes.png")  # doctest: +SKIP
    """
    em = fitted_result(comparison.em_fit)
    figure, axes = _draw.figure_row(3, figsize)
    _draw.titled(plot_clusters(em, X, features=features, ax=axes[0]), "EM: maximum likelihood")
    ellipses = plot_posterior_ellipses(comparison.bayes_aligned, X, features=features, ax=axes[1])
    _draw.titled(ellipses, "Bayes: 2\u03c3 ellipses of posterior draws")
    _parameter_panel(comparison, axes[2])
    return figure


def _parameter_panel(comparison: Any, ax: Any) -> Any:
    """Weights and means, each as its difference from the posterior mean over its size."""
    table = comparison.table
    rows = table[table["parameter"].isin(["weights", "means"])].reset_index(drop=True)
    scale = rows[list(_VALUES)].abs().max(axis=1)
    scale = scale.where(scale > 0, 1.0)
    center = rows["posterior_mean"]
    em, mean, lower, upper = (((rows[c] - center) / scale).to_numpy(float) for c in _VALUES)
    names = [
        f"{p} k={int(k)}" + ("" if f == "" else f" {f}")
        for p, k, f in zip(rows["parameter"], rows["component"], rows["feature"], strict=True)
    ]
    return _draw.parameter_panel(
        ax,
        em,
        mean,
        lower,
        upper,
        rows["em_inside"].to_numpy(bool),
        names,
        interval_label=f"{comparison.ci_prob:.0%} HDI (Bayes)",
    )
