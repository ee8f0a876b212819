r"""EM with missing values (NaN): the likelihood of each row's observed coordinates.

``GaussianMixture(missing="marginal")`` on data with NaN runs :class:`MarginalEngine`,
EM for the observed-data likelihood (Ghahramani & Jordan 1994; for Student-t
components, McLachlan & Peel 2000, section 7.4). Its E-step works per missingness
pattern (:mod:`bayesgmm.observed`): the marginal log-densities of the observed
coordinates give the responsibilities :math:`r_{nk}`, the conditional means and
covariances of the missing coordinates give the expected sufficient statistics

.. math::

    E[x \mid x_o, k] = \hat x_{nk}, \qquad
    E[x x^T \mid x_o, k] = \hat x_{nk} \hat x_{nk}^T + C_k, \qquad
    C_k = \begin{pmatrix} 0 & 0 \\ 0 & \Sigma_{mm} - \Sigma_{mo}\Sigma_{oo}^{-1}\Sigma_{om}
    \end{pmatrix},

which fill the same feature sums ``T`` (and, for the shared layout, the second moment)
that every covariance model's M-step reads, so all 14 models work unchanged. Student-t
components add the scale weights :math:`u_{nk} = (\nu_k + D_o) / (\nu_k + \delta_{o,nk})`
of the observed coordinates (:math:`E[u x x^T] = u \hat x \hat x^T + C`), and each
row's degrees-of-freedom term is shifted by
:math:`\psi(\tfrac{\nu + D_o}{2}) - \log\tfrac{\nu + D_o}{2} - \psi(\tfrac{\nu + D}{2})
+ \log\tfrac{\nu + D}{2}`, so the family's update (written for D observed coordinates)
solves the right equation.

The starts are made from rows whose missing values are imputed by the column means
(:class:`MarginalProblem`); the data's moments and per-feature summaries are taken over
each feature's observed values. The engine runs numpy per pattern: data with many
distinct patterns cost one small factorisation per pattern, component and iteration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from ..covariance import CovarianceModel, Layout
from ..data import is_dask_array
from ..family import GAUSSIAN, Family
from ..gaussian import log_mixture_density
from ..observed import ObservedCoordinates, missingness_patterns
from .degenerate import FeatureSummary, summarise_features
from .loop import em_steps
from .passes import n_feature_columns
from .starts import Problem

__all__ = [
    "MISSING_OPTIONS",
    "MarginalEngine",
    "MarginalProblem",
    "has_missing",
    "check_marginal_input",
    "observed_moments",
    "impute_means",
    "summarise_observed",
]

#: ``GaussianMixture(missing=...)``: refuse NaN, or fit the observed-data likelihood.
MISSING_OPTIONS = ("error", "marginal")


def has_missing(X: Any) -> bool:
    """Whether in-memory data hold a NaN."""
    return not is_dask_array(X) and bool(np.isnan(np.asarray(X)).any())


def check_marginal_input(X: Any, engine: str, owner: str = "GaussianMixture") -> bool:
    """Whether data fitted with ``missing="marginal"`` hold NaN; refuses what the
    marginal engine cannot take (dask arrays, an engine chosen by name)."""
    if is_dask_array(X):
        raise ValueError(
            f"{owner}(missing='marginal') fits in-memory data only, not a dask array (the "
            "missingness patterns are grouped in memory). Call X.compute() first, or drop "
            "or impute the missing values and use missing='error'."
        )
    incomplete = has_missing(X)
    if incomplete and engine != "auto":
        raise ValueError(
            f"engine={engine!r} cannot fit missing values: data with NaN fitted with "
            "missing='marginal' run on their own engine (numpy, by missingness pattern). "
            "Use engine='auto'."
        )
    return incomplete


def observed_moments(X: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and variance of each feature over its observed values (two passes).

    Examples
    --------
    >>> observed_moments(np.array([[1.0, np.nan], [3.0, 2.0]]), np.ones(2))
    (array([2., 2.]), array([1., 0.]))
    """
    X = np.asarray(X, dtype=np.float64)
    observed = ~np.isnan(X)
    column_weights = np.where(observed, np.asarray(weights, dtype=np.float64)[:, None], 0.0)
    totals = column_weights.sum(axis=0)
    values = np.where(observed, X, 0.0)
    mean = (column_weights * values).sum(axis=0) / totals
    squares = (column_weights * np.where(observed, X - mean, 0.0) ** 2).sum(axis=0)
    return mean, squares / totals


