"""Plots of fitted mixtures (matplotlib, optional: ``pip install "bayesgmm[plot]"``).

Every function takes a fitted estimator or a :class:`~bayesgmm.MixtureResult` (or a
selection or comparison result), computes what it shows through the result, then
draws on ``ax`` (a new figure when None) and returns the Axes (or Figure). Keyword
dictionaries (``scatter_kwargs``, ``ellipse_kwargs``, ...) are forwarded to exactly
one matplotlib call each. Bands and intervals carry labels built from ``ci_prob``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import gaussian

__all__ = [
    "plot_clusters",
    "plot_uncertainty",
    "plot_density",
    "plot_criterion",
    "plot_posterior_ellipses",
    "plot_risk",
    "plot_comparison",
]

_ELLIPSE_STYLES = {1.0: "-", 2.0: "--", 3.0: ":"}


# ---------------------------------------------------------------------- helpers
def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - exercised by a monkeypatched test
        raise ImportError(
            "Plotting needs matplotlib, which is an optional dependency of bayesgmm. "
            'Install it with: pip install "bayesgmm[plot]" (or pip install matplotlib).'
        ) from error
    return plt


def _axes(ax: Any, figsize: tuple[float, float] = (6.4, 4.8)) -> Any:
    if ax is not None:
        return ax
    plt = _pyplot()
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _result(model: Any) -> Any:
    result = getattr(model, "result_", model)
    if not hasattr(result, "covariances") or not hasattr(result, "responsibilities"):
        raise TypeError(
            "Expected a fitted GaussianMixture, BayesianGaussianMixture or a MixtureResult; "
            f"got {type(model).__name__}. Fit the estimator first."
        )
    return result


def _feature_index(result: Any, features: Any, count: int) -> list[int]:
    names = list(result.feature_names)
    if features is None:
        if result.n_features < count:
            raise ValueError(f"This plot needs {count} features; the fit has {result.n_features}.")
        return list(range(count))
    features = [features] if isinstance(features, str | int | np.integer) else list(features)
    if len(features) != count:
        raise ValueError(f"features must name {count} feature(s); got {features!r}.")
    index = []
    for feature in features:
        if isinstance(feature, str):
            if feature not in names:
                raise ValueError(f"Feature {feature!r} does not exist. Expected one of {names}.")
            index.append(names.index(feature))
        else:
            if not 0 <= int(feature) < len(names):
                raise ValueError(
                    f"Feature index {feature} is out of range for {len(names)} features."
                )
            index.append(int(feature))
    return index


def _as_array(X: Any) -> np.ndarray:
    values = getattr(X, "values", X)
    return np.asarray(values, dtype=np.float64)


def _colors(n: int) -> list[Any]:
    plt = _pyplot()
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    if n <= len(cycle):
        return list(cycle[:n])
    return [plt.get_cmap("tab20")(i % 20) for i in range(n)]


def _posterior(result: Any) -> Any:
    posterior = getattr(result.posterior, "posterior", None)
    return posterior


def _posterior_draws(
    result: Any, n_draws: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (S, K), means (S, K, D), full covariances (S, K, D, D) of posterior draws."""
    from .comparison import posterior_parameters

    stacked = posterior_parameters(result).stack(sample=("chain", "draw"))
    total = stacked.sizes["sample"]
    take = np.arange(total)
    if n_draws is not None and n_draws < total:
        take = np.sort(rng.choice(total, size=n_draws, replace=False))
    weights = stacked["weights"].transpose("sample", "component").values[take]
    means = stacked["means"].transpose("sample", "component", "feature").values[take]
    covariances = (
        stacked["covariances"]
        .transpose("sample", "component", "feature", "feature_bis")
        .values[take]
    )
    return weights, means, covariances


