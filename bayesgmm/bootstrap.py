r"""Bootstrap for EM fits: standard errors and intervals of the parameters, and a
bootstrap likelihood-ratio test of K against K + 1 components.

:func:`bootstrap` refits a :class:`~bayesgmm.GaussianMixture` to resampled data, as
mclust's ``MclustBootstrap`` does, in one of four ways (``kind``):

- ``"nonparametric"``: rows drawn with replacement, passed as multinomial counts
  (``sample_weight``), so no data are copied;
- ``"weighted"``: the weighted likelihood bootstrap (Newton & Raftery 1994), each row
  weighted by an exponential draw (Dirichlet weights up to their sum);
- ``"parametric"``: ``n`` new rows drawn from the fitted mixture;
- ``"jackknife"``: ``n`` refits, each leaving one row out.

Every replicate is one EM run started from the fit's parameters (one start, on the
estimator's compiled engine), so a replicate costs a few EM iterations, not a default
fit's dozens of starts (``benchmarks/bench_bootstrap.py``). Its components are then
numbered as the fit's by :func:`bayesgmm.comparison.component_order` (the Hungarian
algorithm on the symmetrised Kullback-Leibler divergence, as a Bayesian fit's draws are
matched), so that component k of every replicate is component k of the fit.

:func:`bootstrap_lrt` tests K against K + 1 components by a parametric bootstrap of the
likelihood-ratio statistic under the K-component fit, as mclust's ``mclustBootstrapLRT``.

References
----------
Efron, B. and Tibshirani, R. (1993). An Introduction to the Bootstrap. Chapman & Hall.
Newton, M. and Raftery, A. (1994). Approximate Bayesian inference with the weighted
likelihood bootstrap. JRSS B 56(1).
McLachlan, G. (1987). On bootstrapping the likelihood ratio test statistic for the number
of components in a normal mixture. Applied Statistics 36(3).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from .comparison import component_order, parameter_dataset, parameter_table
from .covariance import get_covariance_model
from .data import (
    check_float,
    check_int,
    check_option,
    check_random_state,
    check_sample_weight,
    check_X,
)
from .em.estimator import GaussianMixture
from .exceptions import DegenerateComponentWarning, NotFittedError, sklearn_compatible
from .threads import single_threaded_blas

__all__ = [
    "bootstrap",
    "Bootstrap",
    "bootstrap_lrt",
    "LikelihoodRatioTest",
    "align_replicates",
    "replicate_tol",
    "split_starts",
    "KINDS",
    "TOL_FRACTION",
]

logger = logging.getLogger(__name__)

#: The resampling schemes of :func:`bootstrap`.
KINDS = ("nonparametric", "weighted", "parametric", "jackknife")
#: A replicate's EM stops at ``TOL_FRACTION`` times the mean log-likelihood gain that
#: separates a replicate's optimum from the fit, so the distance a replicate still had
#: to go is ``sqrt(TOL_FRACTION)`` = 1 % of its distance from the fit.
TOL_FRACTION = 1e-4
#: Smallest replicate ``tol``, relative to ``1 + |mean log-likelihood|``: gains below it
#: are rounding.
_TOL_FLOOR = 1e-12
_DEFAULT_N_BOOT = 999


# ---------------------------------------------------------------------- checks
def _check_fit(fit: Any, owner: str) -> GaussianMixture:
    """A fitted GaussianMixture, or an error that says what to pass."""
    if not isinstance(fit, GaussianMixture):
        raise TypeError(
            f"{owner} refits an EM fit: pass a fitted GaussianMixture (its settings, such as "
            f"covariance_type and reg_covar, are reused); got {type(fit).__name__}. A "
            "Bayesian fit's posterior draws already give intervals (result_.summary())."
        )
    if not hasattr(fit, "result_"):
        raise sklearn_compatible(NotFittedError)(
            f"This {type(fit).__name__} instance is not fitted yet: fit it to X, then pass "
            f"it to {owner}."
        )
    return fit


def _check_data(fit: GaussianMixture, X: Any, sample_weight: Any, owner: str) -> tuple:
    """X as an array in the fit's dtype, and the sample weights; both must be the fit's.

    The fit's ``lower_bound_`` is the weighted mean log-likelihood of its training data,
    so other data (or other weights) are caught by recomputing it.
    """
    data = check_X(
        X,
        estimator=owner,
        n_features=fit.n_features_in_,
        feature_names=getattr(fit, "feature_names_in_", None),
        check_names=True,
        allow_dask=False,
    )
    array = np.ascontiguousarray(data.X, dtype=fit.means_.dtype)
    weights = check_sample_weight(sample_weight, array.shape[0])
    mean = float(np.average(fit.result_.log_prob(array).values, weights=weights))
    # a float32 fit's lower bound is within 1e-6 (relative) of the float64 value
    if not abs(mean - fit.lower_bound_) <= 1e-5 * (1.0 + abs(fit.lower_bound_)):
        raise ValueError(
            f"X{'' if sample_weight is None else ' with these sample weights'} is not the data "
            f"this fit was fitted to: its mean log-likelihood is {mean:.8g}, the fit's "
            f"lower_bound_ is {fit.lower_bound_:.8g}. Pass the rows (and sample_weight) the "
            "fit was fitted with."
        )
    return array, weights


def _check_ci_prob(owner: str, ci_prob: Any) -> float:
    ci_prob = check_float(owner, "ci_prob", ci_prob, 0.0, strict=True)
    if ci_prob >= 1:
        raise ValueError(f"ci_prob must be below 1 (for example 0.95); got {ci_prob!r}.")
    return ci_prob


def _check_n_boot(kind: str, n_boot: Any, n_rows: int) -> int:
    if kind == "jackknife":
        if n_boot is not None:
            raise ValueError(
                f"kind='jackknife' refits once per row ({n_rows} replicates), so n_boot "
                f"cannot be chosen; got n_boot={n_boot!r}. Leave n_boot=None."
            )
        return n_rows
    return _DEFAULT_N_BOOT if n_boot is None else check_int("bootstrap", "n_boot", n_boot, 2)


# ---------------------------------------------------------------------- replicates
def replicate_tol(
    n_parameters: int, n_rows: float, kind: str, mean_log_likelihood: float, fit_tol: float
) -> float:
    r"""The EM tolerance of a replicate, from how far its optimum lies from the fit.

    A replicate's optimum is about :math:`p / (2n)` per row above the fit's parameters
    in mean log-likelihood (half a :math:`\chi^2_p` over ``n``; a jackknife replicate,
    one row away, ``n`` times less). EM stopped ``tol`` below the optimum is
    :math:`\sqrt{tol / gain}` of the way short, so ``tol = TOL_FRACTION * gain``
    leaves 1 % of each replicate's deviation from the fit; never looser than the fit's
    ``fit_tol``, nor below rounding.

    Examples
    --------
    >>> round(replicate_tol(5, 1000, "nonparametric", -1.0, 1e-6), 15)
    2.5e-07
    """
    gain = n_parameters / (2.0 * n_rows)
    if kind == "jackknife":
        gain /= n_rows
    floor = _TOL_FLOOR * (1.0 + abs(mean_log_likelihood))
    return max(min(TOL_FRACTION * gain, fit_tol), floor)


def _resamples(
    kind: str, X: np.ndarray, weights: np.ndarray, fit: GaussianMixture, n_boot: int, rng: Any
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(data, sample weights) of each replicate."""
    n_rows = X.shape[0]
    if kind == "nonparametric":
        for _ in range(n_boot):
            yield X, weights * rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows))
    elif kind == "weighted":
        for _ in range(n_boot):
            yield X, weights * rng.standard_exponential(n_rows)
    elif kind == "parametric":
        for _ in range(n_boot):
            yield fit.result_.sample(n_rows, random_state=rng).astype(X.dtype), weights
    else:  # jackknife
        for row in range(n_rows):
            left_out = weights.copy()
            left_out[row] = 0.0
            yield X, left_out