def impute_means(X: np.ndarray, means: np.ndarray) -> np.ndarray:
    """X with each missing value replaced by its feature's mean (a copy)."""
    X = np.asarray(X)
    return np.where(np.isnan(X), np.asarray(means, dtype=X.dtype), X)


def summarise_observed(
    X: np.ndarray, weights: np.ndarray, shift: np.ndarray, variance: np.ndarray
) -> FeatureSummary:
    """:func:`~bayesgmm.em.degenerate.summarise_features` of data with missing values:
    spread, grid, magnitude and reach of each feature over its observed values; the
    sample (for the data's flat directions) with missing values imputed by the means."""
    X = np.asarray(X, dtype=np.float64)
    columns = []
    for d in range(X.shape[1]):
        rows = np.flatnonzero(~np.isnan(X[:, d]))
        columns.append(
            summarise_features(
                X[rows, d : d + 1], weights[rows], shift[d : d + 1], variance[d : d + 1]
            )
        )
    imputed = summarise_features(impute_means(X, shift), weights, shift, variance)
    joined = {
        name: np.concatenate([getattr(column, name) for column in columns])
        for name in ("spread", "grid", "magnitude", "reach")
    }
    return FeatureSummary(**joined, sample=imputed.sample, sample_weights=imputed.sample_weights)


@dataclass
class MarginalProblem(Problem):
    """A fit of data with missing values: EM on :class:`MarginalEngine`, starts from the
    rows with their missing values imputed by the column means (the shift)."""

    def engine_for(self, X: Any, weights: Any) -> MarginalEngine:
        """The marginal engine for (a sample of) the data."""
        return MarginalEngine(
            X, weights, self.shift, self.reg, self.model, self.n_components, self.dtype,
            self.workers, self.family, self.estimate_dof,
        )  # fmt: skip

    def start_rows(self, X: Any) -> np.ndarray:
        """The rows the starting partitions are made from: missing values imputed."""
        return impute_means(X, self.shift)


@dataclass
class _ExpectedSums:
    """Per component: ``sum rho u E[x x^T]``, ``sum rho u E[x]``, ``sum rho u``,
    ``sum rho`` and the degrees-of-freedom sums (``rho``: weighted responsibilities)."""

    second: np.ndarray
    first: np.ndarray
    mass: np.ndarray
    counts: np.ndarray
    dof_stats: np.ndarray

    @classmethod
    def zeros(cls, n_components: int, n_features: int) -> _ExpectedSums:
        return cls(
            np.zeros((n_components, n_features, n_features)),
            np.zeros((n_components, n_features)),
            np.zeros(n_components),
            np.zeros(n_components),
            np.zeros(n_components),
        )


def _dof_term_shift(dof: np.ndarray, n_observed: int, n_features: int) -> np.ndarray:
    """``psi((nu + D_o)/2) - log((nu + D_o)/2) - (the same at D)`` per component."""
    observed, full = 0.5 * (dof + n_observed), 0.5 * (dof + n_features)
    return special.digamma(observed) - np.log(observed) - special.digamma(full) + np.log(full)