def _responsibility_summary(
    result: Any, X: Any, ci_prob: float
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Mean responsibilities (N, K) and, for a Bayesian fit, the credible bounds."""
    resp = result.responsibilities(X, ci_prob=ci_prob)
    if hasattr(resp, "data_vars"):  # a Bayesian fit: a Dataset of mean, lower and upper
        order = ("observation", "component")
        return tuple(resp[name].transpose(*order).values for name in ("mean", "lower", "upper"))
    return np.asarray(resp.transpose("observation", "component").values), None, None


def _ellipse(ax: Any, mean: np.ndarray, cov: np.ndarray, scale: float, **kwargs: Any) -> Any:
    from matplotlib.patches import Ellipse

    values, vectors = np.linalg.eigh(cov)
    values = np.maximum(values, 0.0)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    width, height = 2 * scale * np.sqrt(values[::-1])
    patch = Ellipse(mean, width, height, angle=angle, fill=False, **kwargs)
    ax.add_patch(patch)
    return patch


def _draw_ellipses(ax, means, covs, colors, scales, ellipse_kwargs) -> None:
    for k in range(len(means)):
        for scale in scales:
            style = {
                "edgecolor": colors[k],
                "linewidth": 1.8,
                "linestyle": _ELLIPSE_STYLES.get(float(scale), "-."),
            }
            style.update(ellipse_kwargs or {})
            _ellipse(ax, means[k], covs[k], scale, **style)
        ax.plot(*means[k], marker="X", markersize=9, color=colors[k], markeredgecolor="black")


def _scale_legend(ax, scales, location="lower right") -> Any:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="0.3", linestyle=_ELLIPSE_STYLES.get(float(s), "-.")) for s in scales
    ]
    labels = [f"{s:g}\u03c3 ellipse" for s in scales]
    return ax.legend(handles, labels, loc=location, fontsize="small", framealpha=0.8)


# ---------------------------------------------------------------------- clusters
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
    result = _result(model)
    data = _as_array(X)
    labels = result.predict(X).values
    colors = _colors(result.n_components)
    if result.n_features == 1:
        return _clusters_1d(result, data[:, 0], labels, colors, ax)
    i, j = _feature_index(result, features, 2)
    ax = _axes(ax)
    weights = result.weights.values
    for k in range(result.n_components):
        style = {"s": 14, "alpha": 0.7, "color": colors[k], "edgecolors": "none"}
        style.update(scatter_kwargs or {})
        members = labels == k
        ax.scatter(
            data[members, i],
            data[members, j],
            label=f"component {k} (weight {weights[k]:.2f})",
            **style,
        )
    covs = result.covariances.values[:, [i, j]][:, :, [i, j]]
    means = result.means.values[:, [i, j]]
    _draw_ellipses(ax, means, covs, colors, ellipses, ellipse_kwargs)
    names = result.feature_names
    ax.set_xlabel(names[i])
    ax.set_ylabel(names[j])
    ax.set_title(f"{result.n_components} components ({result.covariance_type}, {result.method})")
    first = ax.legend(loc="upper left", fontsize="small", framealpha=0.8)
    ax.add_artist(first)
    _scale_legend(ax, ellipses)
    ax.autoscale_view()
    return ax


def _clusters_1d(result, values, labels, colors, ax) -> Any:
    ax = _axes(ax)
    bins = np.histogram_bin_edges(values, bins="auto")
    width = bins[1] - bins[0]
    ax.hist(
        [values[labels == k] for k in range(result.n_components)],
        bins=bins,
        stacked=True,
        color=colors,
        alpha=0.5,
        label=[f"points in component {k}" for k in range(result.n_components)],
    )
    grid = np.linspace(values.min(), values.max(), 400)
    means = result.means.values[:, 0]
    sds = np.sqrt(result.covariances.values[:, 0, 0])
    weights = result.weights.values
    for k in range(result.n_components):
        density = weights[k] * np.exp(-0.5 * ((grid - means[k]) / sds[k]) ** 2)
        density /= sds[k] * np.sqrt(2 * np.pi)
        ax.plot(
            grid,
            density * len(values) * width,
            color=colors[k],
            linewidth=2,
            label=f"component {k} (weight {weights[k]:.2f})",
        )
    ax.set_xlabel(result.feature_names[0])
    ax.set_ylabel("count")
    ax.set_title(f"{result.n_components} components ({result.method})")
    ax.legend(fontsize="small")
    return ax


# ---------------------------------------------------------------------- uncertainty
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
    result = _result(model)
    data = _as_array(X)
    mean, lower, upper = _responsibility_summary(result, X, ci_prob)
    labels = mean.argmax(axis=1)
    if lower is not None and upper is not None:
        rows = np.arange(len(labels))
        uncertainty = upper[rows, labels] - lower[rows, labels]
        what = f"width of the {ci_prob:.0%} credible interval of the responsibility"
        short = f"{ci_prob:.0%} interval width"
        title = f"Assignment uncertainty: {ci_prob:.0%} interval width of the responsibility"
    else:
        uncertainty = 1.0 - mean.max(axis=1)
        what = short = "1 - max responsibility"
        title = "Assignment uncertainty: 1 - max responsibility"
    colors = _colors(result.n_components)
    if result.n_features == 1:
        i = 0
        ydata = uncertainty
    else:
        i, j = _feature_index(result, features, 2)
        ydata = data[:, j]
    ax = _axes(ax)
    top = max(float(uncertainty.max()), 1e-12)
    sizes = 6 + 120 * uncertainty / top
    style = {"edgecolors": "black", "linewidths": 0.3}
    style.update(scatter_kwargs or {})
    for k in range(result.n_components):
        members = labels == k
        ax.scatter(
            data[members, i],
            ydata[members],
            s=sizes[members],
            c=[colors[k]],
            alpha=np.clip(0.25 + 0.75 * uncertainty[members] / top, 0, 1),
            label=f"component {k}",
            **style,
        )
    names = result.feature_names
    ax.set_xlabel(names[i])
    ax.set_ylabel(what if result.n_features == 1 else names[j])
    ax.set_title(title)
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", linestyle="", color=colors[k], markersize=7)
        for k in range(result.n_components)
    ]
    legend_labels = [f"component {k}" for k in range(result.n_components)]

    for value in (0.1 * top, top):
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                color="0.4",
                markersize=np.sqrt(6 + 120 * value / top),
            )
        )
        legend_labels.append(f"{short} = {value:.2f}")
    ax.legend(handles, legend_labels, fontsize="small", loc="best", framealpha=0.8)
    return ax


# ---------------------------------------------------------------------- density
def _marginal_log_density(
    points: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray
) -> np.ndarray:
    """Log-density of a mixture (optionally with leading draw dims) at points (M, d)."""
    prec_chol = gaussian.precision_cholesky_full(covs)
    with np.errstate(divide="ignore"):
        weighted = gaussian.log_density_full(points, means, prec_chol) + np.log(
            weights[..., None, :]
        )
    log_prob, _ = gaussian.log_mixture_density(weighted)
    return log_prob


def _density_parameters(result: Any, index: list[int], n_draws: int, rng) -> tuple:
    posterior = _posterior(result)
    if posterior is None:
        weights = result.weights.values
        means = result.means.values[:, index]
        covs = result.covariances.values[:, index][:, :, index]
        return weights, means, covs, False
    weights, means, covs = _posterior_draws(result, n_draws, rng)
    return weights, means[..., index], covs[..., index, :][..., index], True


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
    result = _result(model)
    rng = np.random.default_rng(0)
    ndim = 1 if result.n_features == 1 else 2
    index = _feature_index(result, features, ndim)
    weights, means, covs, bayesian = _density_parameters(result, index, n_draws, rng)
    data = None if X is None else _as_array(X)[:, index]
    if data is not None:
        low, high = data.min(axis=0), data.max(axis=0)
    else:
        sd = np.sqrt(np.diagonal(covs, axis1=-2, axis2=-1))
        low = (means - 3 * sd).reshape(-1, ndim).min(axis=0)
        high = (means + 3 * sd).reshape(-1, ndim).max(axis=0)
    pad = 0.08 * (high - low)
    low, high = low - pad, high + pad
    ax = _axes(ax)
    label = "posterior predictive density" if bayesian else "fitted density"
    names = [result.feature_names[i] for i in index]

    def density(points: np.ndarray) -> np.ndarray:
        log_prob = _marginal_log_density(points, weights, means, covs)
        return np.exp(log_prob).mean(axis=0) if bayesian else np.exp(log_prob)

    if ndim == 1:
        grid = np.linspace(low[0], high[0], 400)
        if data is not None:
            style = {"bins": "auto", "density": True, "color": "0.8", "label": "data"}
            style.update(scatter_kwargs or {})
            ax.hist(data[:, 0], **style)
        style = {"color": "C0", "linewidth": 2, "label": label}
        style.update(contour_kwargs or {})
        ax.plot(grid, density(grid[:, None]), **style)
        ax.set_xlabel(names[0])
        ax.set_ylabel("density")
        ax.legend(fontsize="small")
        ax.set_title(f"Density of the {result.n_components}-component fit")
        return ax
    gx = np.linspace(low[0], high[0], grid_size)
    gy = np.linspace(low[1], high[1], grid_size)
    mesh_x, mesh_y = np.meshgrid(gx, gy)
    values = density(np.column_stack([mesh_x.ravel(), mesh_y.ravel()])).reshape(mesh_x.shape)
    if data is not None:
        style = {"s": 8, "color": "0.35", "alpha": 0.6, "label": "data"}
        style.update(scatter_kwargs or {})
        ax.scatter(data[:, 0], data[:, 1], **style)
    style = {"levels": 10, "cmap": "viridis", "linewidths": 1.2}
    style.update(contour_kwargs or {})
    contours = ax.contour(mesh_x, mesh_y, values, **style)
    colorbar = ax.figure.colorbar(contours, ax=ax)
    colorbar.set_label(label)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(f"{label.capitalize()} ({result.n_components} components)")
    if data is not None:
        ax.legend(loc="upper left", fontsize="small")
    return ax


# ---------------------------------------------------------------------- selection
_CRITERION_LABELS = {
    "bic": "BIC = -2 log L + p log N",
    "aic": "AIC = -2 log L + 2p",
    "icl": "ICL = BIC + 2 x classification entropy",
    "loo": "ELPD-LOO",
}
_MARKERS = {"full": "o", "tied": "s", "diag": "^", "spherical": "D"}


def plot_criterion(
    selection: Any,
    criterion: str | None = None,
    *,
    zoom: bool = True,
    ax: Any = None,
    line_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Criterion against the number of components, one curve per covariance type.

    As mclust's ``plot(mclustBIC)``: a line and marker per covariance type, the
    best fit ringed. Our BIC/AIC/ICL are *lower is better* (mclust plots the
    negative); ELPD-LOO is higher is better and is drawn with ±1 standard error.
    Degenerate fits (unbounded likelihood) are drawn as open markers and are never
    chosen.

    Parameters
    ----------
    selection : SelectionResult
        The output of :func:`bayesgmm.select`.
    criterion : {"bic", "aic", "icl", "loo"} or None, default=None
        None uses the selection's criterion.
    zoom : bool, default=True
        Limit the y axis to the region of the best models when a few poor ones
        (often ``spherical`` or K=1) would squash the curves; say so on the plot.
    ax : matplotlib Axes, default=None
    line_kwargs : dict, default=None
        Forwarded to ``ax.plot`` (or ``ax.errorbar`` for LOO) for each type.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from bayesgmm import select
    >>> from bayesgmm.datasets import load_seed_example
    >>> sel = select(load_seed_example(), n_components=range(1, 6), covariance_types="full")
    >>> plot_criterion(sel).get_xlabel()
    'number of components'
    """
    table = selection.table
    criterion = selection.criterion if criterion is None else criterion
    column = "elpd_loo" if criterion == "loo" else criterion
    if column not in table:
        raise ValueError(
            f"criterion {criterion!r} is not in this selection's table; choose one of "
            f"{[c for c in ('bic', 'aic', 'icl') if c in table] + ['loo'] * ('elpd_loo' in table)}."
        )
    ranked = selection.ranking(criterion)
    best = ranked.iloc[0]
    ax = _axes(ax)
    for n, (covariance_type, rows) in enumerate(table.groupby("covariance_type", sort=False)):
        rows = rows.sort_values("n_components")
        color = f"C{n}"
        marker = _MARKERS.get(covariance_type, "o")
        style = {"color": color, "marker": marker, "linewidth": 1.5, "label": covariance_type}
        style.update(line_kwargs or {})
        if criterion == "loo":
            ax.errorbar(rows["n_components"], rows[column], yerr=rows["se"], capsize=3, **style)
        else:
            ax.plot(rows["n_components"], rows[column], **style)
        bad = rows[rows["degenerate"]]
        if len(bad):
            ax.plot(
                bad["n_components"],
                bad[column],
                linestyle="",
                marker=marker,
                markersize=9,
                markerfacecolor="white",
                markeredgecolor=color,
            )
    if table["degenerate"].any():
        ax.plot(
            [],
            [],
            linestyle="",
            marker="o",
            markerfacecolor="white",
            markeredgecolor="0.3",
            label="degenerate (not chosen)",
        )
    ax.plot(
        [best["n_components"]],
        [best[column]],
        linestyle="",
        marker="o",
        markersize=16,
        markerfacecolor="none",
        markeredgecolor="red",
        markeredgewidth=2,
        label=f"best: {best['covariance_type']}, K={int(best['n_components'])}",
    )
    values = table.loc[table[column].notna() & ~table["degenerate"], column].to_numpy(float)
    if zoom and len(values) > 3:
        edge = float(best[column])
        middle = float(np.median(values))
        span = abs(middle - edge)
        if span > 0 and np.ptp(values) > 3 * span:
            if criterion == "loo":
                ax.set_ylim(edge - 2 * span, edge + 0.15 * span)
            else:
                ax.set_ylim(edge - 0.15 * span, edge + 2 * span)
            ax.annotate(
                "zoomed on the best models (zoom=False shows all)",
                xy=(0.01, 0.01),
                xycoords="axes fraction",
                fontsize="x-small",
                color="0.4",
            )
    ax.set_xlabel("number of components")
    direction = "higher is better" if criterion == "loo" else "lower is better"
    ax.set_ylabel(f"{_CRITERION_LABELS.get(criterion, criterion)} ({direction})")
    ax.set_xticks(sorted(table["n_components"].unique()))
    ax.set_title(f"Model selection by {criterion.upper()}")
    ax.legend(title="covariance type", fontsize="small")
    return ax


# ---------------------------------------------------------------------- posterior
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
    from matplotlib.lines import Line2D

    from .data import check_random_state

    result = _result(model)
    index = _feature_index(result, features, 2)
    rng = check_random_state(random_state)
    weights, means, covs = _posterior_draws(result, n_draws, rng)
    means = means[..., index]
    covs = covs[..., index, :][..., index]
    ax = _axes(ax)
    colors = _colors(result.n_components)
    if X is not None:
        data = _as_array(X)[:, index]
        style = {"s": 8, "color": "0.6", "alpha": 0.6, "label": "data"}
        style.update(scatter_kwargs or {})
        ax.scatter(data[:, 0], data[:, 1], **style)
    for s in range(len(weights)):
        for k in range(result.n_components):
            style = {"edgecolor": colors[k], "linewidth": 0.8, "alpha": 0.25}
            style.update(ellipse_kwargs or {})
            _ellipse(ax, means[s, k], covs[s, k], scale, **style)
    handles, labels = ax.get_legend_handles_labels()
    mean_weights = result.weights.values
    for k in range(result.n_components):
        ax.plot(*means[:, k].T, linestyle="", marker=".", markersize=2, color=colors[k])
        handles.append(Line2D([], [], color=colors[k]))
        labels.append(f"component {k} (weight {mean_weights[k]:.2f})")
    names = [result.feature_names[i] for i in index]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(f"{scale:g}\u03c3 ellipses of {len(weights)} posterior draws")
    ax.legend(handles, labels, fontsize="small", loc="upper left", framealpha=0.8)
    ax.autoscale_view()
    return ax


# ---------------------------------------------------------------------- risk
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
    from . import risk

    result = _result(model)
    weights, means, sds, bayesian = risk.mixture_parameters_1d(result)
    ax = _axes(ax, figsize=(7.5, 4.8))
    if returns is not None:
        values = _as_array(returns).ravel()
        low, high = np.quantile(values, [0.0005, 0.9995])
        bins = int(np.clip(len(values) // 20, 30, 120))
        style = {"bins": bins, "density": True, "color": "0.8", "label": "observed returns"}
        style.update(hist_kwargs or {})
        ax.hist(values[(values >= low) & (values <= high)], **style)
    else:
        low = float(np.min(means - 5 * sds))
        high = float(np.max(means + 5 * sds))
    grid = np.linspace(low, high, 500)
    plot_weights, plot_means, plot_sds = (
        (weights[..., None, :], means[..., None, :], sds[..., None, :])
        if bayesian
        else (weights, means, sds)
    )
    z = (grid[:, None] - plot_means) / plot_sds
    dens = np.sum(plot_weights * np.exp(-0.5 * z**2) / (plot_sds * np.sqrt(2 * np.pi)), axis=-1)
    if bayesian:
        tail = (1 - ci_prob) / 2
        lo, hi = np.quantile(dens, [tail, 1 - tail], axis=0)
        ax.fill_between(
            grid, lo, hi, color="C0", alpha=0.3, label=f"{ci_prob:.0%} credible band of the density"
        )
        dens = dens.mean(axis=0)
    ax.plot(
        grid,
        dens,
        color="C0",
        linewidth=2,
        label="posterior mean density" if bayesian else "mixture density",
    )
    for n, level in enumerate(alpha):
        var = risk.value_at_risk(result, level, ci_prob=ci_prob)
        color = f"C{n + 1}"
        ax.axvline(
            -var.value,
            color=color,
            linewidth=1.8,
            label=f"VaR {1 - level:.0%}: loss {var.value:.2f}",
        )
        if var.is_bayesian:
            ax.axvspan(
                -var.upper,
                -var.lower,
                color=color,
                alpha=0.2,
                label=f"  {ci_prob:.0%} credible interval [{var.lower:.2f}, {var.upper:.2f}]",
            )
    ax.set_yscale("log")
    ax.set_ylim(bottom=max(float(dens.min()), 1e-4))
    ax.set_xlabel(f"return ({result.feature_names[0]})")
    ax.set_ylabel("density (log scale)")
    ax.set_title(f"Return distribution and value at risk ({result.n_components} components)")
    ax.legend(fontsize="small", loc="upper right")
    return ax


# ---------------------------------------------------------------------- comparison
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
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=figsize, layout="constrained")
    em = _result(comparison.em_fit)
    plot_clusters(em, X, features=features, ax=axes[0])
    axes[0].set_title("EM: maximum likelihood")
    plot_posterior_ellipses(comparison.bayes_aligned, X, features=features, ax=axes[1])
    axes[1].set_title("Bayes: 2\u03c3 ellipses of posterior draws")
    _draw_parameter_panel(comparison, axes[2])
    return fig


def _draw_parameter_panel(comparison: Any, ax: Any) -> None:
    table = comparison.table
    rows = table[table["parameter"].isin(["weights", "means"])].reset_index(drop=True)
    y = np.arange(len(rows))[::-1]
    scale = rows[["em", "posterior_mean", "hdi_lower", "hdi_upper"]].abs().max(axis=1)
    scale = scale.where(scale > 0, 1.0)
    center = rows["posterior_mean"]
    rel = {
        c: (rows[c] - center) / scale for c in ("em", "posterior_mean", "hdi_lower", "hdi_upper")
    }
    ax.hlines(
        y,
        rel["hdi_lower"],
        rel["hdi_upper"],
        color="C0",
        linewidth=3,
        label=f"{comparison.ci_prob:.0%} HDI (Bayes)",
    )
    ax.plot(rel["posterior_mean"], y, "o", color="C0", label="posterior mean")
    inside = rows["em_inside"].to_numpy(bool)
    ax.plot(rel["em"][inside], y[inside], "x", color="black", markersize=8, label="EM (inside)")
    if (~inside).any():
        ax.plot(
            rel["em"][~inside],
            y[~inside],
            "x",
            color="red",
            markersize=9,
            markeredgewidth=2,
            label="EM (outside HDI)",
        )
    names = [
        f"{p} k={int(k)}" + ("" if f == "" else f" {f}")
        for p, k, f in zip(rows["parameter"], rows["component"], rows["feature"], strict=True)
    ]
    ax.set_yticks(y, names, fontsize="small")
    ax.axvline(0, color="0.7", linewidth=0.8)
    ax.set_xlabel("difference from posterior mean / |value|")
    ax.set_title("Parameters: EM vs posterior")
    ax.legend(fontsize="small", loc="lower right")