def _start_of(fit: GaussianMixture) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fitted estimator's weights, means and precisions (float64), as initial values."""
    return (
        np.asarray(fit.weights_, dtype=np.float64),
        np.asarray(fit.means_, dtype=np.float64),
        np.asarray(fit.precisions_, dtype=np.float64),
    )


def _warm_copy(
    fit: GaussianMixture, tol: float | None = None, start: tuple | None = None
) -> GaussianMixture:
    """An estimator with the fit's settings that starts once, from the fit's parameters
    (or from ``start``: weights, means, precisions)."""
    params = {**fit.get_params(), "n_init": 1, "warm_start": False, "verbose": 0}
    if tol is not None:
        params["tol"] = tol
    weights, means, precisions = _start_of(fit) if start is None else start
    return type(fit)(**params).set_params(
        n_components=len(weights),
        weights_init=weights,
        means_init=means,
        precisions_init=precisions,
    )


def align_replicates(
    reference: Any, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Replicates' components renumbered as ``reference``'s.

    Parameters
    ----------
    reference : MixtureResult or fitted estimator
        The fit whose numbering the replicates take.
    weights : ndarray of shape (R, K)
    means : ndarray of shape (R, K, D)
    covariances : ndarray of shape (R, K, D, D)
        Full matrices.

    Returns
    -------
    weights, means, covariances, order
        The replicates renumbered, and ``order`` (R, K): ``order[r, k]`` is the
        component of replicate ``r`` that became component ``k``
        (:func:`~bayesgmm.comparison.component_order`).

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([0.3, 0.7]), means=np.array([[0.0], [5.0]]),
    ...                     covariances=np.ones(2), covariance_type="spherical")
    >>> weights, *_, order = align_replicates(
    ...     fit, np.array([[0.6, 0.4]]), np.array([[[5.2], [0.1]]]), np.ones((1, 2, 1, 1)))
    >>> weights, order
    (array([[0.4, 0.6]]), array([[1, 0]]))
    """
    result = getattr(reference, "result_", reference)
    order = component_order(result.means.values, result.covariances.values, means, covariances)

    def take(values: np.ndarray) -> np.ndarray:
        index = order.reshape(order.shape + (1,) * (values.ndim - 2))
        return np.take_along_axis(values, index, axis=1)

    return take(weights), take(means), take(covariances), order


@dataclass
class _Replicates:
    """Replicates as fitted (before relabelling), with their flags and what went wrong."""

    weights: list = field(default_factory=list)
    means: list = field(default_factory=list)
    covariances: list = field(default_factory=list)
    converged: list = field(default_factory=list)
    degenerate: list = field(default_factory=list)
    n_iter: list = field(default_factory=list)
    dof: list = field(default_factory=list)
    index: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    caught: list = field(default_factory=list)


def _quiet_fit(estimator: GaussianMixture, X: np.ndarray, weights: Any) -> list:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, sample_weight=weights)
    return list(caught)


def _fit_replicates(fit: GaussianMixture, resamples: Iterator, tol: float) -> _Replicates:
    """One warm EM run per resample (its arrays kept; no labelled data in the loop)."""
    estimator = _warm_copy(fit, tol)
    model = get_covariance_model(fit.result_.covariance_type)
    n_components, n_features = fit.means_.shape
    out = _Replicates()
    for index, (X, weights) in enumerate(resamples):
        try:
            caught = _quiet_fit(estimator, X, weights)
        except (ValueError, np.linalg.LinAlgError) as error:
            out.failures.append(f"{type(error).__name__}: {error}")
            continue
        covariances = np.asarray(estimator.covariances_, dtype=np.float64)
        out.weights.append(np.asarray(estimator.weights_, dtype=np.float64))
        out.means.append(np.asarray(estimator.means_, dtype=np.float64))
        out.covariances.append(np.array(model.to_full(covariances, n_components, n_features)))
        out.converged.append(bool(estimator.converged_))
        out.degenerate.append(bool(estimator.result_.degenerate))
        out.n_iter.append(int(estimator.n_iter_))
        if hasattr(estimator, "dof_"):
            out.dof.append(np.asarray(estimator.dof_, dtype=np.float64))
        out.index.append(index)
        out.caught.extend(caught)
    return out


def _report(what: str, n_tried: int, n_kept: int, failures: list, caught: list) -> None:
    """One warning per category of the replicates' warnings, and one for the failures."""
    if not n_kept:
        raise ValueError(f"All {n_tried} {what} failed; the first: {failures[0]}")
    by_category: dict[type, list[str]] = {}
    for item in caught:
        by_category.setdefault(item.category, []).append(str(item.message))
    for category, texts in by_category.items():
        warnings.warn(
            f"{len(texts)} warning(s) of this kind from {n_tried} {what}; the first: {texts[0]}",
            category,
            stacklevel=3,
        )
    if failures:
        warnings.warn(
            f"{len(failures)} of {n_tried} {what} failed and are left out (the rest are "
            f"kept, so the distribution is conditional on a fit); the first: {failures[0]}",
            DegenerateComponentWarning,
            stacklevel=3,
        )


