"""Model selection: fit a grid of components x covariance types and rank it.

EM fits are ranked by an information criterion (BIC, AIC or ICL, as mclust does);
Bayesian fits by their expected log predictive density under PSIS-LOO, through
:func:`arviz.compare`. Fits with a degenerate (collapsed) component have an
unbounded likelihood, so their criterion is not comparable: they stay in the
table, marked, and are never chosen.

Sign convention: our criteria are *lower is better* (``-2 log L + penalty``), as
scikit-learn's ``bic`` is. mclust reports ``2 log L - penalty`` (higher is better);
the numbers differ only in sign.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .covariance import COVARIANCE_TYPES
from .data import check_int, check_option, check_X

__all__ = ["select", "SelectionResult", "CRITERIA", "BAYES_METHODS"]

logger = logging.getLogger(__name__)

#: Information criteria for EM fits (lower is better).
CRITERIA = ("bic", "aic", "icl")
#: Methods that make Bayesian fits, ranked by LOO.
BAYES_METHODS = ("nuts", "advi", "fullrank_advi", "map")
_METHODS = ("em", *BAYES_METHODS)


@dataclass
class SelectionResult:
    """The outcome of :func:`select`: a tidy table, the chosen fit and every fit.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per candidate with columns ``covariance_type``, ``n_components``,
        ``n_parameters``, ``log_likelihood`` (total), ``bic``, ``aic``, ``icl``,
        ``converged``, ``degenerate`` (bool), ``note`` (why a fit is degenerate,
        failed or warned), ``rank`` (0 = best by ``criterion``; NaN for fits that
        cannot be chosen) and ``best``. Bayesian selections add ``elpd_loo``,
        ``se``, ``p_loo``, ``elpd_diff``, ``dse``, ``weight`` and ``loo_warning``
        from :func:`arviz.compare`.
    criterion : str
        "bic", "aic", "icl" (lower is better) or "loo" (higher ELPD is better).
    estimators_ : dict
        Fitted estimator per ``(covariance_type, n_components)``; failed fits are absent.
    method : str
        "em" or the Bayesian method used.
    """

    table: pd.DataFrame
    criterion: str
    estimators_: dict[tuple[str, int], Any] = field(repr=False)
    method: str = "em"

    @property
    def best_(self) -> Any:
        """The chosen fitted estimator."""
        key = self.best_params_
        return self.estimators_[(key["covariance_type"], key["n_components"])]

    @property
    def best_params_(self) -> dict[str, Any]:
        """``{"covariance_type": ..., "n_components": ...}`` of the chosen fit."""
        row = self.table.loc[self.table["best"]].iloc[0]
        return {
            "covariance_type": str(row["covariance_type"]),
            "n_components": int(row["n_components"]),
        }

    def ranking(self, criterion: str | None = None) -> pd.DataFrame:
        """The eligible candidates sorted best first, re-ranked by ``criterion`` without refitting.

        Parameters
        ----------
        criterion : {"bic", "aic", "icl", "loo"} or None, default=None
            None uses the selection's criterion; "loo" only for Bayesian selections.

        Returns
        -------
        pandas.DataFrame
            Rows of :attr:`table` that can be chosen, best first.

        Examples
        --------
        >>> from bayesgmm.datasets import load_seed_example
        >>> sel = select(load_seed_example(), n_components=range(2, 6),
        ...              covariance_types="tied", random_state=0)
        >>> sel.ranking("icl")["n_components"].tolist()[0]
        4
        """
        criterion = self.criterion if criterion is None else criterion
        column, ascending = _criterion_column(criterion, self.method)
        eligible = self.table.loc[_eligible(self.table) & self.table[column].notna()]
        ranked = eligible.sort_values(column, ascending=ascending, kind="stable").copy()
        ranked["rank"] = np.arange(len(ranked), dtype=float)
        ranked["best"] = ranked["rank"] == 0
        return ranked

    def plot(self, criterion: str | None = None, *, ax: Any = None, **kwargs: Any) -> Any:
        """Criterion curves per covariance type; see :func:`bayesgmm.plot.plot_criterion`."""
        from .plot import plot_criterion

        return plot_criterion(self, criterion=criterion, ax=ax, **kwargs)

    def __repr__(self) -> str:
        best = self.best_params_
        shown = self.table[
            [
                column
                for column in (
                    "covariance_type",
                    "n_components",
                    "log_likelihood",
                    "bic",
                    "icl",
                    "elpd_loo",
                    "se",
                    "rank",
                    "degenerate",
                )
                if column in self.table
            ]
        ]
        return (
            f"SelectionResult(method={self.method!r}, criterion={self.criterion!r}, "
            f"best={best['covariance_type']!r} with {best['n_components']} components)\n"
            + shown.to_string(index=False, float_format=lambda value: f"{value:.2f}")
        )


def _criterion_column(criterion: str, method: str) -> tuple[str, bool]:
    if criterion == "loo":
        if method == "em":
            raise ValueError(
                "criterion='loo' needs Bayesian fits (method='nuts' or 'advi'); EM fits are "
                f"ranked by one of {list(CRITERIA)}."
            )
        return "elpd_loo", False
    check_option("select", "criterion", criterion, CRITERIA)
    return criterion, True


def _eligible(table: pd.DataFrame) -> pd.Series:
    return ~table["degenerate"] & ~table["failed"]


def _as_tuple(values: Any, name: str) -> tuple:
    if isinstance(values, str | int | np.integer):
        return (values,)
    if not isinstance(values, Iterable):
        raise TypeError(f"{name} must be an int/str or a sequence of them; got {values!r}.")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} is empty; give at least one value.")
    return values


def _fit_one(
    X: Any,
    n_components: int,
    covariance_type: str,
    method: str,
    random_state: Any,
    sample_weight: Any,
    params: dict[str, Any],
) -> tuple[Any, list[str], str | None]:
    """Fit one candidate; return (estimator or None, warning texts, error text or None)."""
    if method == "em":
        from .em import GaussianMixture

        estimator = GaussianMixture(
            n_components, covariance_type=covariance_type, random_state=random_state, **params
        )
        fit_kwargs = {"sample_weight": sample_weight}
    else:
        from .bayes import BayesianGaussianMixture

        estimator = BayesianGaussianMixture(
            n_components=n_components,
            covariance_type=covariance_type,
            method=method,
            random_state=random_state,
            **{"progressbar": False, **params},  # one bar, select's, unless asked
        )
        fit_kwargs = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator.fit(X, **fit_kwargs)
        except (ValueError, np.linalg.LinAlgError) as error:
            return None, [], f"{type(error).__name__}: {error}"
    texts = []
    for item in caught:
        text = f"{item.category.__name__}: {item.message}"
        if text not in texts:
            texts.append(text)
    return estimator, texts, None


def select(
    X: Any,
    n_components: Any = range(1, 10),
    covariance_types: Any = ("full", "tied", "diag", "spherical"),
    criterion: str = "bic",
    *,
    method: str = "em",
    random_state: Any = 0,
    sample_weight: Any = None,
    progress: bool | None = None,
    estimator_params: dict[str, Any] | None = None,
) -> SelectionResult:
    """Fit every (number of components, covariance type) pair and choose the best.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
    n_components : int or iterable of int, default=range(1, 10)
        Numbers of components to try.
    covariance_types : str or iterable of str, default=("full", "tied", "diag", "spherical")
        Covariance types to try.
    criterion : {"bic", "aic", "icl", "loo"}, default="bic"
        How EM fits are ranked, lower is better for all three:

        - "bic": ``-2 log L + p log N`` (Schwarz 1978), mclust's default;
        - "aic": ``-2 log L + 2 p``;
        - "icl": BIC plus twice the classification entropy (Biernacki et al. 2000),
          which prefers well separated clusters.

        Bayesian fits (``method`` other than "em") are always ranked by PSIS-LOO
        through :func:`arviz.compare`; "loo" is then the criterion whatever is given,
        and BIC/AIC/ICL at the posterior mean stay in the table for reference.
    method : {"em", "nuts", "advi", "fullrank_advi", "map"}, default="em"
        "em" fits :class:`bayesgmm.GaussianMixture`; the others fit
        :class:`bayesgmm.BayesianGaussianMixture` with that method.
    random_state : int, Generator or None, default=0
        Passed to every fit, so each candidate starts from the same seed.
    sample_weight : array-like of shape (n_samples,), default=None
        Frequency weights for EM fits.
    progress : bool or None, default=None
        A bar on stderr: None in interactive sessions (not pipes, logs, tests) after 2 s.
    estimator_params : dict or None, default=None
        Further constructor arguments for every fit (``reg_covar``, ``n_init``,
        ``draws``, ...).

    Returns
    -------
    SelectionResult
        ``table`` (one row per candidate), ``best_``, ``best_params_``,
        ``estimators_``, ``ranking()`` and ``plot()``.

    Notes
    -----
    A fit with a degenerate component (``result_.degenerate`` not empty: a collapsed or
    near-singular covariance) has an unbounded likelihood: its row stays, with
    ``degenerate=True`` and the reason in ``note``, and is never chosen. A candidate
    that cannot be fitted gets ``failed=True`` and the error in ``note``; warnings go
    to ``note`` once per cell. The table holds all three criteria, so
    :meth:`SelectionResult.ranking` re-ranks by another one without refitting.

    Examples
    --------
    >>> from bayesgmm.datasets import load_seed_example
    >>> sel = select(load_seed_example(), n_components=range(3, 6),
    ...              covariance_types=("tied", "diag"), random_state=0)
    >>> sel.best_params_
    {'covariance_type': 'tied', 'n_components': 4}
    >>> sel.table.shape[0]
    6
    """
    method, ks, types, params = _check_grid(
        method, n_components, covariance_types, criterion, estimator_params
    )
    chosen_criterion = criterion if method == "em" else "loo"
    check_X(X, estimator="select", min_samples=2)  # one clear error before any fit
    rows, estimators = _fit_grid(
        X, ks, types, method, random_state, sample_weight, params, progress
    )
    table = pd.DataFrame(rows)
    if method != "em":
        table = _add_loo(table, estimators)
    table = _rank(table, *_criterion_column(chosen_criterion, method))
    return SelectionResult(table, chosen_criterion, estimators, method)


def _fit_grid(
    X: Any,
    ks: tuple[int, ...],
    types: tuple[str, ...],
    method: str,
    random_state: Any,
    sample_weight: Any,
    params: dict[str, Any],
    progress: bool | None,
) -> tuple[list[dict[str, Any]], dict[tuple[str, int], Any]]:
    """Fit every candidate: the table's rows and the fitted estimators."""
    from .bayes.progress import DelayedProgress, resolve_progress

    enabled, delay = resolve_progress(progress)
    rows, estimators = [], {}
    with DelayedProgress(len(ks) * len(types), "select", enabled, delay) as bar:
        for covariance_type in types:
            for k in ks:
                estimator, texts, error = _fit_one(
                    X, k, covariance_type, method, random_state, sample_weight, params
                )
                bar.advance(f"{covariance_type} K={k}")
                if estimator is not None:
                    estimators[(covariance_type, k)] = estimator
                row = _candidate_row(X, covariance_type, k, estimator, texts, error)
                if row["note"]:
                    logger.info("select %s K=%d: %s", covariance_type, k, row["note"])
                rows.append(row)
    return rows, estimators


