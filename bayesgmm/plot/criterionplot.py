"""The model-selection plot: a criterion against the number of components, per covariance type.

It takes a :class:`~bayesgmm.selection.SelectionResult` duck-typed (its ``table``,
``criterion`` and ``ranking()``), so that ``bayesgmm.selection`` may call it without
an import cycle.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _draw

__all__ = ["plot_criterion"]

_CRITERION_LABELS = {
    "bic": "BIC = -2 log L + p log N",
    "aic": "AIC = -2 log L + 2p",
    "icl": "ICL = BIC + 2 x classification entropy",
    "loo": "ELPD-LOO",
}
_MARKERS = {"full": "o", "tied": "s", "diag": "^", "spherical": "D"}


def _table_column(table: Any, criterion: str) -> str:
    column = "elpd_loo" if criterion == "loo" else criterion
    if column not in table:
        available = [c for c in ("bic", "aic", "icl") if c in table]
        raise ValueError(
            f"criterion {criterion!r} is not in this selection's table; choose one of "
            f"{available + ['loo'] * ('elpd_loo' in table)}."
        )
    return column


def _curves(table: Any, column: str, with_errors: bool) -> list[tuple]:
    """``(type, marker, n_components, values, standard errors or None, degenerate)`` per type."""
    curves = []
    for covariance_type, rows in table.groupby("covariance_type", sort=False):
        rows = rows.sort_values("n_components")
        curves.append(
            (
                covariance_type,
                _MARKERS.get(covariance_type, "o"),
                rows["n_components"].to_numpy(),
                rows[column].to_numpy(float),
                rows["se"].to_numpy(float) if with_errors else None,
                rows["degenerate"].to_numpy(bool),
            )
        )
    return curves


def _zoom_limits(table: Any, column: str, best: float, higher_is_better: bool) -> tuple | None:
    """y limits around the best models when a few poor ones would squash the curves."""
    values = table.loc[table[column].notna() & ~table["degenerate"], column].to_numpy(float)
    if len(values) <= 3:
        return None
    span = abs(float(np.median(values)) - best)
    if span == 0 or np.ptp(values) <= 3 * span:
        return None
    if higher_is_better:
        return best - 2 * span, best + 0.15 * span
    return best - 0.15 * span, best + 2 * span


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
    column = _table_column(table, criterion)
    loo = criterion == "loo"
    best = selection.ranking(criterion).iloc[0]
    best_value = float(best[column])
    label = f"best: {best['covariance_type']}, K={int(best['n_components'])}"
    direction = "higher is better" if loo else "lower is better"
    return _draw.criterion_curves(
        ax,
        _curves(table, column, with_errors=loo),
        (best["n_components"], best_value, label),
        ylim=_zoom_limits(table, column, best_value, loo) if zoom else None,
        xticks=np.sort(table["n_components"].unique()),
        ylabel=f"{_CRITERION_LABELS.get(criterion, criterion)} ({direction})",
        title=f"Model selection by {criterion.upper()}",
        line_kwargs=line_kwargs,
    )