def _labelled(raw: _Replicates, fit: GaussianMixture, estimate: xr.Dataset) -> xr.Dataset:
    """The replicates numbered as the fit's components, over ``replicate``, with their
    flags as coordinates (a Student-t fit's ``dof`` renumbered with their components)."""
    weights, means, covariances, order = align_replicates(
        fit, np.asarray(raw.weights), np.asarray(raw.means), np.asarray(raw.covariances)
    )
    relabelled = (order != np.arange(order.shape[1])).any(axis=1)
    flags = {"converged": raw.converged, "degenerate": raw.degenerate, "relabelled": relabelled}
    coords = {
        "replicate": np.asarray(raw.index),
        **{name: estimate[name].values for name in ("component", "feature", "feature_bis")},
        **{name: ("replicate", np.asarray(value, dtype=bool)) for name, value in flags.items()},
        "n_iter": ("replicate", np.asarray(raw.n_iter, dtype=np.int64)),
    }
    variables = {
        "weights": (("replicate", "component"), weights),
        "means": (("replicate", "component", "feature"), means),
        "covariances": (("replicate", "component", "feature", "feature_bis"), covariances),
    }
    if raw.dof:
        dof = np.take_along_axis(np.asarray(raw.dof), order, axis=1)
        variables["dof"] = (("replicate", "component"), dof)
    return xr.Dataset(variables, coords=coords)