def _check_grid(
    method: Any, n_components: Any, covariance_types: Any, criterion: Any, estimator_params: Any
) -> tuple[str, tuple[int, ...], tuple[str, ...], dict[str, Any]]:
    """Checked method, numbers of components, covariance types and estimator parameters."""
    method = check_option("select", "method", method, _METHODS)
    ks = tuple(
        check_int("select", "n_components", k, 1) for k in _as_tuple(n_components, "n_components")
    )
    types = tuple(
        check_option("select", "covariance_types", t, COVARIANCE_TYPES)
        for t in _as_tuple(covariance_types, "covariance_types")
    )
    if method == "em":
        _criterion_column(criterion, method)
    elif criterion not in (*CRITERIA, "loo"):
        check_option("select", "criterion", criterion, (*CRITERIA, "loo"))
    params = dict(estimator_params or {})
    for reserved in ("n_components", "covariance_type", "random_state", "method"):
        if reserved in params:
            raise ValueError(
                f"estimator_params must not set {reserved!r}: select sets it for each candidate."
            )
    return method, ks, types, params


def _candidate_row(
    X: Any, covariance_type: str, k: int, estimator: Any, texts: list[str], error: str | None
) -> dict[str, Any]:
    """One row of the table: criteria of a fitted candidate, or why it failed."""
    row = {
        "covariance_type": covariance_type,
        "n_components": k,
        "n_parameters": np.nan,
        "log_likelihood": np.nan,
        "bic": np.nan,
        "aic": np.nan,
        "icl": np.nan,
        "converged": False,
        "degenerate": False,
        "failed": error is not None,
        "note": error or "",
    }
    if estimator is None:
        return row
    result = estimator.result_
    row.update(
        n_parameters=result.n_parameters,
        log_likelihood=result.log_likelihood(X),  # total, at the estimates
        bic=result.bic(X),
        aic=result.aic(X),
        icl=result.icl(X),
        converged=bool(result.converged) if result.converged is not None else True,
        degenerate=bool(result.degenerate),
        note="; ".join(list(result.degenerate) + texts),
    )
    return row


