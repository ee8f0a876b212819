"""Plots of a bootstrap: ellipses of the replicates, and the likelihood-ratio test's law.

They take a :class:`~bayesgmm.bootstrap.Bootstrap` or
:class:`~bayesgmm.bootstrap.LikelihoodRatioTest` duck-typed (``draws()`` and the fit's
shape; ``replicates`` and ``statistic``), so that ``bayesgmm.bootstrap`` may call them
without an import cycle.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import check_random_state
from . import _draw
from ._inputs import as_array, feature_index, parameter_draws

__all__ = ["plot_bootstrap", "plot_bootstrap_lrt"]


def plot_bootstrap(
    bootstrap: Any,
    X: Any = None,
    *,
    features: Any = None,
    n_draws: int = 40,
    scale: float = 2.0,
    random_state: Any = 0,
    ax: Any = None,
    ellipse_kwargs: dict[str, Any] | None = None,
    scatter_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Covariance ellipses of ``n_draws`` bootstrap replicates, a cloud per component.

    The spread of the ellipses shows the sampling uncertainty of each component's
    location, size and orientation; the replicates are numbered as the fit's
    components, so colours keep their meaning.

    Parameters
    ----------
    bootstrap : Bootstrap
        The output of :func:`bayesgmm.bootstrap.bootstrap`.
    X : array-like or DataFrame, default=None
        Data drawn underneath.
    features : pair of str or int, default=None
    n_draws : int, default=40
        Replicates drawn.
    scale : float, default=2.0
        Mahalanobis radius of each ellipse (2σ).
    random_state : int, Generator or None, default=0
        Which replicates are shown.
    ax : matplotlib Axes, default=None
    ellipse_kwargs : dict, default=None
        Forwarded to each :class:`matplotlib.patches.Ellipse`.
    scatter_kwargs : dict, default=None
        Forwarded to ``ax.scatter``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from bayesgmm import GaussianMixture
    >>> from bayesgmm.bootstrap import bootstrap
    >>> from bayesgmm.datasets import load_faithful
    >>> X = load_faithful()
    >>> boot = bootstrap(GaussianMixture(2, random_state=0).fit(X), X, n_boot=100)
    >>> plot_bootstrap(boot, X)  # doctest: +SKIP
    """
    index = feature_index(bootstrap, features, 2)
    _, means, covs = parameter_draws(bootstrap, index, n_draws, check_random_state(random_state))
    return _draw.posterior_ellipses(
        ax,
        None if X is None else as_array(X)[:, index],
        means,
        covs,
        bootstrap.estimate["weights"].values,
        scale,
        names=tuple(bootstrap.feature_names[i] for i in index),
        title=f"{scale:g}\u03c3 ellipses of {len(means)} {bootstrap.kind} bootstrap replicates",
        ellipse_kwargs=ellipse_kwargs,
        scatter_kwargs=scatter_kwargs,
    )


def plot_bootstrap_lrt(
    test: Any, *, bins: int = 30, ax: Any = None, hist_kwargs: dict[str, Any] | None = None
) -> Any:
    """The likelihood-ratio statistic's bootstrap law under K components, and its value.

    Parameters
    ----------
    test : LikelihoodRatioTest
        The output of :func:`bayesgmm.bootstrap.bootstrap_lrt`.
    bins : int, default=30
    ax : matplotlib Axes, default=None
    hist_kwargs : dict, default=None
        Forwarded to ``ax.hist``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from bayesgmm import GaussianMixture
    >>> from bayesgmm.bootstrap import bootstrap_lrt
    >>> from bayesgmm.datasets import load_faithful
    >>> X = load_faithful()
    >>> test = bootstrap_lrt(GaussianMixture(2, random_state=0).fit(X), X, n_boot=99)
    >>> plot_bootstrap_lrt(test)  # doctest: +SKIP
    """
    k = test.n_components
    return _draw.statistic_histogram(
        ax,
        np.asarray(test.replicates, dtype=np.float64),
        float(test.statistic),
        bins=bins,
        label=f"{test.n_boot} replicates drawn from the {k}-component fit",
        line_label=f"observed statistic (p-value {test.p_value:.3g})",
        xlabel=f"2 (log L with {k + 1} components - log L with {k})",
        title=f"Bootstrap likelihood-ratio test: {k} against {k + 1} components",
        hist_kwargs=hist_kwargs,
    )