def _estimate(fit: GaussianMixture) -> xr.Dataset:
    """The fit's weights, means, full covariances and (Student-t) degrees of freedom."""
    estimate = parameter_dataset(fit)
    if fit.result_.dof is not None:
        estimate["dof"] = fit.result_.dof
    return estimate


# ---------------------------------------------------------------------- the result
@dataclass(frozen=True)
class Bootstrap:
    """The replicates of :func:`bootstrap`, and the standard errors and intervals they give.

    Attributes
    ----------
    kind : str
        The resampling scheme (:data:`KINDS`).
    estimate : xarray.Dataset
        The fit's ``weights`` (component), ``means`` (component, feature) and
        ``covariances`` (component, feature, feature_bis, full matrices; a Student-t
        fit's scale matrices), and a Student-t fit's ``dof`` (component).
    replicates : xarray.Dataset
        The same variables with a leading ``replicate`` dim, every replicate's components
        numbered as the fit's. Coordinates along ``replicate``: its number (for the
        jackknife, the row left out), ``converged``, ``degenerate`` (a component
        collapsed), ``relabelled`` (its components came back in another order and
        were put back) and ``n_iter`` (its EM iterations).
    fit : GaussianMixture
        The fit that was resampled.
    tol : float
        The EM tolerance of every replicate (:func:`replicate_tol`).
    n_failed : int
        Replicates whose fit failed (a covariance not positive definite); left out.
    """

    kind: str
    estimate: xr.Dataset
    replicates: xr.Dataset
    fit: Any
    tol: float
    n_failed: int = 0

    @property
    def n_boot(self) -> int:
        """Number of replicates kept."""
        return int(self.replicates.sizes["replicate"])

    @property
    def n_components(self) -> int:
        """Number of components K of the fit."""
        return int(self.estimate.sizes["component"])

    @property
    def n_features(self) -> int:
        """Number of features D."""
        return int(self.estimate.sizes["feature"])

    @property
    def feature_names(self) -> list[str]:
        """The fit's feature names."""
        return [str(name) for name in self.estimate["feature"].values]

    def _parameter_replicates(self) -> xr.Dataset:
        return self.replicates[list(self.estimate.data_vars)].reset_coords(drop=True)

    def standard_errors(self) -> xr.Dataset:
        r"""Standard errors of the weights, means and covariances.

        The standard deviation of the replicates (divisor ``B - 1``); for the
        jackknife :math:`\sqrt{(n-1)/n \sum_i (\theta_{(i)} - \bar\theta)^2}`.

        Returns
        -------
        xarray.Dataset
            Shaped as :attr:`estimate`.
        """
        params = self._parameter_replicates()
        if self.kind == "jackknife":
            return params.std("replicate", ddof=0) * np.sqrt(self.n_boot - 1.0)
        return params.std("replicate", ddof=1)

    def _method(self, method: str | None) -> str:
        if method is None:
            return "normal" if self.kind == "jackknife" else "percentile"
        method = check_option("Bootstrap.intervals", "method", method, ("percentile", "normal"))
        if method == "percentile" and self.kind == "jackknife":
            raise ValueError(
                "Percentile intervals of jackknife replicates are far too narrow (each "
                "leaves out a single row): use method='normal' (estimate +- z se, as mclust), "
                "or a bootstrap kind."
            )
        return method

    def intervals(self, ci_prob: float = 0.95, *, method: str | None = None) -> xr.Dataset:
        """Confidence intervals of the weights, means and covariances.

        Parameters
        ----------
        ci_prob : float, default=0.95
            Coverage of the intervals (mclust's ``conf.level``).
        method : {"percentile", "normal"} or None, default=None
            "percentile": the ``(1 - ci_prob) / 2`` and ``(1 + ci_prob) / 2`` quantiles
            of the replicates, as the ``(B + 1) (1 -+ ci_prob) / 2``-th of the ``B``
            sorted replicates (Davison & Hinkley 1997, interpolated between them: the
            "weibull" method of :func:`numpy.quantile`), so that the interval between
            them covers ``ci_prob`` of the bootstrap law on average whatever ``B`` (the
            default quantiles lose 2 points of a 90 % interval's coverage at B = 99);
            "normal": the estimate plus or minus the normal quantile times the
            standard error. None: "percentile", and "normal" for the
            jackknife (whose replicates are not a sampling distribution).

        Returns
        -------
        xarray.Dataset
            Shaped as :attr:`estimate` with a leading ``bound`` dim ("lower", "upper");
            ``ci_prob`` and ``method`` in its attributes.
        """
        ci_prob = _check_ci_prob("Bootstrap.intervals", ci_prob)
        method = self._method(method)
        tail = (1.0 - ci_prob) / 2.0
        if method == "percentile":
            bounds = self._parameter_replicates().quantile(
                [tail, 1.0 - tail], dim="replicate", method="weibull"
            )
            bounds = bounds.rename(quantile="bound")
        else:
            spread = float(special.ndtri(1.0 - tail)) * self.standard_errors()
            bounds = xr.concat([self.estimate - spread, self.estimate + spread], dim="bound")
        bounds = bounds.assign_coords(bound=["lower", "upper"])
        bounds.attrs.update(ci_prob=ci_prob, method=method, kind=self.kind)
        return bounds

    def summary(self, ci_prob: float = 0.95, *, method: str | None = None) -> pd.DataFrame:
        """One row per parameter: the estimate, its standard error and interval.

        Returns
        -------
        pandas.DataFrame
            Columns ``parameter``, ``component``, ``feature``, ``feature_bis`` (empty
            where not applicable; covariances: upper triangle), ``estimate``, ``se``,
            ``lower``, ``upper``.
        """
        bounds = self.intervals(ci_prob, method=method)
        return parameter_table(
            {
                "estimate": self.estimate,
                "se": self.standard_errors(),
                "lower": bounds.sel(bound="lower", drop=True),
                "upper": bounds.sel(bound="upper", drop=True),
            }
        )

    def draws(self) -> xr.Dataset:
        """The replicates as :meth:`MixtureResult.draws` gives draws: chain 0, one draw each.

        Returns
        -------
        xarray.Dataset
            ``weights`` (chain, draw, component), ``means`` (chain, draw, component,
            feature), ``covariances`` (chain, draw, component, feature, feature_bis);
            for a Student-t fit also ``dof`` (chain, draw, component).
        """
        params = self._parameter_replicates().rename(replicate="draw")
        params = params.assign_coords(draw=np.arange(self.n_boot)).expand_dims(chain=[0])
        return params.transpose("chain", "draw", ...)

    def as_result(self) -> Any:
        """The fit as a :class:`~bayesgmm.MixtureResult` whose "posterior" draws are the
        replicates, for the tools that read draws (:mod:`bayesgmm.risk`, the plots).

        Their intervals are then bootstrap percentile intervals, though those tools call
        them credible intervals. ``method`` is ``"bootstrap_<kind>"``.
        """
        import arviz as az

        from .result import MixtureResult

        model = get_covariance_model(self.fit.result_.covariance_type)
        draws = self.draws()
        native = model.from_full(draws["covariances"].values)
        posterior = draws.drop_vars("covariances").assign(
            covariances=(("chain", "draw", *model.dims), native)
        )
        posterior.attrs.update(inference_library="bayesgmm.bootstrap", bootstrap_kind=self.kind)
        result = self.fit.result_
        return MixtureResult(
            family=result.family,
            dof=None if result.dof is None else result.dof.values,
            estimate_dof=result.estimate_dof,
            weights=result.weights.values,
            means=result.means.values,
            covariances=np.asarray(self.fit.covariances_, dtype=np.float64),
            covariance_type=result.covariance_type,
            feature_names=getattr(self.fit, "feature_names_in_", None),
            log_likelihood_=result.log_likelihood_,
            converged=result.converged,
            reg_covar=result.reg_covar,
            method=f"bootstrap_{self.kind}",
            posterior=az.InferenceData(posterior=posterior),
        )

    def plot(self, X: Any = None, **kwargs: Any) -> Any:
        """Ellipses of the replicates; see :func:`bayesgmm.plot.plot_bootstrap`."""
        from .plot import plot_bootstrap

        return plot_bootstrap(self, X, **kwargs)

    def __repr__(self) -> str:
        flags = self.replicates.coords
        return (
            f"Bootstrap({self.kind}, {self.n_boot} replicates of a {self.n_components}-component "
            f"{self.fit.result_.covariance_type!r} fit; {int(flags['relabelled'].sum())} "
            f"relabelled, {int((~flags['converged']).sum())} not converged, "
            f"{int(flags['degenerate'].sum())} degenerate, {self.n_failed} failed)\n"
            + self.summary().to_string(index=False, float_format=lambda v: f"{v:.4g}")
        )


