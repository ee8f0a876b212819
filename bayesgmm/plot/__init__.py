"""Plots of fitted mixtures (matplotlib, optional: ``pip install "bayesgmm[plot]"``).

Every function takes a fitted estimator or a :class:`~bayesgmm.MixtureResult` (or a
selection or comparison result), computes what it shows through the result, then
draws on ``ax`` (a new figure when None) and returns the Axes (or Figure). Keyword
dictionaries (``scatter_kwargs``, ``ellipse_kwargs``, ...) are forwarded to exactly
one matplotlib call each. Bands and intervals carry labels built from ``ci_prob``.

As in ArviZ, each front module (``clusterplot``, ``densityplot``, ``criterionplot``,
``riskplot``, ``comparisonplot``, ``financeplot``, ``bootstrapplot``) checks arguments
and computes; ``_draw`` receives plain arrays and only draws. Importing this package
does not import matplotlib: the first drawing call does, and says how to install it
when it is missing.
"""

from __future__ import annotations

from .bootstrapplot import plot_bootstrap, plot_bootstrap_lrt
from .clusterplot import plot_clusters, plot_uncertainty
from .comparisonplot import plot_comparison
from .criterionplot import plot_criterion
from .densityplot import plot_density, plot_posterior_ellipses
from .financeplot import plot_regime_probabilities, plot_risk_contributions, plot_var_backtest
from .riskplot import plot_risk

__all__ = [
    "plot_clusters",
    "plot_uncertainty",
    "plot_density",
    "plot_criterion",
    "plot_posterior_ellipses",
    "plot_risk",
    "plot_comparison",
    "plot_regime_probabilities",
    "plot_var_backtest",
    "plot_risk_contributions",
    "plot_bootstrap",
    "plot_bootstrap_lrt",
]