def _rank(table: pd.DataFrame, column: str, ascending: bool) -> pd.DataFrame:
    """Add ``rank`` (0 = best, NaN where a fit cannot be chosen) and ``best``."""
    eligible = _eligible(table) & table[column].notna()
    if not eligible.any():
        raise ValueError(
            "No candidate can be chosen: every fit failed or has a degenerate component "
            f"({table['note'].iloc[0]}). Try fewer components, another covariance type or a "
            "larger reg_covar (in the data's units, e.g. "
            "estimator_params={'reg_covar': 1e-3})."
        )
    ranks = table.loc[eligible, column].rank(method="first", ascending=ascending) - 1
    table["rank"] = np.nan
    table.loc[eligible, "rank"] = ranks
    table["best"] = table["rank"] == 0
    return table.astype({"converged": bool, "degenerate": bool, "failed": bool})


def _add_loo(table: pd.DataFrame, estimators: dict[tuple[str, int], Any]) -> pd.DataFrame:
    """Rank Bayesian candidates by PSIS-LOO with :func:`arviz.compare`."""
    import arviz as az

    labels = {f"{t}-K{k}": (t, k) for (t, k) in estimators}
    columns = ("elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight", "loo_warning")
    for column in columns[:-1]:
        table[column] = np.nan
    table["loo_warning"] = False
    if not labels:
        return table
    idatas = {label: estimators[key].result_.posterior for label, key in labels.items()}
    with warnings.catch_warnings():
        # Pareto-k warnings are recorded in loo_warning; ArviZ's own pandas deprecations
        # are not the user's business
        warnings.simplefilter("ignore")
        compared = az.compare(idatas, ic="loo", scale="log") if len(idatas) > 1 else None
    if compared is None:  # one candidate: compare() needs two, loo() gives the same numbers
        label = next(iter(idatas))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo = az.loo(idatas[label])
        compared = pd.DataFrame(
            {
                "elpd_loo": [loo["elpd_loo"]],
                "se": [loo["se"]],
                "p_loo": [loo["p_loo"]],
                "elpd_diff": [0.0],
                "dse": [0.0],
                "weight": [1.0],
                "warning": [bool(loo["warning"])],
            },
            index=[label],
        )
    for label, (t, k) in labels.items():
        where = (table["covariance_type"] == t) & (table["n_components"] == k)
        for column in columns[:-1]:
            table.loc[where, column] = float(compared.loc[label, column])
        table.loc[where, "loo_warning"] = bool(compared.loc[label, "warning"])
    return table