def bootstrap(
    fit: GaussianMixture,
    X: Any,
    *,
    kind: str = "nonparametric",
    n_boot: int | None = None,
    sample_weight: Any = None,
    tol: float | None = None,
    random_state: Any = None,
) -> Bootstrap:
    """Bootstrap an EM fit: standard errors and intervals of its parameters.

    Parameters
    ----------
    fit : GaussianMixture
        A fitted estimator; every replicate is fitted with its settings
        (``covariance_type``, ``reg_covar``, ``max_iter``, ``dtype``, ``engine``).
    X : array-like or DataFrame of shape (n_samples, n_features)
        The data ``fit`` was fitted to (checked: its mean log-likelihood must be the
        fit's ``lower_bound_``).
    kind : {"nonparametric", "weighted", "parametric", "jackknife"}, default="nonparametric"
        "nonparametric": rows resampled with replacement (multinomial counts as
        sample weights); "weighted": each row weighted by an exponential draw (the
        weighted likelihood bootstrap); "parametric": ``n_samples`` rows drawn from the
        fit; "jackknife": one refit per row, leaving it out.
    n_boot : int or None, default=None
        Replicates: 999 when None. Must be None for the jackknife (one per row).
    sample_weight : array-like of shape (n_samples,), default=None
        The weights the fit was fitted with. Rows keep them, times their resampling
        weight; the parametric bootstrap cannot use them.
    tol : float or None, default=None
        EM tolerance of a replicate; None: :func:`replicate_tol` (tighter than the
        fit's, so replicates are not stopped short of their optimum).
    random_state : int, Generator or None, default=None

    Returns
    -------
    Bootstrap
        ``standard_errors()``, ``intervals(ci_prob)``, ``summary()``, the
        ``replicates``, ``draws()`` and ``as_result()`` for the tools that read draws.

    Notes
    -----
    Every replicate is one EM run from the fit's parameters (``weights_init``,
    ``means_init``, ``precisions_init``), with its components numbered as the fit's by
    :func:`~bayesgmm.comparison.component_order`. Starting there finds the replicate's
    optimum near the fit, which is what the sampling distribution of the fit's estimate
    is about, but not optima elsewhere. Replicates that warn (did not converge, a
    collapsed component) are kept and flagged, with one warning per kind; replicates
    whose fit fails are left out, with a warning.

    A Student-t fit (``family="t"``) is bootstrapped with its degrees of freedom:
    each replicate's ``dof`` are renumbered with its components. Estimated dof start
    each replicate from the estimator's ``DOF_START`` (GaussianMixture has no initial
    value for them), the other parameters from the fit; a component whose dof head
    for the Gaussian limit crawls there, as the fit itself did (ConvergenceWarning).

    Examples
    --------
    >>> from bayesgmm import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)) * [1.0, 2.0]
    >>> fit = GaussianMixture(1, random_state=0).fit(X)
    >>> boot = bootstrap(fit, X, n_boot=200, random_state=0)
    >>> se = boot.standard_errors()["means"].values[0]
    >>> ratio = se / np.sqrt(np.diag(fit.covariances_[0]) / 400)  # about Sigma / n
    >>> bool(np.all(np.abs(ratio - 1) < 0.2))  # within 4 Monte Carlo sds (5 % each)
    True
    """
    kind = check_option("bootstrap", "kind", kind, KINDS)
    fit = _check_fit(fit, "bootstrap")
    if kind == "parametric" and sample_weight is not None:
        raise ValueError(
            "The parametric bootstrap draws new, unweighted rows from the fit, so it cannot "
            "use sample_weight: use kind='nonparametric' or 'weighted' for a weighted fit."
        )
    X, weights = _check_data(fit, X, sample_weight, "bootstrap")
    n_boot = _check_n_boot(kind, n_boot, X.shape[0])
    if tol is None:
        rows = weights.sum() ** 2 / (weights**2).sum()  # Kish's effective number of rows
        tol = replicate_tol(fit.result_.n_parameters, rows, kind, fit.lower_bound_, fit.tol)
    else:
        tol = check_float("bootstrap", "tol", tol, 0.0)
    rng = check_random_state(random_state)
    # BLAS held at one thread for the whole loop (a replicate's matrices are small), so
    # each fit reads the held thread count instead of setting the limit again
    with single_threaded_blas():
        raw = _fit_replicates(fit, _resamples(kind, X, weights, fit, n_boot, rng), tol)
    _report("bootstrap replicates", n_boot, len(raw.index), raw.failures, raw.caught)
    estimate = _estimate(fit)
    replicates = _labelled(raw, fit, estimate)
    return Bootstrap(kind, estimate, replicates, fit, tol, len(raw.failures))


