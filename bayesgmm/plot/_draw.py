"""The drawing layer: matplotlib calls on plain arrays, nothing computed about a fit.

Each function receives numpy arrays (and strings for labels) from a front function in
this package, draws on ``ax`` (a new figure when None) and returns the axes. matplotlib
is imported on the first call, never when this module is imported, so ``bayesgmm.plot``
loads without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "pyplot",
    "new_axes",
    "figure_row",
    "titled",
    "component_colors",
    "clusters",
    "clusters_1d",
    "uncertainty",
    "density_curve",
    "density_contours",
    "posterior_ellipses",
    "criterion_curves",
    "risk_density",
    "parameter_panel",
    "statistic_histogram",
    "regime_probabilities",
    "var_backtest",
    "risk_contributions",
]

_ELLIPSE_STYLES = {1.0: "-", 2.0: "--", 3.0: ":"}


def pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError that names the optional extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "Plotting needs matplotlib, which is an optional dependency of bayesgmm. "
            'Install it with: pip install "bayesgmm[plot]" (or pip install matplotlib).'
        ) from error
    return plt


def new_axes(ax: Any, figsize: tuple[float, float] = (6.4, 4.8)) -> Any:
    """``ax`` itself, or the axes of a new figure when it is None."""
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def figure_row(n_axes: int, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A new figure with ``n_axes`` axes side by side."""
    return pyplot().subplots(1, n_axes, figsize=figsize, layout="constrained")


def titled(ax: Any, title: str) -> Any:
    """Replace the title of ``ax``."""
    ax.set_title(title)
    return ax


def component_colors(n: int) -> list[Any]:
    """One colour per component: the property cycle, or tab20 when it is too short."""
    plt = pyplot()
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    if n <= len(cycle):
        return list(cycle[:n])
    return [plt.get_cmap("tab20")(i % 20) for i in range(n)]


