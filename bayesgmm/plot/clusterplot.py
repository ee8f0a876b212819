"""Plots of the data's partition: clusters with their ellipses, and assignment uncertainty."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _draw
from ._inputs import as_array, feature_index, fitted_result

__all__ = ["plot_clusters", "plot_uncertainty"]


def plot_clusters(
    model: Any,
    X: Any,
    *,
    features: Any = None,
    ellipses: tuple[float, ...] = (1.0, 2.0),
    ax: Any = None,
    scatter_kwargs: dict[str, Any] | None = None,
    ellipse_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Points coloured by their most probable component, with covariance ellipses.

    The 1σ and 2σ ellipses are the contours at Mahalanobis distance 1 and 2 of each
    component's marginal Gaussian on the two features shown; a cross marks the mean.
    One-feature fits are drawn as a histogram per component with the weighted
    component densities.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
    X : array-like or DataFrame of shape (n_samples, n_features)
    features : pair of str or int, default=None
        Features on the axes (the first two when None).
    ellipses : tuple of float, default=(1.0, 2.0)
        Mahalanobis radii of the ellipses drawn.
    ax : matplotlib Axes, default=None
    scatter_kwargs : dict, default=None
        Forwarded to ``ax.scatter``.
    ellipse_kwargs : dict, default=None
        Forwarded to each :class:`matplotlib.patches.Ellipse`.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from bayesgmm import GaussianMixture
    >>> from bayesgmm.datasets import load_faithful
    >>> X = load_faithful()
    >>> ax = plot_clusters(GaussianMixture(2, random_state=0).fit(X), X)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('eruptions', 'waiting')
    """
    result = fitted_result(model)
    data = as_array(X)
    labels = result.predict(X).values
    if result.n_features == 1:
        return _clusters_1d(result, data[:, 0], labels, ax)
    index = feature_index(result, features, 2)
    return _draw.clusters(
        ax,
        data[:, index],
        labels,
        result.weights.values,
        result.means.values[:, index],
        result.covariances.values[:, index][:, :, index],
        ellipses,
        names=tuple(result.feature_names[i] for i in index),
        title=f"{result.n_components} components ({result.covariance_type}, {result.method})",
        scatter_kwargs=scatter_kwargs,
        ellipse_kwargs=ellipse_kwargs,
    )


def _clusters_1d(result: Any, values: np.ndarray, labels: np.ndarray, ax: Any) -> Any:
    """Histogram per component, with each weighted component density scaled to counts."""
    bins = np.histogram_bin_edges(values, bins="auto")
    grid = np.linspace(values.min(), values.max(), 400)
    means = result.means.values[:, :1]
    sds = np.sqrt(result.covariances.values[:, :1, 0])
    weights = result.weights.values
    density = weights[:, None] * np.exp(-0.5 * ((grid - means) / sds) ** 2)
    density /= sds * np.sqrt(2 * np.pi)
    counts = density * len(values) * (bins[1] - bins[0])
    title = f"{result.n_components} components ({result.method})"
    return _draw.clusters_1d(
        ax, values, labels, bins, grid, counts, weights, name=result.feature_names[0], title=title
    )


def _uncertainty(result: Any, X: Any, ci_prob: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """Labels, the uncertainty of each point, and whether the fit is Bayesian.

    EM: ``1 - max_k r_nk``; Bayes: the width of the credible interval of the
    responsibility of the most probable component.
    """
    resp = result.responsibilities(X, ci_prob=ci_prob)
    order = ("observation", "component")
    if not hasattr(resp, "data_vars"):  # an EM fit: a DataArray of responsibilities
        mean = np.asarray(resp.transpose(*order).values)
        return mean.argmax(axis=1), 1.0 - mean.max(axis=1), False
    mean, lower, upper = (
        resp[name].transpose(*order).values for name in ("mean", "lower", "upper")
    )
    labels = mean.argmax(axis=1)
    rows = np.arange(len(labels))
    return labels, upper[rows, labels] - lower[rows, labels], True


def plot_uncertainty(
    model: Any,
    X: Any,
    *,
    features: Any = None,
    ci_prob: float = 0.94,
    ax: Any = None,
    scatter_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Assignment uncertainty: larger, darker points are less certain.

    For an EM fit the uncertainty of a point is ``1 - max_k r_nk`` (as mclust's
    uncertainty plot); for a Bayesian fit it is the width of the ``ci_prob``
    credible interval of the responsibility of the point's most probable component.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
    X : array-like or DataFrame of shape (n_samples, n_features)
    features : pair of str or int, default=None
        Features on the axes (the first two when None).
    ci_prob : float, default=0.94
        Credible interval probability (Bayesian fits).
    ax : matplotlib Axes, default=None
    scatter_kwargs : dict, default=None
        Forwarded to ``ax.scatter``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from bayesgmm import GaussianMixture
    >>> from bayesgmm.datasets import load_faithful
    >>> X = load_faithful()
    >>> ax = plot_uncertainty(GaussianMixture(3, random_state=0).fit(X), X)
    >>> ax.get_title()
    'Assignment uncertainty: 1 - max responsibility'
    """
    result = fitted_result(model)
    data = as_array(X)
    labels, uncertainty, bayesian = _uncertainty(result, X, ci_prob)
    measure = what = "1 - max responsibility"
    if bayesian:
        measure = f"{ci_prob:.0%} interval width"
        what = f"width of the {ci_prob:.0%} credible interval of the responsibility"
    title = "Assignment uncertainty: " + (f"{measure} of the responsibility" if bayesian else what)
    if result.n_features == 1:
        i, y, names = 0, uncertainty, (result.feature_names[0], what)
    else:
        i, j = feature_index(result, features, 2)
        y, names = data[:, j], (result.feature_names[i], result.feature_names[j])
    return _draw.uncertainty(
        ax,
        data[:, i],
        y,
        uncertainty,
        labels,
        result.n_components,
        names=names,
        title=title,
        legend_name=measure,
        scatter_kwargs=scatter_kwargs,
    )