# ---------------------------------------------------------------------- the LRT for K
@dataclass(frozen=True)
class LikelihoodRatioTest:
    """The outcome of :func:`bootstrap_lrt`: K against K + 1 components.

    Attributes
    ----------
    n_components : int
        K, the number of components under the null hypothesis.
    covariance_type : str
    statistic : float
        ``2 (log L_{K+1} - log L_K)`` on the data (total log-likelihoods).
    p_value : float
        ``(1 + #{replicate statistics >= statistic}) / (B + 1)``, as mclust computes it.
    replicates : ndarray of shape (B,)
        The statistic on each of the ``B`` data sets drawn from the K-component fit.
    null_fit, alternative_fit : GaussianMixture
        The fits with K and K + 1 components.
    n_failed : int
        Replicates left out because a fit failed.
    """

    n_components: int
    covariance_type: str
    statistic: float
    p_value: float
    replicates: np.ndarray
    null_fit: Any
    alternative_fit: Any
    n_failed: int = 0

    @property
    def n_boot(self) -> int:
        """Number of replicate statistics."""
        return len(self.replicates)

    def plot(self, **kwargs: Any) -> Any:
        """The replicates' statistics and the observed one; see
        :func:`bayesgmm.plot.plot_bootstrap_lrt`."""
        from .plot import plot_bootstrap_lrt

        return plot_bootstrap_lrt(self, **kwargs)

    def __repr__(self) -> str:
        k = self.n_components
        return (
            f"LikelihoodRatioTest({k} vs {k + 1} components, {self.covariance_type!r}: "
            f"statistic {self.statistic:.4g}, p-value {self.p_value:.4g} from "
            f"{self.n_boot} parametric bootstrap replicates"
            + (f", {self.n_failed} failed" if self.n_failed else "")
            + ")"
        )


