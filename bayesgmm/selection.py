"""Model selection: fit a grid of components x covariance models and rank it.

EM fits are ranked by an information criterion (BIC, AIC or ICL, as mclust does);
Bayesian fits by their expected log predictive density under PSIS-LOO, through
:func:`arviz.compare`. Fits with a degenerate (collapsed) component have an
unbounded likelihood, so their criterion is not comparable: they stay in the
table, marked, and are never chosen.

By default every covariance model is tried, mclust's 14 (:data:`bayesgmm.covariance.MODELS`),
K = 1..9, as ``mclustBIC`` does. On one-dimensional data only the volume matters (equal:
E, varying: V): models that differ only in shape or orientation are the same model
there, so only the first of each kind is fitted (:attr:`SelectionResult.equivalents`
says which stood for which). The EM fits of a grid share their work: the data are
checked and summarised once, and every model with K components starts from the same
pool of partitions (:mod:`bayesgmm.em.pool`), each made once.

Gaussian and Student-t candidates go in one table with ``family=("gaussian", "t")``: the
family is part of each column's key (mclust's name, ``-t`` appended for t components,
e.g. ``VVV-t``), and the t fits' degrees of freedom count as parameters when estimated.

Sign convention: our criteria are *lower is better* (``-2 log L + penalty``), as
scikit-learn's ``bic`` is. mclust reports ``2 log L - penalty`` (higher is better);
the numbers differ only in sign. :meth:`SelectionResult.criterion_table` and
:meth:`SelectionResult.summary` give either sign.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import gaussian
from .covariance import COVARIANCE_TYPES, MODELS, get_covariance_model
from .data import check_int, check_option, check_X, is_dask_array
from .family import FAMILIES
from .interrupts import raise_if_interrupted, reraise_interrupts

__all__ = ["select", "SelectionResult", "CRITERIA", "BAYES_METHODS", "ALL_MODELS"]

logger = logging.getLogger(__name__)

#: Information criteria for EM fits (lower is better).
CRITERIA = ("bic", "aic", "icl")
#: Methods that make Bayesian fits, ranked by LOO.
BAYES_METHODS = ("nuts", "advi", "fullrank_advi", "map")
_METHODS = ("em", *BAYES_METHODS)
#: ``covariance_types="all"``: every model, in mclust's order.
ALL_MODELS = tuple(MODELS)
_SIGNS = ("ours", "mclust")


@dataclass
class SelectionResult:
    """The outcome of :func:`select`: a tidy table, the chosen fit and every fit.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per candidate with columns ``family``, ``covariance_type``, ``model``
        (mclust's name: E or V on one-dimensional data; ``-t`` appended for the t
        family), ``n_components``, ``n_parameters``,
        ``log_likelihood`` (total), ``bic``, ``aic``, ``icl``, ``converged``,
        ``degenerate`` (bool), ``failed``, ``note`` (why a fit is degenerate, failed or
        warned), ``rank`` (0 = best by ``criterion``; NaN for fits that cannot be
        chosen) and ``best``. Bayesian selections add ``elpd_loo``, ``se``, ``p_loo``,
        ``elpd_diff``, ``dse``, ``weight`` and ``loo_warning`` from
        :func:`arviz.compare`.
    criterion : str
        "bic", "aic", "icl" (lower is better) or "loo" (higher ELPD is better).
    estimators_ : dict
        Fitted estimator per ``(covariance_type, n_components)`` (Gaussian fits) or
        ``(covariance_type, n_components, family)`` (other families); failed fits are
        absent.
    method : str
        "em" or the Bayesian method used.
    equivalents : dict
        On one-dimensional data, each requested covariance type that was not fitted
        because it is the same model as one that was: ``{skipped: fitted}``.
    """

    table: pd.DataFrame
    criterion: str
    estimators_: dict[tuple[str, int], Any] = field(repr=False)
    method: str = "em"
    equivalents: dict[str, str] = field(default_factory=dict)

    @property
    def best_(self) -> Any:
        """The chosen fitted estimator."""
        key = self.best_params_
        return self.estimators_[
            _estimator_key(key["covariance_type"], key["n_components"], key.get("family"))
        ]

    @property
    def best_params_(self) -> dict[str, Any]:
        """``{"covariance_type": ..., "n_components": ...}`` of the chosen fit, and its
        ``"family"`` when that is not "gaussian": ``GaussianMixture(**best_params_)``
        makes it again."""
        row = self.table.loc[self.table["best"]].iloc[0]
        params = {
            "covariance_type": str(row["covariance_type"]),
            "n_components": int(row["n_components"]),
        }
        if row.get("family", "gaussian") != "gaussian":
            params["family"] = str(row["family"])
        return params

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

    def criterion_table(
        self, criterion: str | None = None, *, sign: str = "ours", degenerate: bool = False
    ) -> pd.DataFrame:
        """A criterion laid out as mclust prints it: K as rows, models as columns.

        Parameters
        ----------
        criterion : {"bic", "aic", "icl", "loo"} or None, default=None
            None: the selection's criterion ("loo" shows ``elpd_loo``).
        sign : {"ours", "mclust"}, default="ours"
            "ours": lower is better (``-2 log L + penalty``); "mclust": mclust's sign,
            ``2 log L - penalty``, higher is better (what ``mclustBIC`` and
            ``mclustICL`` print).
        degenerate : bool, default=False
            Show the values of fits with a degenerate component too; by default they
            are NaN, as failed fits are: an unbounded likelihood is not comparable.

        Returns
        -------
        pandas.DataFrame
            Index ``n_components``; one column per model (mclust's names), in the order
            fitted.

        Examples
        --------
        >>> from bayesgmm.datasets import load_seed_example
        >>> sel = select(load_seed_example(), n_components=range(3, 5),
        ...              covariance_types=("EEE", "VVV"), random_state=0)
        >>> table = sel.criterion_table(sign="mclust")
        >>> list(table.columns), table.index.tolist()
        (['EEE', 'VVV'], [3, 4])
        >>> bool(table.loc[4, "EEE"] == -sel.table["bic"].iloc[1])
        True
        """
        criterion = self.criterion if criterion is None else criterion
        column, ascending = _criterion_column(criterion, self.method)
        check_option("criterion_table", "sign", sign, _SIGNS)
        table = self.table
        values = table[column].where(_eligible(table) | (degenerate & ~table["failed"]))
        if sign == "mclust" and column != "elpd_loo":
            values = -values
        wide = (
            table.assign(value=values)
            .pivot(index="n_components", columns="model", values="value")
            .reindex(columns=list(dict.fromkeys(table["model"])))
        )
        wide.columns.name = None
        return wide

    def summary(
        self, criterion: str | None = None, *, n: int = 3, sign: str = "ours"
    ) -> pd.DataFrame:
        """The ``n`` best models, as mclust's ``summary(mclustBIC(...))`` shows them.

        Columns are ``"model,K"`` (mclust's names), best first; rows are the criterion
        and its difference from the best (0 for the best, then worse).

        Examples
        --------
        >>> from bayesgmm.datasets import load_seed_example
        >>> sel = select(load_seed_example(), n_components=range(3, 6),
        ...              covariance_types=("EEE", "VVV"), random_state=0)
        >>> list(sel.summary(n=2).columns)
        ['EEE,4', 'EEE,5']
        """
        criterion = self.criterion if criterion is None else criterion
        column, _ = _criterion_column(criterion, self.method)
        check_option("summary", "sign", sign, _SIGNS)
        ranked = self.ranking(criterion).head(check_int("summary", "n", n, 1))
        values = ranked[column].to_numpy(dtype=float)
        if sign == "mclust" and column != "elpd_loo":
            values = -values
        name = "ELPD" if column == "elpd_loo" else column.upper()
        labels = [f"{m},{k}" for m, k in zip(ranked["model"], ranked["n_components"], strict=True)]
        return pd.DataFrame([values, values - values[0]], index=[name, f"{name} diff"],
                            columns=labels)  # fmt: skip

    def plot(self, criterion: str | None = None, *, ax: Any = None, **kwargs: Any) -> Any:
        """Criterion curves per covariance type; see :func:`bayesgmm.plot.plot_criterion`."""
        from .plot import plot_criterion

        return plot_criterion(self, criterion=criterion, ax=ax, **kwargs)

    def __repr__(self) -> str:
        best = self.best_params_
        head = (
            f"SelectionResult(method={self.method!r}, criterion={self.criterion!r}, "
            f"best={best['covariance_type']!r} with {best['n_components']} components)\n"
        )

        def number(value: float) -> str:
            return f"{value:.2f}"

        if self.method == "em":
            sign = "lower is better"
            return (
                head
                + f"{self.criterion.upper()} ({sign}; failed and degenerate fits: NaN)\n"
                + self.criterion_table().to_string(float_format=number, na_rep="-")
                + "\n\n"
                + self.summary().to_string(float_format=number)
            )
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
        return head + shown.to_string(index=False, float_format=number)


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


def _estimator_key(covariance_type: str, k: int, family: str | None) -> tuple:
    """The key of a fit in :attr:`SelectionResult.estimators_`."""
    if family in (None, "gaussian"):
        return (covariance_type, k)
    return (covariance_type, k, family)


def _as_tuple(values: Any, name: str) -> tuple:
    if isinstance(values, str | int | np.integer):
        return (values,)
    if not isinstance(values, Iterable):
        raise TypeError(f"{name} must be an int/str or a sequence of them; got {values!r}.")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} is empty; give at least one value.")
    return values


def _warning_texts(caught: list) -> list[str]:
    texts: list[str] = []
    for item in caught:
        text = f"{item.category.__name__}: {item.message}"
        if text not in texts:
            texts.append(text)
    return texts


def _recorded(fit: Any) -> tuple[Any, list[str], str | None]:
    """Run ``fit()``: (its value or None, the warnings it gave, its error text or None)."""
    raise_if_interrupted()  # a Ctrl-C swallowed in the previous fit (numba's compiler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fit()
        except (ValueError, np.linalg.LinAlgError) as error:
            return None, [], f"{type(error).__name__}: {error}"
    return value, _warning_texts(caught), None


def select(
    X: Any,
    n_components: Any = range(1, 10),
    covariance_types: Any = "all",
    criterion: str = "bic",
    *,
    method: str = "em",
    family: Any = "gaussian",
    random_state: Any = 0,
    sample_weight: Any = None,
    progress: bool | None = None,
    estimator_params: dict[str, Any] | None = None,
) -> SelectionResult:
    """Fit every (number of components, covariance model) pair and choose the best.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
    n_components : int or iterable of int, default=range(1, 10)
        Numbers of components to try (mclust's ``G = 1:9``).
    covariance_types : "all", str or iterable of str, default="all"
        Covariance models to try: "all" is mclust's 14 (:data:`ALL_MODELS`, as
        ``mclustBIC`` tries), in mclust's order; any names or aliases of
        :mod:`bayesgmm.covariance` ("full", "VEV", ...) otherwise. On one-dimensional
        data, models that are the same there (the same volume letter) are fitted once.
    criterion : {"bic", "aic", "icl", "loo"}, default="bic"
        How EM fits are ranked, lower is better for all three:

        - "bic": ``-2 log L + p log N`` (Schwarz 1978), mclust's default;
        - "aic": ``-2 log L + 2 p``;
        - "icl": BIC plus twice the classification entropy (Biernacki et al. 2000),
          which prefers well separated clusters (mclust's ``mclustICL``).

        Bayesian fits (``method`` other than "em") are always ranked by PSIS-LOO
        through :func:`arviz.compare`; "loo" is then the criterion whatever is given,
        and BIC/AIC/ICL at the posterior mean stay in the table for reference.
    method : {"em", "nuts", "advi", "fullrank_advi", "map"}, default="em"
        "em" fits :class:`bayesgmm.GaussianMixture`; the others fit
        :class:`bayesgmm.BayesianGaussianMixture` with that method.
    family : str or iterable of str, default="gaussian"
        Component families to try (EM only): "gaussian", "t" (Student-t with estimated
        degrees of freedom), or both, ``("gaussian", "t")``, in one table.
    random_state : int, Generator or None, default=0
        Passed to every fit, so each candidate starts from the same seed: an EM cell
        is the fit ``GaussianMixture(K, covariance_type=..., random_state=...)`` gives.
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
        ``estimators_``, ``ranking()``, ``criterion_table()`` (mclust's layout, either
        sign), ``summary()`` (the best few, as mclust's) and ``plot()``.

    Notes
    -----
    A fit with a degenerate component (``result_.degenerate`` not empty: a collapsed or
    near-singular covariance) has an unbounded likelihood: its row stays, with
    ``degenerate=True`` and the reason in ``note``, and is never chosen. A candidate
    that cannot be fitted gets ``failed=True`` and the error in ``note``; warnings go
    to ``note`` once per cell. The table holds all three criteria, so
    :meth:`SelectionResult.ranking` re-ranks by another one without refitting.

    EM candidates share their work as mclust's ``mclustBIC`` does: the data are
    checked and summarised once, and the default starts of every model with K
    components are the same partitions, made once (:mod:`bayesgmm.em.pool`).

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
    check_X(X, estimator="select", min_samples=2)  # one clear error before any fit
    method, ks, types, params = _check_grid(
        method, n_components, covariance_types, criterion, estimator_params
    )
    families = _check_families(family, method)
    types, equivalents = _distinct_models(types, _n_features(X))
    chosen_criterion = criterion if method == "em" else "loo"
    if method == "em":
        with reraise_interrupts():
            rows, estimators = _fit_em_grid(
                X, ks, types, families, random_state, sample_weight, params, progress
            )
    else:
        rows, estimators = _fit_bayes_grid(
            X, ks, types, method, random_state, sample_weight, params, progress
        )
    for skipped, kept in equivalents.items():
        logger.info("select: %r is the same model as %r on one feature; fitted once", skipped, kept)
    table = pd.DataFrame(rows)
    if method != "em":
        table = _add_loo(table, estimators)
    table = _rank(table, *_criterion_column(chosen_criterion, method))
    return SelectionResult(table, chosen_criterion, estimators, method, equivalents)


def _check_families(family: Any, method: str) -> tuple[str, ...]:
    """The checked component families (distinct, in the order given)."""
    families = tuple(
        dict.fromkeys(
            check_option("select", "family", name, tuple(FAMILIES))
            for name in _as_tuple(family, "family")
        )
    )
    if method != "em" and families != ("gaussian",):
        raise ValueError(
            f"family={family!r} is for EM fits (method='em'); Bayesian fits have Gaussian "
            "components. Use method='em', or leave family='gaussian'."
        )
    return families


def _n_features(X: Any) -> int:
    shape = np.shape(X) if not hasattr(X, "shape") else X.shape
    return 1 if len(shape) < 2 else int(shape[1])


def _mclust_name(covariance_type: str, n_features: int, family: str = "gaussian") -> str:
    """mclust's name of a model on data of ``n_features``: E or V in one dimension;
    ``-t`` appended for the t family."""
    letters = get_covariance_model(covariance_type).mclust_name
    name = letters if n_features > 1 else letters[0]
    return name if family == "gaussian" else f"{name}-{family}"


def _distinct_models(types: tuple[str, ...], n_features: int) -> tuple[tuple, dict[str, str]]:
    """The requested types less those that are the same model as an earlier one.

    Two names of one model (an alias and its name) are one model; on one feature only
    the volume letter (E or V) distinguishes models, as mclust's ``"E"`` and ``"V"``.
    """
    kept: dict[str, str] = {}
    equivalents: dict[str, str] = {}
    for name in types:
        key = _mclust_name(name, n_features)
        if key in kept:
            if name != kept[key]:
                equivalents[name] = kept[key]
            continue
        kept[key] = name
    return tuple(kept.values()), equivalents


def _fit_em_grid(
    X: Any,
    ks: tuple[int, ...],
    types: tuple[str, ...],
    families: tuple[str, ...],
    random_state: Any,
    sample_weight: Any,
    params: dict[str, Any],
    progress: bool | None,
) -> tuple[list[dict[str, Any]], dict[tuple, Any]]:
    """Fit every EM candidate from one preparation of the data: rows and estimators."""
    from .bayes.progress import DelayedProgress, resolve_progress
    from .em import GaussianMixture
    from .em.estimator import FitData

    template = GaussianMixture(random_state=random_state, **params)
    options = template._check_parameters()  # bad estimator_params: one error, before fits
    shared, texts, error = _recorded(lambda: FitData.prepare(X, sample_weight, template, options))
    if error is not None:
        raise ValueError(error.partition(": ")[2])
    rows, estimators = [], {}
    enabled, delay = resolve_progress(progress)
    cells = [(f, t, k) for f in families for t in types for k in ks]
    with DelayedProgress(len(cells), "select", enabled, delay) as bar:
        for family, covariance_type, k in cells:
            estimator = GaussianMixture(
                k, covariance_type=covariance_type, family=family, random_state=random_state,
                **params,
            )  # fmt: skip
            fitted, cell_texts, cell_error = _recorded(lambda e=estimator: e._fit_shared(shared))
            bar.advance(f"{_mclust_name(covariance_type, 2, family)} K={k}")
            if fitted is not None:
                estimators[_estimator_key(covariance_type, k, family)] = fitted
            rows.append(
                _candidate_row(
                    shared.data.X,
                    covariance_type,
                    k,
                    fitted,
                    texts + cell_texts,
                    cell_error,
                    family,
                )  # fmt: skip
            )
    return rows, estimators


def _fit_bayes_grid(
    X: Any,
    ks: tuple[int, ...],
    types: tuple[str, ...],
    method: str,
    random_state: Any,
    sample_weight: Any,
    params: dict[str, Any],
    progress: bool | None,
) -> tuple[list[dict[str, Any]], dict[tuple[str, int], Any]]:
    """Fit every Bayesian candidate: the table's rows and the fitted estimators."""
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
                rows.append(_candidate_row(X, covariance_type, k, estimator, texts, error))
    return rows, estimators


def _fit_one(
    X: Any,
    n_components: int,
    covariance_type: str,
    method: str,
    random_state: Any,
    sample_weight: Any,
    params: dict[str, Any],
) -> tuple[Any, list[str], str | None]:
    """Fit one Bayesian candidate: (estimator or None, warning texts, error text or None)."""
    from .bayes import BayesianGaussianMixture

    estimator = BayesianGaussianMixture(
        n_components=n_components,
        covariance_type=covariance_type,
        method=method,
        random_state=random_state,
        **{"progressbar": False, **params},  # one bar, select's, unless asked
    )
    return _recorded(lambda: estimator.fit(X))


def _check_grid(
    method: Any, n_components: Any, covariance_types: Any, criterion: Any, estimator_params: Any
) -> tuple[str, tuple[int, ...], tuple[str, ...], dict[str, Any]]:
    """Checked method, numbers of components, covariance types and estimator parameters."""
    method = check_option("select", "method", method, _METHODS)
    ks = tuple(
        check_int("select", "n_components", k, 1) for k in _as_tuple(n_components, "n_components")
    )
    if isinstance(covariance_types, str) and covariance_types == "all":
        covariance_types = ALL_MODELS
    types = tuple(
        check_option("select", "covariance_types", t, COVARIANCE_TYPES)
        for t in _as_tuple(covariance_types, "covariance_types")
    )
    if method == "em":
        _criterion_column(criterion, method)
    elif criterion not in (*CRITERIA, "loo"):
        check_option("select", "criterion", criterion, (*CRITERIA, "loo"))
    params = dict(estimator_params or {})
    for reserved in ("n_components", "covariance_type", "random_state", "method", "family"):
        if reserved in params:
            raise ValueError(
                f"estimator_params must not set {reserved!r}: select sets it for each candidate."
            )
    return method, ks, types, params


def _candidate_row(
    X: Any,
    covariance_type: str,
    k: int,
    estimator: Any,
    texts: list[str],
    error: str | None,
    family: str = "gaussian",
) -> dict[str, Any]:
    """One row of the table: criteria of a fitted candidate, or why it failed."""
    row = {
        "family": family,
        "covariance_type": covariance_type,
        "model": _mclust_name(covariance_type, _n_features(X), family),
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
    log_likelihood, entropy, n_rows = _criteria(result, X)
    n_parameters = result.n_parameters
    bic = -2 * log_likelihood + n_parameters * np.log(n_rows)
    row.update(
        n_parameters=n_parameters,
        log_likelihood=log_likelihood,  # total, at the estimates
        bic=bic,
        aic=-2 * log_likelihood + 2 * n_parameters,
        icl=bic - 2 * entropy,
        converged=bool(result.converged) if result.converged is not None else True,
        degenerate=bool(result.degenerate),
        note="; ".join(list(result.degenerate) + texts),
    )
    return row


def _criteria(result: Any, X: Any) -> tuple[float, float, int]:
    """Total log-likelihood at the estimates, ``sum_n log max_k r_nk`` and the rows.

    One evaluation of the Gaussian densities (from :meth:`MixtureResult.draw_arrays`,
    the estimate's full matrices) for in-memory data; the result's own methods for dask
    data, posteriors and other families.
    """
    if is_dask_array(X) or result.posterior is not None or result.family != "gaussian":
        log_likelihood = result.log_likelihood(X)
        n_rows = len(check_X(X, estimator="select").X)
        bic = -2 * log_likelihood + result.n_parameters * np.log(n_rows)
        return log_likelihood, (bic - result.icl(X)) / 2, n_rows
    weights, means, covariances, _ = result.draw_arrays()
    X = np.asarray(check_X(X, estimator="select").X, dtype=np.float64)
    factors = gaussian.precision_cholesky_full(covariances[0])
    with np.errstate(divide="ignore"):
        weighted = gaussian.log_density_full(X, means[0], factors) + np.log(weights[0])
    log_prob, log_resp = gaussian.log_mixture_density(weighted)
    return float(log_prob.sum()), float(log_resp.max(axis=1).sum()), len(X)


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
