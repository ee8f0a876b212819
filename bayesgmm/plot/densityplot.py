"""Plots of the fitted distribution: density contours and ellipses of posterior draws."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import gaussian
from ..data import check_random_state
from . import _draw
from ._inputs import as_array, feature_index, fitted_result, has_posterior, parameter_draws

__all__ = ["plot_density", "plot_posterior_ellipses"]


def _mixture_density(
    points: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray
) -> np.ndarray:
    """Density at points (M, d), averaged over draws: weights (S, K), means (S, K, d)."""
    prec_chol = gaussian.precision_cholesky_full(covs)
    with np.errstate(divide="ignore"):
        weighted = gaussian.log_density_full(points, means, prec_chol) + np.log(
            weights[..., None, :]
        )
    log_prob, _ = gaussian.log_mixture_density(weighted)
    return np.exp(log_prob).mean(axis=0)


def _bounds(data: np.ndarray | None, means: np.ndarray, covs: np.ndarray) -> tuple:
    """Low and high corners of the plotted region: the data's range, or means ± 3 sd."""
    ndim = means.shape[-1]
    if data is not None:
        low, high = data.min(axis=0), data.max(axis=0)
    else:
        sd = np.sqrt(np.diagonal(covs, axis1=-2, axis2=-1))
        low = (means - 3 * sd).reshape(-1, ndim).min(axis=0)
        high = (means + 3 * sd).reshape(-1, ndim).max(axis=0)
    pad = 0.08 * (high - low)
    return low - pad, high + pad


def plot_density(
    model: Any,
    X: Any = None,
    *,
    features: Any = None,
    n_draws: int = 100,
    grid_size: int = 120,
    ax: Any = None,
    contour_kwargs: dict[str, Any] | None = None,
    scatter_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Contours of the fitted density on two features (a curve for one feature).

    The density shown is the mixture's marginal on the chosen features. For a
    Bayesian fit it is the posterior predictive density, the average of the
    densities of ``n_draws`` posterior draws.

    Parameters
    ----------
    model : GaussianMixture, BayesianGaussianMixture or MixtureResult
    X : array-like or DataFrame, default=None
        Data drawn under the contours (or as a histogram for one feature).
    features : pair of str or int, default=None
    n_draws : int, default=100
        Posterior draws averaged (Bayesian fits).
    grid_size : int, default=120
        Grid points per axis.
    ax : matplotlib Axes, default=None
    contour_kwargs : dict, default=None
        Forwarded to ``ax.contour`` (or ``ax.plot`` for one feature).
    scatter_kwargs : dict, default=None
        Forwarded to ``ax.scatter`` (or ``ax.hist`` for one feature).

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
    >>> ax = plot_density(GaussianMixture(2, random_state=0).fit(X), X)
    >>> ax.get_ylabel()
    'waiting'
    """
    result = fitted_result(model)
    ndim = 1 if result.n_features == 1 else 2
    index = feature_index(result, features, ndim)
    draws = parameter_draws(result, index, n_draws, np.random.default_rng(0))
    data = None if X is None else as_array(X)[:, index]
    bounds = _bounds(data, *draws[1:])
    texts = {
        "label": "posterior predictive density" if has_posterior(result) else "fitted density",
        "names": tuple(result.feature_names[i] for i in index),
        "n_components": result.n_components,
    }
    if ndim == 1:
        return _curve(ax, draws, data, bounds, texts, contour_kwargs, scatter_kwargs)
    return _contours(ax, draws, data, bounds, grid_size, texts, contour_kwargs, scatter_kwargs)


def _curve(ax, draws, data, bounds, texts, line_kwargs, hist_kwargs) -> Any:
    """The density of a one-feature fit over 400 points, above a histogram of the data."""
    grid = np.linspace(bounds[0][0], bounds[1][0], 400)
    return _draw.density_curve(
        ax,
        grid,
        _mixture_density(grid[:, None], *draws),
        None if data is None else data[:, 0],
        label=texts["label"],
        name=texts["names"][0],
        title=f"Density of the {texts['n_components']}-component fit",
        line_kwargs=line_kwargs,
        hist_kwargs=hist_kwargs,
    )


def _contours(ax, draws, data, bounds, grid_size, texts, contour_kwargs, scatter_kwargs) -> Any:
    """Contours of the density on a grid_size x grid_size mesh over two features."""
    low, high = bounds
    mesh_x, mesh_y = np.meshgrid(*(np.linspace(low[i], high[i], grid_size) for i in (0, 1)))
    density = _mixture_density(np.column_stack([mesh_x.ravel(), mesh_y.ravel()]), *draws)
    return _draw.density_contours(
        ax,
        mesh_x,
        mesh_y,
        density.reshape(mesh_x.shape),
        data,
        label=texts["label"],
        names=texts["names"],
        title=f"{texts['label'].capitalize()} ({texts['n_components']} components)",
        contour_kwargs=contour_kwargs,
        scatter_kwargs=scatter_kwargs,
    )


def plot_posterior_ellipses(
    model: Any,
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
    """Covariance ellipses of ``n_draws`` posterior draws, a cloud per component.

    The spread of the ellipses shows the posterior uncertainty of each component's
    location, size and orientation (after relabelling, so colours keep meaning).

    Parameters
    ----------
    model : BayesianGaussianMixture or MixtureResult
        A Bayesian fit.
    X : array-like or DataFrame, default=None
        Data drawn underneath.
    features : pair of str or int, default=None
    n_draws : int, default=40
        Posterior draws drawn.
    scale : float, default=2.0
        Mahalanobis radius of each ellipse (2σ).
    random_state : int, Generator or None, default=0
        Which draws are shown.
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
    >>> from bayesgmm import BayesianGaussianMixture
    >>> from bayesgmm.datasets import load_faithful
    >>> X = load_faithful()
    >>> fit = BayesianGaussianMixture(2, method="advi", random_state=0).fit(X)  # doctest: +SKIP
    >>> plot_posterior_ellipses(fit, X, n_draws=30)  # doctest: +SKIP
    """
    result = fitted_result(model)
    index = feature_index(result, features, 2)
    if not has_posterior(result):
        raise ValueError(
            "This needs posterior draws: fit BayesianGaussianMixture (method='nuts' or "
            "'advi'); an EM fit has none."
        )
    _, means, covs = parameter_draws(result, index, n_draws, check_random_state(random_state))
    return _draw.posterior_ellipses(
        ax,
        None if X is None else as_array(X)[:, index],
        means,
        covs,
        result.weights.values,
        scale,
        names=tuple(result.feature_names[i] for i in index),
        title=f"{scale:g}\u03c3 ellipses of {len(means)} posterior draws",
        ellipse_kwargs=ellipse_kwargs,
        scatter_kwargs=scatter_kwargs,
    )