def _alternative(fit: GaussianMixture, X: Any, alternative: Any) -> GaussianMixture:
    """The (K + 1)-component fit: ``alternative`` checked, or fitted with the fit's settings."""
    k = len(fit.weights_)
    if alternative is None:
        params = {
            **fit.get_params(),
            "n_components": k + 1,
            "weights_init": None,
            "means_init": None,
            "precisions_init": None,
            "warm_start": False,
        }
        return type(fit)(**params).fit(X)
    alternative = _check_fit(alternative, "bootstrap_lrt")
    same_type = alternative.result_.covariance_type == fit.result_.covariance_type
    if len(alternative.weights_) != k + 1 or not same_type:
        raise ValueError(
            f"alternative must be a fit with {k + 1} components and covariance_type="
            f"{fit.result_.covariance_type!r}, as the null fit's; got "
            f"{len(alternative.weights_)} components, {alternative.result_.covariance_type!r}."
        )
    _check_data(alternative, X, None, "bootstrap_lrt")
    return alternative


def _observed(fit: GaussianMixture, X: Any, data: np.ndarray, alternative: Any) -> tuple:
    """The (K + 1)-component fit (the better of ``alternative`` and the runs from the
    splits of ``fit``, as the replicates' refits) and the statistic on the data."""
    alternative = _alternative(fit, X, alternative)  # on X as given: its names are checked
    split = _best_refit(alternative, split_starts(fit), data)
    given = (not alternative.result_.degenerate, alternative.result_.log_likelihood(data))
    if split is not None and (True, split[1]) > given:
        logger.info("EM from a split of the null fit beats the alternative fit; it is used")
        alternative = split[0]
    log_likelihoods = [model.result_.log_likelihood(data) for model in (fit, alternative)]
    return alternative, 2.0 * (log_likelihoods[1] - log_likelihoods[0])