def _style(defaults: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    return {**defaults, **(overrides or {})}


def _ellipse(ax: Any, mean: np.ndarray, cov: np.ndarray, scale: float, **kwargs: Any) -> Any:
    """The contour at Mahalanobis distance ``scale`` of a 2-D Gaussian."""
    from matplotlib.patches import Ellipse

    values, vectors = np.linalg.eigh(cov)
    values = np.maximum(values, 0.0)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    width, height = 2 * scale * np.sqrt(values[::-1])
    patch = Ellipse(mean, width, height, angle=angle, fill=False, **kwargs)
    ax.add_patch(patch)
    return patch


def _component_ellipses(ax, means, covs, colors, scales, ellipse_kwargs) -> None:
    for k in range(len(means)):
        for scale in scales:
            style = {
                "edgecolor": colors[k],
                "linewidth": 1.8,
                "linestyle": _ELLIPSE_STYLES.get(float(scale), "-."),
            }
            _ellipse(ax, means[k], covs[k], scale, **_style(style, ellipse_kwargs))
        ax.plot(*means[k], marker="X", markersize=9, color=colors[k], markeredgecolor="black")


def _scale_legend(ax: Any, scales: tuple[float, ...]) -> Any:
    from matplotlib.lines import Line2D

    styles = [_ELLIPSE_STYLES.get(float(s), "-.") for s in scales]
    handles = [Line2D([], [], color="0.3", linestyle=style) for style in styles]
    labels = [f"{s:g}\u03c3 ellipse" for s in scales]
    return ax.legend(handles, labels, loc="lower right", fontsize="small", framealpha=0.8)


def clusters(
    ax: Any,
    points: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    scales: tuple[float, ...],
    *,
    names: tuple[str, str],
    title: str,
    scatter_kwargs: dict[str, Any] | None,
    ellipse_kwargs: dict[str, Any] | None,
) -> Any:
    """Points (N, 2) coloured by label, and ellipses of means (K, 2), covariances (K, 2, 2)."""
    colors = component_colors(len(weights))
    ax = new_axes(ax)
    for k in range(len(weights)):
        style = _style(
            {"s": 14, "alpha": 0.7, "color": colors[k], "edgecolors": "none"}, scatter_kwargs
        )
        members = labels == k
        label = f"component {k} (weight {weights[k]:.2f})"
        ax.scatter(points[members, 0], points[members, 1], label=label, **style)
    _component_ellipses(ax, means, covariances, colors, scales, ellipse_kwargs)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(title)
    ax.add_artist(ax.legend(loc="upper left", fontsize="small", framealpha=0.8))
    _scale_legend(ax, scales)
    ax.autoscale_view()
    return ax


def clusters_1d(
    ax: Any,
    values: np.ndarray,
    labels: np.ndarray,
    bins: np.ndarray,
    grid: np.ndarray,
    curves: np.ndarray,
    weights: np.ndarray,
    *,
    name: str,
    title: str,
) -> Any:
    """A stacked histogram of ``values`` per label and one curve (K, G) per component."""
    n_components = len(weights)
    colors = component_colors(n_components)
    ax = new_axes(ax)
    ax.hist(
        [values[labels == k] for k in range(n_components)],
        bins=bins,
        stacked=True,
        color=colors,
        alpha=0.5,
        label=[f"points in component {k}" for k in range(n_components)],
    )
    for k in range(n_components):
        label = f"component {k} (weight {weights[k]:.2f})"
        ax.plot(grid, curves[k], color=colors[k], linewidth=2, label=label)
    ax.set_xlabel(name)
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def uncertainty(
    ax: Any,
    x: np.ndarray,
    y: np.ndarray,
    values: np.ndarray,
    labels: np.ndarray,
    n_components: int,
    *,
    names: tuple[str, str],
    title: str,
    legend_name: str,
    scatter_kwargs: dict[str, Any] | None,
) -> Any:
    """Points whose size and opacity grow with their uncertainty ``values``."""
    from matplotlib.lines import Line2D

    colors = component_colors(n_components)
    ax = new_axes(ax)
    top = max(float(values.max()), 1e-12)
    sizes = 6 + 120 * values / top
    style = _style({"edgecolors": "black", "linewidths": 0.3}, scatter_kwargs)
    for k in range(n_components):
        members = labels == k
        alpha = np.clip(0.25 + 0.75 * values[members] / top, 0, 1)
        ax.scatter(
            x[members],
            y[members],
            s=sizes[members],
            c=[colors[k]],
            alpha=alpha,
            label=f"component {k}",
            **style,
        )
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(title)
    handles = [
        Line2D([], [], marker="o", linestyle="", color=colors[k], markersize=7)
        for k in range(n_components)
    ]
    legend_labels = [f"component {k}" for k in range(n_components)]
    for value in (0.1 * top, top):
        size = np.sqrt(6 + 120 * value / top)
        handles.append(Line2D([], [], marker="o", linestyle="", color="0.4", markersize=size))
        legend_labels.append(f"{legend_name} = {value:.2f}")
    ax.legend(handles, legend_labels, fontsize="small", loc="best", framealpha=0.8)
    return ax


def density_curve(
    ax: Any,
    grid: np.ndarray,
    density: np.ndarray,
    data: np.ndarray | None,
    *,
    label: str,
    name: str,
    title: str,
    line_kwargs: dict[str, Any] | None,
    hist_kwargs: dict[str, Any] | None,
) -> Any:
    """A density curve over ``grid`` above a histogram of ``data`` (when given)."""
    ax = new_axes(ax)
    if data is not None:
        style = {"bins": "auto", "density": True, "color": "0.8", "label": "data"}
        ax.hist(data, **_style(style, hist_kwargs))
    ax.plot(grid, density, **_style({"color": "C0", "linewidth": 2, "label": label}, line_kwargs))
    ax.set_xlabel(name)
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    ax.set_title(title)
    return ax


def density_contours(
    ax: Any,
    mesh_x: np.ndarray,
    mesh_y: np.ndarray,
    density: np.ndarray,
    data: np.ndarray | None,
    *,
    label: str,
    names: tuple[str, str],
    title: str,
    contour_kwargs: dict[str, Any] | None,
    scatter_kwargs: dict[str, Any] | None,
) -> Any:
    """Contours of ``density`` on a mesh, with a colour bar, over the points ``data`` (N, 2)."""
    ax = new_axes(ax)
    if data is not None:
        style = {"s": 8, "color": "0.35", "alpha": 0.6, "label": "data"}
        ax.scatter(data[:, 0], data[:, 1], **_style(style, scatter_kwargs))
    style = _style({"levels": 10, "cmap": "viridis", "linewidths": 1.2}, contour_kwargs)
    contours = ax.contour(mesh_x, mesh_y, density, **style)
    ax.figure.colorbar(contours, ax=ax).set_label(label)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(title)
    if data is not None:
        ax.legend(loc="upper left", fontsize="small")
    return ax


def posterior_ellipses(
    ax: Any,
    data: np.ndarray | None,
    means: np.ndarray,
    covariances: np.ndarray,
    weights: np.ndarray,
    scale: float,
    *,
    names: tuple[str, str],
    title: str,
    ellipse_kwargs: dict[str, Any] | None,
    scatter_kwargs: dict[str, Any] | None,
) -> Any:
    """One ellipse per draw and component: means (S, K, 2), covariances (S, K, 2, 2)."""
    from matplotlib.lines import Line2D

    ax = new_axes(ax)
    n_components = len(weights)
    colors = component_colors(n_components)
    if data is not None:
        style = {"s": 8, "color": "0.6", "alpha": 0.6, "label": "data"}
        ax.scatter(data[:, 0], data[:, 1], **_style(style, scatter_kwargs))
    for s in range(len(means)):
        for k in range(n_components):
            style = _style(
                {"edgecolor": colors[k], "linewidth": 0.8, "alpha": 0.25}, ellipse_kwargs
            )
            _ellipse(ax, means[s, k], covariances[s, k], scale, **style)
    handles, labels = ax.get_legend_handles_labels()
    for k in range(n_components):
        ax.plot(*means[:, k].T, linestyle="", marker=".", markersize=2, color=colors[k])
        handles.append(Line2D([], [], color=colors[k]))
        labels.append(f"component {k} (weight {weights[k]:.2f})")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(title)
    ax.legend(handles, labels, fontsize="small", loc="upper left", framealpha=0.8)
    ax.autoscale_view()
    return ax


def criterion_curves(
    ax: Any,
    curves: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]],
    best: tuple[float, float, str],
    *,
    ylim: tuple[float, float] | None,
    xticks: np.ndarray,
    ylabel: str,
    title: str,
    line_kwargs: dict[str, Any] | None,
) -> Any:
    """One line per ``(name, marker, x, y, yerr or None, degenerate mask)``, the best ringed.

    Degenerate points get open markers (and one legend entry); ``ylim`` zooms the y axis
    and says so on the plot.
    """
    ax = new_axes(ax)
    for n, (name, marker, x, y, yerr, degenerate) in enumerate(curves):
        color = f"C{n}"
        style = {"color": color, "marker": marker, "linewidth": 1.5, "label": name}
        style = _style(style, line_kwargs)
        if yerr is not None:
            ax.errorbar(x, y, yerr=yerr, capsize=3, **style)
        else:
            ax.plot(x, y, **style)
        if degenerate.any():
            ax.plot(
                x[degenerate],
                y[degenerate],
                linestyle="",
                marker=marker,
                markersize=9,
                markerfacecolor="white",
                markeredgecolor=color,
            )
    if any(degenerate.any() for *_, degenerate in curves):
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
        [best[0]],
        [best[1]],
        linestyle="",
        marker="o",
        markersize=16,
        markerfacecolor="none",
        markeredgecolor="red",
        markeredgewidth=2,
        label=best[2],
    )
    if ylim is not None:
        ax.set_ylim(*ylim)
        ax.annotate(
            "zoomed on the best models (zoom=False shows all)",
            xy=(0.01, 0.01),
            xycoords="axes fraction",
            fontsize="x-small",
            color="0.4",
        )
    ax.set_xlabel("number of components")
    ax.set_ylabel(ylabel)
    ax.set_xticks(xticks)
    ax.set_title(title)
    ax.legend(title="covariance type", fontsize="small")
    return ax