class MarginalEngine:
    """E-steps over the missingness patterns of in-memory data (see the module).

    Takes the arguments of :func:`~bayesgmm.em.engines.select_engine` (its ``choice``
    aside) and runs :func:`~bayesgmm.em.loop.em_steps` in Python, each E-step in numpy
    (float64 whatever ``dtype``) and the M-step of the covariance model.
    """

    name = "marginal"
    data = None

    def __init__(
        self,
        X: Any,
        weights: Any,
        shift: np.ndarray,
        reg: np.ndarray,
        model: CovarianceModel,
        n_components: int,
        dtype: Any,
        workers: Any = None,
        family: Family = GAUSSIAN,
        estimate_dof: bool = True,
    ) -> None:
        self.family, self.estimate_dof = family, bool(estimate_dof)
        self.shift = np.asarray(shift, dtype=np.float64)
        self.reg = np.asarray(reg, dtype=np.float64)
        self.model, self.n_components, self.dtype = model, n_components, np.dtype(dtype)
        rows = np.asarray(X, dtype=np.float64) - self.shift
        row_weights = np.asarray(weights, dtype=np.float64)
        kept = row_weights > 0
        rows, row_weights = rows[kept], row_weights[kept]
        self.n_features = rows.shape[1]
        self.n_columns = n_feature_columns(model.layout, self.n_features)
        self.patterns = [
            (observed, rows[index], row_weights[index])
            for observed, index in missingness_patterns(np.isnan(rows))
        ]
        self.total_weight = float(row_weights.sum())
        self.iterations_per_call = 1 << 30

    def new_statistics(self, model: CovarianceModel, n_components: int) -> tuple:
        """Buffers ``(T, data_second, reg, nk, scatter, counts, dof_stats, estimate_dof)``
        (see :mod:`bayesgmm.em.loop`); the shared layout's second moment is remade by
        every E-step (it holds conditional expectations)."""
        d = self.n_features
        shape = model.layout.storage_shape(n_components, d)
        return (
            np.zeros((n_components, self.n_columns)),
            np.zeros((d, d) if model.layout.shared else (0, 0)),
            self.reg,
            np.empty(n_components),
            np.empty(shape),
            np.zeros(n_components),
            np.zeros(n_components),
            np.array([self.estimate_dof]),
        )

    def iterate(self, model, params, stats, history, first, last, tol):
        """EM iterations in Python (:func:`~bayesgmm.em.loop.em_steps`)."""
        return em_steps(
            self, model, model.layout, self.family, None, params, stats, history, first,
            last, tol,
        )  # fmt: skip

    def e_step(self, layout: Layout, family: Family, data: Any, params: tuple, stats: tuple):
        """One E-step: the statistics into ``stats``; returns the mean observed-data
        log-likelihood."""
        weights, means, covariances, _, dof = params
        n_components, n_features = means.shape
        full = np.asarray(layout.to_full(covariances, n_components, n_features))
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        sums = _ExpectedSums.zeros(n_components, n_features)
        log_likelihood = 0.0
        for observed, rows, row_weights in self.patterns:
            part = ObservedCoordinates(means, full, observed)
            log_likelihood += _pattern_sums(part, rows, row_weights, log_weights, family, dof, sums)
        _fill_statistics(layout, sums, stats)
        return log_likelihood / self.total_weight


def _pattern_sums(
    part: ObservedCoordinates, rows: np.ndarray, row_weights: np.ndarray,
    log_weights: np.ndarray, family: Family, dof: np.ndarray, sums: _ExpectedSums,
) -> float:  # fmt: skip
    """Add one pattern's expected statistics to ``sums``; return its weighted
    log-likelihood."""
    whitened, maha = part.mahalanobis(rows)
    log_prob = part.log_density(maha, family, dof) + log_weights
    log_norm, log_resp = log_mixture_density(log_prob)
    rho = np.exp(log_resp) * row_weights[:, None]  # (n, K)
    if family.scales:
        scale = (dof + part.n_observed) / (dof + maha)
        shift = _dof_term_shift(dof, part.n_observed, part.means.shape[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(rho > 0, rho * (np.log(scale) - scale + shift), 0.0)
        sums.dof_stats += terms.sum(axis=0)
        rho_u = rho * scale
    else:
        rho_u = rho
    completed, residual = part.conditional(rows, whitened)
    weighted = completed * rho_u.T[:, :, None]  # (K, n, D)
    sums.second += np.swapaxes(weighted, -1, -2) @ completed
    m = part.missing
    sums.second[:, m[:, None], m[None, :]] += rho.sum(axis=0)[:, None, None] * residual
    sums.first += weighted.sum(axis=1)
    sums.mass += rho_u.sum(axis=0)
    sums.counts += rho.sum(axis=0)
    return float(row_weights @ log_norm)


def _fill_statistics(layout: Layout, sums: _ExpectedSums, stats: tuple) -> None:
    """The expected sums in the layout's feature order ``[q(x), x, 1]`` (the shared
    layout: its second moment), the counts and the degrees-of-freedom sums."""
    T, data_second, counts, dof_stats = stats[0], stats[1], stats[5], stats[6]
    n_features = sums.first.shape[1]
    q = layout.n_quadratic(n_features)
    if layout.shared:
        data_second[:] = sums.second.sum(axis=0)
    elif not layout.diagonal:
        rows, cols = np.triu_indices(n_features)  # vech, as the features hold it
        T[:, :q] = sums.second[:, rows, cols]
    else:
        diagonals = np.diagonal(sums.second, axis1=-2, axis2=-1)
        T[:, :q] = diagonals if layout.per_feature else diagonals.sum(axis=-1, keepdims=True)
    T[:, q : q + n_features] = sums.first
    T[:, -1] = sums.mass
    counts[:] = sums.counts
    dof_stats[:] = sums.dof_stats