def split_starts(fit: GaussianMixture) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Starts with K + 1 components from a K-component fit, one per component split in two.

    Component k becomes two with half its weight each, its covariance, and means one
    standard deviation either side of its mean along its major axis.

    Returns
    -------
    list of (weights, means, precisions)
        ``precisions`` shaped as the fit's ``precisions_`` (one more component, except
        for a covariance shared by all components).

    Examples
    --------
    >>> from bayesgmm import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(200, 1)) * 2.0
    >>> weights, means, _ = split_starts(GaussianMixture(1).fit(X))[0]
    >>> weights, np.round(means.ravel(), 1)
    (array([0.5, 0.5]), array([-1.9,  2. ]))
    """
    weights, means, precisions = _start_of(fit)
    n_components, n_features = means.shape
    model = get_covariance_model(fit.result_.covariance_type)
    full = model.to_full(np.asarray(fit.covariances_, dtype=np.float64), n_components, n_features)
    values, vectors = np.linalg.eigh(full)
    per_component = model.dims[0] == "component"
    starts = []
    for k in range(n_components):
        shift = np.sqrt(values[k, -1]) * vectors[k, :, -1]
        split_means = np.insert(means, k + 1, means[k] + shift, axis=0)
        split_means[k] -= shift
        split_weights = np.insert(weights, k + 1, weights[k] / 2.0)
        split_weights[k] /= 2.0
        split_precisions = (
            np.insert(precisions, k + 1, precisions[k], axis=0) if per_component else precisions
        )
        starts.append((split_weights, split_means, split_precisions))
    return starts


def _best_refit(template: GaussianMixture, starts: list, X: np.ndarray) -> tuple:
    """The best of one EM run from each start (non-degenerate first, then likelihood).

    Returns the fitted estimator, its total log-likelihood and its warnings, or None when
    every run failed or degenerated.
    """
    best, best_key = None, None
    for start in starts:
        estimator = _warm_copy(template, start=start)
        try:
            caught = _quiet_fit(estimator, X, None)
        except (ValueError, np.linalg.LinAlgError):
            continue
        key = (not estimator.result_.degenerate, estimator.result_.log_likelihood(X))
        if best_key is None or key > best_key:
            best, best_key = (estimator, key[1], caught), key
    return best if best_key is not None and best_key[0] else None


def _replicate_statistics(
    null: GaussianMixture, alternative: GaussianMixture, n_rows: int, n_boot: int, rng: Any
) -> tuple[list[float], list[str], list]:
    """The statistic on ``n_boot`` data sets drawn from the null fit: the K-component
    refit starts from the null fit; the (K + 1)-component one is the best of the runs from
    the alternative fit and from the splits of the K-component refit."""
    statistics, failures, caught = [], [], []
    for _ in range(n_boot):
        X = null.result_.sample(n_rows, random_state=rng).astype(null.means_.dtype)
        null_refit = _best_refit(null, [_start_of(null)], X)
        if null_refit is None:
            failures.append(f"the {len(null.weights_)}-component refit failed or degenerated")
            continue
        starts = [_start_of(alternative), *split_starts(null_refit[0])]
        alternative_refit = _best_refit(alternative, starts, X)
        if alternative_refit is None:
            failures.append(
                f"every {len(alternative.weights_)}-component refit failed or degenerated"
            )
            continue
        statistics.append(2.0 * (alternative_refit[1] - null_refit[1]))
        caught += null_refit[2] + alternative_refit[2]
    return statistics, failures, caught


def bootstrap_lrt(
    fit: GaussianMixture,
    X: Any,
    *,
    alternative: GaussianMixture | None = None,
    n_boot: int = 999,
    random_state: Any = None,
) -> LikelihoodRatioTest:
    """Bootstrap likelihood-ratio test of K components against K + 1.

    The statistic ``2 (log L_{K+1} - log L_K)`` has no chi-square law for mixtures
    (the null lies on the boundary of the alternative), so its law under the null is
    simulated: ``n_boot`` data sets of ``n_samples`` rows are drawn from the K-component
    fit and both models refitted to each (McLachlan 1987; mclust's
    ``mclustBootstrapLRT``).

    Parameters
    ----------
    fit : GaussianMixture
        The fit with K components (the null hypothesis).
    X : array-like or DataFrame of shape (n_samples, n_features)
        The data ``fit`` was fitted to.
    alternative : GaussianMixture or None, default=None
        The fit with K + 1 components and the same covariance type; None fits one with
        ``fit``'s settings (its default starts).
    n_boot : int, default=999
    random_state : int, Generator or None, default=None

    Returns
    -------
    LikelihoodRatioTest
        ``statistic``, ``p_value``, the ``replicates``' statistics and both fits.

    Notes
    -----
    The refits of a replicate are single EM runs: the K-component one from the
    K-component fit, the (K + 1)-component one from the alternative fit (as mclust)
    and from each split of the replicate's K-component refit (:func:`split_starts`);
    the best non-degenerate run is kept. A warm start alone can miss the replicate's
    optimum (a component of the alternative fit may find nothing to fit in the new
    data and collapse), which would make the statistic small and the p-value too
    small; the split starts find it. The observed statistic takes the better of the
    alternative fit and the runs from the splits of ``fit`` alike. Replicates whose
    refits all fail or degenerate are left out (``n_failed``), with a warning.
    ``tests/test_bootstrap.py`` measures the size of the test at nominal levels.

    To choose K as mclust does, test 1 against 2, 2 against 3, ... and stop at the
    first p-value above the level.

    Examples
    --------
    >>> from bayesgmm import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (150, 1)), rng.normal(3, 1, (150, 1))])
    >>> fit = GaussianMixture(1, random_state=0).fit(X)
    >>> test = bootstrap_lrt(fit, X, n_boot=49, random_state=0)
    >>> test.p_value  # 2 components are clearly better: no replicate reaches the statistic
    0.02
    """
    fit = _check_fit(fit, "bootstrap_lrt")
    n_boot = check_int("bootstrap_lrt", "n_boot", n_boot, 1)
    data, _ = _check_data(fit, X, None, "bootstrap_lrt")
    rng = check_random_state(random_state)
    # BLAS held at one thread throughout, as in bootstrap()
    with single_threaded_blas():
        alternative, statistic = _observed(fit, X, data, alternative)
        statistics, failures, caught = _replicate_statistics(
            fit, alternative, len(data), n_boot, rng
        )
    _report("bootstrap likelihood-ratio replicates", n_boot, len(statistics), failures, caught)
    replicates = np.asarray(statistics)
    p_value = (1.0 + np.sum(replicates >= statistic)) / (len(replicates) + 1.0)
    return LikelihoodRatioTest(
        len(fit.weights_),
        fit.result_.covariance_type,
        float(statistic),
        float(p_value),
        replicates,
        fit,
        alternative,
        len(failures),
    )