def risk_density(
    ax: Any,
    returns: np.ndarray | None,
    grid: np.ndarray,
    density: np.ndarray,
    band: tuple[np.ndarray, np.ndarray, str] | None,
    var_lines: list[tuple[float, str, tuple[float, float, str] | None]],
    *,
    bins: int,
    label: str,
    xlabel: str,
    title: str,
    hist_kwargs: dict[str, Any] | None,
) -> Any:
    """A return density on a log scale with a VaR line (and its interval) per level.

    ``returns`` (when given) are drawn as a histogram of ``bins`` bins; ``band`` is
    ``(lower, upper, label)`` of the density; each of ``var_lines`` is
    ``(loss, label, (lower loss, upper loss, label) or None)``.
    """
    ax = new_axes(ax, figsize=(7.5, 4.8))
    if returns is not None:
        style = {"bins": bins, "density": True, "color": "0.8", "label": "observed returns"}
        ax.hist(returns, **_style(style, hist_kwargs))
    if band is not None:
        ax.fill_between(grid, band[0], band[1], color="C0", alpha=0.3, label=band[2])
    ax.plot(grid, density, color="C0", linewidth=2, label=label)
    for n, (loss, line_label, interval) in enumerate(var_lines):
        color = f"C{n + 1}"
        ax.axvline(-loss, color=color, linewidth=1.8, label=line_label)
        if interval is not None:
            lower, upper, interval_label = interval
            ax.axvspan(-upper, -lower, color=color, alpha=0.2, label=interval_label)
    ax.set_yscale("log")
    ax.set_ylim(bottom=max(float(density.min()), 1e-4))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density (log scale)")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper right")
    return ax


def parameter_panel(
    ax: Any,
    em: np.ndarray,
    mean: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    inside: np.ndarray,
    names: list[str],
    *,
    interval_label: str,
) -> Any:
    """EM values against posterior means and intervals, one row per parameter, top down.

    The four value arrays are on a common relative scale; EM values not ``inside``
    their interval are drawn in red.
    """
    y = np.arange(len(em))[::-1]
    ax.hlines(y, lower, upper, color="C0", linewidth=3, label=interval_label)
    ax.plot(mean, y, "o", color="C0", label="posterior mean")
    ax.plot(em[inside], y[inside], "x", color="black", markersize=8, label="EM (inside)")
    if (~inside).any():
        ax.plot(
            em[~inside],
            y[~inside],
            "x",
            color="red",
            markersize=9,
            markeredgewidth=2,
            label="EM (outside HDI)",
        )
    ax.set_yticks(y, names, fontsize="small")
    ax.axvline(0, color="0.7", linewidth=0.8)
    ax.set_xlabel("difference from posterior mean / |value|")
    ax.set_title("Parameters: EM vs posterior")
    ax.legend(fontsize="small", loc="lower right")
    return ax


def statistic_histogram(
    ax: Any,
    replicates: np.ndarray,
    statistic: float,
    *,
    bins: int,
    label: str,
    line_label: str,
    xlabel: str,
    title: str,
    hist_kwargs: dict[str, Any] | None,
) -> Any:
    """A test statistic's simulated law (a histogram of ``replicates``) and its value."""
    ax = new_axes(ax)
    style = {"bins": bins, "density": True, "color": "0.75", "label": label}
    ax.hist(replicates, **_style(style, hist_kwargs))
    ax.axvline(statistic, color="C3", linewidth=2, label=line_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper right")
    return ax


def regime_probabilities(
    ax: Any,
    dates: np.ndarray,
    probabilities: np.ndarray,
    bands: tuple[np.ndarray, np.ndarray, str] | None,
    window_dates: np.ndarray,
    window_weights: np.ndarray,
    labels: list[str],
    *,
    xlabel: str,
    title: str,
    scatter_kwargs: dict[str, Any] | None,
    line_kwargs: dict[str, Any] | None,
) -> Any:
    """Each date's regime probabilities (T, K) as points, each window's weights (J, K) as lines.

    ``bands`` (``(lower, upper, label)``, each (T, K)) are drawn as a vertical segment
    per date.
    """
    ax = new_axes(ax, figsize=(10, 4))
    colors = component_colors(probabilities.shape[1])
    for k, label in enumerate(labels):
        if bands is not None:
            ax.vlines(
                dates,
                bands[0][:, k],
                bands[1][:, k],
                color=colors[k],
                alpha=0.15,
                linewidth=0.8,
                label=f"{bands[2]}, {label}",
            )
        style = _style({"color": colors[k], "s": 3, "alpha": 0.5, "linewidths": 0}, scatter_kwargs)
        ax.scatter(dates, probabilities[:, k], label=f"{label}: probability of the day", **style)
        style = _style({"color": colors[k], "linewidth": 2.2}, line_kwargs)
        ax.plot(window_dates, window_weights[:, k], label=f"{label}: window weight", **style)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("regime probability")
    ax.set_title(title)
    ax.legend(fontsize="x-small", loc="upper left", framealpha=0.8, markerscale=3)
    return ax


def var_backtest(
    ax: Any,
    dates: np.ndarray,
    realised: np.ndarray,
    thresholds: list[tuple[np.ndarray, str]],
    band: tuple[np.ndarray, np.ndarray, str] | None,
    exceedances: np.ndarray,
    *,
    exceedance_label: str,
    xlabel: str,
    ylabel: str,
    title: str,
    line_kwargs: dict[str, Any] | None,
    scatter_kwargs: dict[str, Any] | None,
) -> Any:
    """Realised returns, the loss thresholds (``-VaR``, ``-ES``) and the exceedances marked.

    ``thresholds`` are ``(values, label)`` on the return axis; ``band`` is ``(lower,
    upper, label)`` of the first threshold.
    """
    ax = new_axes(ax, figsize=(10, 4.5))
    ax.plot(dates, realised, color="0.55", linewidth=0.6, label="realised return")
    if band is not None:
        ax.fill_between(dates, band[0], band[1], color="C0", alpha=0.3, linewidth=0, label=band[2])
    for n, (values, label) in enumerate(thresholds):
        style = _style({"color": f"C{n}", "linewidth": 1.3}, line_kwargs)
        ax.plot(dates, values, label=label, **style)
    style = _style({"color": "red", "marker": "x", "s": 30, "zorder": 3}, scatter_kwargs)
    ax.scatter(dates[exceedances], realised[exceedances], label=exceedance_label, **style)
    ax.axhline(0, color="0.8", linewidth=0.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper left", ncol=2, framealpha=0.8)
    return ax


def risk_contributions(
    ax: Any,
    names: list[str],
    values: np.ndarray,
    interval: tuple[np.ndarray, np.ndarray, str] | None,
    *,
    label: str,
    ylabel: str,
    title: str,
    bar_kwargs: dict[str, Any] | None,
) -> Any:
    """One bar per asset of ``values`` (D,), with ``(lower, upper, label)`` error bars."""
    ax = new_axes(ax, figsize=(6.4, 4.2))
    position = np.arange(len(names))
    style = _style({"color": "C0", "alpha": 0.8, "label": label}, bar_kwargs)
    ax.bar(position, values, **style)
    if interval is not None:
        lower, upper, interval_label = interval
        errors = np.vstack([values - lower, upper - values])
        ax.errorbar(
            position,
            values,
            yerr=errors,
            fmt="none",
            color="black",
            capsize=4,
            label=interval_label,
        )
    ax.axhline(0, color="0.5", linewidth=0.8)
    ax.set_xticks(position, names)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small")
    return ax
