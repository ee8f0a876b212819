"""The EM engine over chunked sufficient statistics, and the GaussianMixture estimator.

One pass over the rows does the E-step of the current parameters and collects the
M-step's sufficient statistics (``nk``, ``sum r x``, a second-order term) at once,
block by block. Blocks of an in-memory array and chunks of a dask array go through
the same :func:`block_statistics`, so a dask cluster runs the same code.

Rows are shifted by the data's weighted mean before any statistic is formed, so
data far from the origin (offset 1e6 or 1e8) keep their accuracy.

Stopping rule
-------------
EM stops when both the last gain in mean log-likelihood per observation and the
gain still to come, projected by Aitken acceleration (as mclust does), are below
``tol``. With ``tol=1e-6`` this reaches the optimum where scikit-learn's default
(``tol=1e-3`` on the last gain alone) stops early on slowly converging data.
"""

from __future__ import annotations

import functools
import logging
import numbers
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import _blocks, gaussian
from ..base import MixtureEstimator
from ..covariance import COVARIANCE_TYPES, CovarianceType, get_covariance_type
from ..data import (
    check_features,
    check_float,
    check_int,
    check_option,
    check_random_state,
    check_sample_weight,
    check_X,
    is_dask_array,
)
from ..exceptions import ConvergenceWarning, DegenerateComponentWarning, sklearn_compatible
from ..init import INIT_METHODS, initial_responsibilities

__all__ = [
    "GaussianMixture",
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "MixtureParameters",
    "SufficientStatistics",
    "block_statistics",
]

logger = logging.getLogger(__name__)

#: A component whose standardised covariance has an eigenvalue below this, or a
#: standard deviation below 1/20 of the step of the grid the data sit on (whole
#: minutes, say), is degenerate: its points share one value of that feature.
DEGENERATE_EIGENVALUE = 1e-4
#: Starts of the default ``n_init="auto"`` with ``init_params="kmeans"``: two
#: deterministic hierarchical ones (as mclust) and k-means / k-means++ seeds.
#: Their number falls from AUTO_MAX_STARTS to AUTO_MIN_STARTS as the work of one
#: iteration (rows x K x D, rows capped at SCREEN_ROWS) grows past AUTO_BUDGET.
AUTO_MIN_STARTS = 10
AUTO_MAX_STARTS = 40
AUTO_BUDGET = 4_000_000
#: The default starts run at most SCREEN_ITERATIONS iterations, on at most SCREEN_ROWS
#: rows (a sample of larger data); the best SCREEN_KEEP continue to convergence.
SCREEN_ITERATIONS = 100
#: Problems with rows x K x D up to this run every default start to convergence.
FULL_RUN_WORK = 10_000
SCREEN_ROWS = 20_000
SCREEN_KEEP = 5
#: Starts on data that make one block of features run whole in compiled code
#: (:mod:`bayesgmm._compiled_em`); False runs every start through the block engine.
COMPILED_RUNS = True
#: Rows looked at to detect a feature recorded on a grid (tied values).
RESOLUTION_ROWS = 10_000


@dataclass(frozen=True)
class MixtureParameters:
    """Parameters of a mixture in the engine's shifted coordinates."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    prec_chol: np.ndarray


@dataclass(frozen=True)
class SufficientStatistics:
    """Sums over rows that the M-step needs, plus the log-likelihood of the E-step."""

    log_likelihood: float
    total_weight: float
    nk: np.ndarray
    sx: np.ndarray
    second: np.ndarray

    def __add__(self, other: SufficientStatistics) -> SufficientStatistics:
        return SufficientStatistics(
            self.log_likelihood + other.log_likelihood,
            self.total_weight + other.total_weight,
            self.nk + other.nk,
            self.sx + other.sx,
            self.second + other.second,
        )


def _statistics_from_resp(
    X: np.ndarray, resp: np.ndarray, kind: CovarianceType, log_likelihood: float = 0.0
) -> SufficientStatistics:
    return SufficientStatistics(
        log_likelihood,
        float(resp.sum()),
        resp.sum(axis=0),
        resp.T @ X,
        kind.second_moment(X, resp),
    )


def _kernel(X: Any, shift: np.ndarray, params: MixtureParameters, kind) -> _blocks.BlockKernel:
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    return _blocks.BlockKernel(
        kind.name, params.weights, params.means, params.prec_chol, shift, dtype
    )


def _finish(
    kernel: _blocks.BlockKernel,
    log_likelihood: float,
    T: np.ndarray,
    data_second: np.ndarray | None,
    params: MixtureParameters,
) -> SufficientStatistics:
    """Statistics from the summed features ``T`` (K, P) of a pass (or of one block)."""
    n_features = kernel.n_features
    q = kernel.n_quadratic
    nk = T[:, -1].copy()
    total_weight = float(nk.sum())
    second = kernel.features.second(T, n_features)
    if kernel.features.uses_data_moment:  # tied: x^T Lambda x and the constant, through S
        prec_chol = params.prec_chol
        log_det = float(np.log(np.diagonal(prec_chol)).sum())
        quadratic = float(np.sum((prec_chol.T @ data_second) * prec_chol.T))  # tr(P^T S P)
        log_likelihood += total_weight * (log_det - 0.5 * n_features * gaussian.LOG_2PI)
        log_likelihood -= 0.5 * quadratic
        second = data_second
    return SufficientStatistics(
        log_likelihood, total_weight, nk, np.ascontiguousarray(T[:, q : q + n_features]), second
    )


def block_statistics(
    X: np.ndarray,
    weights: np.ndarray,
    shift: np.ndarray,
    params: MixtureParameters,
    kind: CovarianceType,
) -> SufficientStatistics:
    """E-step on one block of rows, fused with the M-step's sufficient statistics.

    The in-memory pass and the dask pass both run the same kernel
    (:class:`bayesgmm._blocks.BlockKernel`) on their blocks; this function is that
    kernel on one block, with everything the M-step needs.

    Parameters
    ----------
    X : ndarray of shape (B, D)
        Rows in the data's own coordinates.
    weights : ndarray of shape (B,)
        Frequency weights of the rows.
    shift : ndarray of shape (D,)
        Point subtracted from the rows (the data's mean).
    params : MixtureParameters
        Current parameters in shifted coordinates.
    kind : CovarianceType

    Returns
    -------
    SufficientStatistics
    """
    X = np.asarray(X)
    kernel = _kernel(X, shift, params, kind)
    log_likelihood, T = kernel(X, weights)
    data_second = None
    if kernel.features.uses_data_moment:
        data_second = _blocks._block_second_moment(X, weights, shift)
    return _finish(kernel, log_likelihood, T, data_second, params)


def _row_blocks(
    n_samples: int, n_columns: int, dtype: Any = np.float64, workers: int = 1
) -> list[slice]:
    """Blocks of rows for the in-memory pass (see :func:`bayesgmm._blocks.row_blocks`)."""
    return _blocks.row_blocks(n_samples, n_columns, dtype, workers)


def _collect(X: Any, weights: Any, shift: np.ndarray, params, kind) -> SufficientStatistics:
    """One E-step fused with the M-step's statistics over all rows of X.

    In-memory data: the kernel runs on row blocks spread over threads (BLAS at one
    thread inside); dask data: on each chunk, as dask tasks. Parts are summed in
    float64 in block order, so the result does not depend on the thread count.
    """
    kernel = _kernel(X, shift, params, kind)
    if is_dask_array(X):
        import dask

        X = X.rechunk({1: -1})
        parts = [
            dask.delayed(kernel)(block, weight)
            for block, weight in zip(
                X.to_delayed().ravel(), weights.to_delayed().ravel(), strict=True
            )
        ]
        with _blocks.single_threaded_blas():
            parts = dask.compute(*parts)
    else:
        workers = _blocks.n_threads()
        n_columns = kernel.n_columns + len(params.weights)
        blocks = _row_blocks(X.shape[0], n_columns, kernel.dtype, workers)
        parts = _blocks.map_blocks(lambda rows: kernel(X[rows], weights[rows]), blocks, workers)
    log_likelihood = float(sum(part[0] for part in parts))
    T = parts[0][1].copy()
    for part in parts[1:]:
        T += part[1]
    data_second = None
    if kernel.features.uses_data_moment:
        data_second = _blocks.data_second_moment(X, weights, shift)
    return _finish(kernel, log_likelihood, T, data_second, params)


def _maximise(
    stats: SufficientStatistics, kind: CovarianceType, reg: np.ndarray
) -> MixtureParameters:
    nk = stats.nk + 10 * np.finfo(np.float64).eps
    means = stats.sx / nk[:, None]
    covariances = kind.estimate(stats.second, nk, means, reg)
    weights = nk / nk.sum()
    prec_chol = kind.precision_cholesky(covariances, weights)
    return MixtureParameters(weights, means, covariances, prec_chol)


@functools.cache
def _compiled_runs() -> Any:
    """:mod:`bayesgmm._compiled_em`, or None where numba cannot set it up (then every
    start runs through the block engine, as :func:`bayesgmm._blocks._compiled` says)."""
    if _blocks._compiled() is None:
        return None
    try:
        from .. import _compiled_em
    except Exception as error:  # pragma: no cover - numba is a dependency
        logger.warning("EM runs small data through the block engine (slower): %s", error)
        return None
    return _compiled_em


def _fits_compiled_run(X: Any, params: MixtureParameters, kind: CovarianceType) -> bool:
    """Whether one start runs whole in compiled code (:mod:`bayesgmm._compiled_em`):
    in-memory data that make one block of features, finite parameters, numba present."""
    if is_dask_array(X) or not COMPILED_RUNS or _blocks._compiled() is None:
        return False  # (_blocks._compiled is what tests switch off for the numpy path)
    if _compiled_runs() is None:
        return False
    n_components, n_features = params.means.shape
    if kind.name == "full" and n_features > _blocks.STACKED_FEATURES:
        return False
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    features = _blocks.FEATURE_MAPS[kind.name].n_quadratic(n_features) + n_features + 1
    columns = features + n_components
    finite = all(np.isfinite(value).all() for value in (params.means, params.prec_chol))
    return finite and len(_row_blocks(X.shape[0], columns, dtype)) == 1


def _compiled_run(
    X: np.ndarray,
    weights: np.ndarray,
    params: MixtureParameters,
    shift: np.ndarray,
    kind: CovarianceType,
    reg: np.ndarray,
    options: dict[str, Any],
) -> tuple[MixtureParameters, list[float], bool, int]:
    """One start's EM in one compiled call: the block engine's iterations, without the
    Python work per iteration (parameters, history, convergence, iteration count)."""
    from ..covariance import _not_positive_definite

    compiled = _compiled_runs()
    n_components, n_features = params.means.shape
    name = kind.name
    layout = functools.partial(
        compiled.to_layout, name, n_components=n_components, n_features=n_features
    )
    weights_now = np.array(params.weights, dtype=np.float64, order="C")
    means = np.array(params.means, dtype=np.float64, order="C")
    covariances = layout(params.covariances)
    prec_chol = layout(params.prec_chol)
    X = np.asarray(X)
    data_second = _blocks.data_second_moment(X, weights, shift) if name == "tied" else None
    history, n_iter, converged, failed = compiled.run(
        name, X, weights, shift, data_second, reg, weights_now, means, covariances,
        prec_chol, options["max_iter"], options["tol"],
    )  # fmt: skip
    if failed != -1:
        component = None if failed == -2 else failed
        weight = None if component is None else float(weights_now[component])
        raise _not_positive_definite(component, weight)
    covariances = compiled.from_layout(name, covariances)
    prec_chol = compiled.from_layout(name, prec_chol)
    params = MixtureParameters(weights_now, means, covariances, prec_chol)
    return params, history.tolist(), converged, n_iter


@dataclass
class _Run:
    params: MixtureParameters
    history: list[float]
    converged: bool
    n_iter: int
    degenerate: list[str]
    start: str = ""


def aitken_converged(history: Any, n_values: int, tol: float) -> bool:
    """Last gain and Aitken-projected remaining gain both below ``tol`` (per observation).

    ``history`` holds at least ``n_values`` mean log-likelihoods, oldest first (a list
    or an array: :mod:`bayesgmm._compiled_em` compiles this same function).
    """
    if tol <= 0 or n_values < 2:
        return False
    gain = history[n_values - 1] - history[n_values - 2]
    if gain < 0:
        return True  # at the optimum to rounding
    if gain >= tol:
        return False
    if n_values < 3:
        return False
    previous = history[n_values - 2] - history[n_values - 3]
    if previous <= 0:
        return True
    rate = gain / previous
    if rate >= 1:
        return False
    return gain * rate / (1.0 - rate) < tol


def _aitken_limit(history: list[float]) -> float:
    """The log-likelihood a run is heading for, by Aitken's projection of its last steps.

    Used to rank starts that have not converged yet: a slowly climbing start can end
    above one that is higher now but already flat.
    """
    if len(history) < 3:
        return history[-1]
    gain = history[-1] - history[-2]
    previous = history[-2] - history[-3]
    if gain <= 0 or previous <= 0:
        return history[-1]
    rate = gain / previous
    if rate >= 1:
        return history[-1]
    return history[-1] + gain * rate / (1.0 - rate)


def _data_grid_step(X: Any, weights: Any) -> np.ndarray:
    """Per feature, the step of the grid the values sit on (0 when they are continuous).

    Looks at a fixed sample of rows with its own seed, so the random stream of the
    starts does not depend on it.
    """
    rng = np.random.default_rng(0)
    n_samples = X.shape[0]
    rows = np.sort(rng.choice(n_samples, size=min(n_samples, RESOLUTION_ROWS), replace=False))
    sample = np.asarray(X[rows], dtype=np.float64)
    sample_weights = np.asarray(weights[rows])
    sample = sample[sample_weights > 0]
    steps = np.zeros(X.shape[1])
    for feature in range(X.shape[1]):
        values = np.unique(sample[:, feature])
        if len(values) > 1 and len(values) <= 0.5 * len(sample):
            steps[feature] = np.diff(values).min()
    return steps


class GaussianMixture(MixtureEstimator):
    """Gaussian mixture model fitted by expectation-maximisation.

    A drop-in for :class:`sklearn.mixture.GaussianMixture` (same parameters, methods
    and fitted attributes) with defaults that reach the optimum: several starts
    including a deterministic hierarchical one, a stopping rule that does not stop
    early, a variance floor relative to the data's scale, and warnings when a
    component collapses.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components K.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        "full": one full covariance per component; "tied": one full covariance
        shared by all; "diag": one diagonal covariance per component;
        "spherical": one variance per component.
    tol : float, default=1e-6
        Convergence threshold on the mean log-likelihood per observation: EM stops
        when both the last gain and the gain still to come (Aitken's projection)
        fall below ``tol``. scikit-learn's ``tol=1e-3`` on the last gain alone
        stops early on slowly converging data.
    reg_covar : float, default=1e-6
        Added to the variances, as a fraction of each feature's variance in the
        data (scale-free; scikit-learn adds it in absolute units). Keeps every
        covariance positive definite.
    max_iter : int, default=1000
        Most EM iterations per start.
    n_init : int or "auto", default="auto"
        Number of starts; the best (non-degenerate first, then highest likelihood)
        is kept. "auto" with ``init_params="kmeans"`` runs two deterministic Ward
        agglomerations (on SVD-whitened and on standardised data, as mclust starts)
        and k-means from greedy k-means++ seeds: 40 starts in all on small problems,
        falling to 10 as rows x K x D grows. On small problems (rows x K x D up to
        10,000) every start runs to convergence; on larger ones every start runs up
        to 100 iterations (on a sample of 20,000 rows when the data are larger) and
        the best 5 run on all rows to convergence. "auto" means one start for
        the other methods or when initial parameters are given. An integer runs
        that many starts to convergence (for "kmeans", the first is Ward's).
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        How starting responsibilities are made.
    weights_init : array-like of shape (K,), default=None
        User-provided initial weights.
    means_init : array-like of shape (K, D), default=None
        User-provided initial means.
    precisions_init : array-like, default=None
        User-provided initial precisions (inverse covariances), shaped as
        ``covariances_`` for the covariance type.
    random_state : int, numpy Generator or None, default=None
        Seed of the starts and of :meth:`sample`.
    warm_start : bool, default=False
        Start the next ``fit`` from the current solution (one start).
    dtype : {None, "float32", "float64"}, default=None
        Working precision of the fit. None fits float32 data in float32 and everything
        else in float64. "float32" makes the E-step's arithmetic single precision (1.5-2x
        faster in ``benchmarks/bench_em.py``; sums, parameters and the lower bound stay
        float64, the lower bound within 1e-6 relative of a float64 fit); "float64" fits
        float32 data in double precision. Prediction always runs in float64.
    verbose : int, default=0
        Log progress at INFO level on the ``bayesgmm`` logger (1: per start,
        2: per iteration).
    verbose_interval : int, default=10
        Iterations between messages at ``verbose=2``.

    Attributes
    ----------
    weights_ : ndarray of shape (K,)
    means_ : ndarray of shape (K, D)
    covariances_ : ndarray
        Shape per type: full (K, D, D), tied (D, D), diag (K, D), spherical (K,).
    precisions_ : ndarray
        Inverse covariances, shaped as ``covariances_``.
    precisions_cholesky_ : ndarray
        Cholesky factors of the precisions (upper triangular; inverse standard
        deviations for diag and spherical).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Weighted mean log-likelihood of the training data at the fitted parameters.
    lower_bounds_ : list of float
        Mean log-likelihood at each iteration of the best start.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X was a DataFrame with string column names.
    result_ : MixtureResult
        The shared, labelled result object.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (100, 2)), rng.normal(3, 1, (100, 2))])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.sort(gm.means_[:, 0]).round(1)
    array([-3.,  3.])
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-6,
        reg_covar: float = 1e-6,
        max_iter: int = 1000,
        n_init: int | str = "auto",
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        dtype: str | None = None,
        verbose: int = 0,
        verbose_interval: int = 10,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.dtype = dtype
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # ------------------------------------------------------------------ sklearn API
    def __sklearn_tags__(self):  # pragma: no cover - only called by scikit-learn
        from sklearn.base import BaseEstimator, DensityMixin

        class _Tagged(DensityMixin, BaseEstimator):
            pass

        tags = _Tagged().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------------------------ fitting
    def _check_parameters(self) -> dict[str, Any]:
        name = type(self).__name__
        checked = {
            "n_components": check_int(name, "n_components", self.n_components, 1),
            "covariance_type": check_option(
                name, "covariance_type", self.covariance_type, COVARIANCE_TYPES
            ),
            "tol": check_float(name, "tol", self.tol, 0.0),
            "reg_covar": check_float(name, "reg_covar", self.reg_covar, 0.0),
            "max_iter": check_int(name, "max_iter", self.max_iter, 1),
            "init_params": check_option(name, "init_params", self.init_params, INIT_METHODS),
            "verbose": check_int(name, "verbose", self.verbose, 0),
            "verbose_interval": check_int(name, "verbose_interval", self.verbose_interval, 1),
        }
        checked["dtype"] = None if self.dtype is None else _check_dtype(name, self.dtype)
        if self.n_init == "auto":
            checked["n_init"] = "auto"
        elif isinstance(self.n_init, numbers.Integral) and not isinstance(self.n_init, bool):
            checked["n_init"] = check_int(name, "n_init", self.n_init, 1)
        else:
            raise (TypeError if not isinstance(self.n_init, str) else ValueError)(
                f"The 'n_init' parameter of {name} must be an int in the range [1, inf) or "
                f"'auto'. Got {self.n_init!r} instead."
            )
        return checked

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GaussianMixture:
        """Estimate the model parameters with EM.

        Parameters
        ----------
        X : array-like, DataFrame or dask array of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Frequency weights: an integer weight counts a row that many times (the
            same fit as repeating it); zero drops the row. Survey or time-decay
            weights work the same way (they scale each row's log-likelihood).

        Returns
        -------
        self : GaussianMixture
        """
        options = self._check_parameters()
        n_components = options["n_components"]
        data = check_X(X, estimator=type(self).__name__, min_samples=2, dtype=options["dtype"])
        X = data.X
        n_samples, n_features = X.shape
        weights = self._weights_for(X, sample_weight)
        if n_samples < n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = {n_components}, "
                f"n_samples = {n_samples}. Use at most {n_samples} components or more data."
            )
        kind = get_covariance_type(options["covariance_type"])
        user = self._check_initial_values(n_components, n_features, kind)
        rng = check_random_state(self.random_state)
        if self.verbose:
            _ensure_log_handler()

        shift, variance = _weighted_moments(X, weights)
        check_features(
            X,
            weights,
            variance,
            n_components=n_components,
            covariance_type=options["covariance_type"],
            feature_names=data.feature_names,
            estimator=type(self).__name__,
        )
        reg = options["reg_covar"] * variance
        grid = _data_grid_step(X, weights)
        starts, screen = self._starts(options, user, n_samples, n_features)
        fit_args = (shift, kind, reg, variance, grid, options)
        if screen:
            runs = self._screened_runs(starts, X, weights, user, rng, fit_args)
        else:
            runs = []
            for start in starts:
                params0 = self._initial_parameters(start, X, weights, shift, kind, reg, user, rng)
                runs.append(self._run_em(X, weights, params0, *fit_args))
        for index, run in enumerate(runs):
            if self.verbose:
                logger.info(
                    "start %d (%s): log-likelihood %.6f after %d iterations%s",
                    index,
                    run.start,
                    run.history[-1],
                    run.n_iter,
                    " (degenerate)" if run.degenerate else "",
                )
        best = max(runs, key=lambda run: (not run.degenerate, run.history[-1]))
        if best.degenerate:
            warnings.warn(
                "Every start ended with a degenerate component, so the likelihood of this "
                "fit is unbounded and its BIC is not comparable: "
                + "; ".join(best.degenerate)
                + ". Use fewer components, a simpler covariance_type, or a larger reg_covar.",
                DegenerateComponentWarning,
                stacklevel=2,
            )
        if not best.converged:
            warnings.warn(
                f"Best of {len(runs)} start(s) did not converge in max_iter={self.max_iter} "
                f"iterations (last gain {best.history[-1] - best.history[-2]:.3g} per "
                f"observation, tol={self.tol:g}). Raise max_iter or tol, or check the data.",
                sklearn_compatible(ConvergenceWarning),
                stacklevel=2,
            )
        self._store(best, shift, kind, data.feature_names, n_features, options, rng)
        return self

    def _weights_for(self, X: Any, sample_weight: Any) -> Any:
        if is_dask_array(X):
            import dask.array as da

            if sample_weight is None:
                return da.ones(X.shape[0], chunks=X.chunks[0])
            return da.asarray(check_sample_weight(sample_weight, X.shape[0])).rechunk(X.chunks[0])
        return check_sample_weight(sample_weight, X.shape[0])

    def _starts(
        self,
        options: dict[str, Any],
        user: dict[str, np.ndarray | None],
        n_samples: int,
        n_features: int,
    ) -> tuple[list[str], bool]:
        """The starts to run, and whether to screen them by a short EM run first."""
        if self.warm_start and hasattr(self, "result_"):
            return ["warm"], False
        if all(value is not None for value in user.values()):
            return ["user"], False
        method = options["init_params"]
        n_init = options["n_init"]
        if n_init == "auto":
            if method == "kmeans" and not any(value is not None for value in user.values()):
                return _auto_starts(n_samples, options["n_components"], n_features), True
            return [method], False
        if method == "kmeans":
            return ["ward-svd"] + ["kmeans"] * (n_init - 1), False
        return [method] * n_init, False

    def _screened_runs(self, starts, X, weights, user, rng, fit_args) -> list[_Run]:
        """EM from every start for a while; the best few run on to convergence.

        On small problems (rows x K x D at most ``FULL_RUN_WORK``) every start runs
        to convergence. Otherwise every start runs at most ``SCREEN_ITERATIONS``
        iterations, on the data when
        it has at most ``SCREEN_ROWS`` rows in memory, else on a uniform sample of
        that many rows. The best ``SCREEN_KEEP`` (non-degenerate first, then by the
        likelihood they head for, projected by Aitken acceleration) continue on all
        rows until they converge. Most starts on small
        data converge within the first phase; on slowly converging data (overlapping
        components) the second phase bounds the cost.
        """
        shift, kind, reg, variance, grid, options = fit_args
        sample, sample_weights = _screening_sample(X, weights, rng)
        n_components = options["n_components"]
        small = sample is X and X.shape[0] * n_components * X.shape[1] <= FULL_RUN_WORK
        short_iterations = options["max_iter"] if small else SCREEN_ITERATIONS
        short_options = {**options, "max_iter": min(short_iterations, options["max_iter"])}
        short_args = (shift, kind, reg, variance, grid, short_options)
        screened = []
        for start in starts:
            params0 = self._initial_parameters(
                start, sample, sample_weights, shift, kind, reg, user, rng
            )
            run = self._run_em(sample, sample_weights, params0, *short_args)
            screened.append(replace(run, start=start))
        if small:
            return screened
        screened.sort(
            key=lambda run: (not run.degenerate, _aitken_limit(run.history[:-1])), reverse=True
        )
        runs = []
        for short in screened[:SCREEN_KEEP]:
            if short.converged and sample is X:
                runs.append(short)
                continue
            run = self._run_em(X, weights, short.params, *fit_args)
            runs.append(replace(run, start=short.start, n_iter=run.n_iter + short.n_iter))
        return runs

    def _check_initial_values(
        self, n_components: int, n_features: int, kind: CovarianceType
    ) -> dict[str, np.ndarray | None]:
        name = type(self).__name__
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = np.asarray(self.weights_init, dtype=np.float64)
            if weights.shape != (n_components,):
                raise ValueError(
                    f"weights_init should have the shape ({n_components},), got {weights.shape}."
                )
            if (weights < 0).any() or not np.isfinite(weights).all():
                raise ValueError(
                    f"weights_init must be finite and non-negative; got min {weights.min():g}."
                )
            if not np.isclose(weights.sum(), 1.0, rtol=0.0, atol=1e-6):
                raise ValueError(
                    f"weights_init must sum to 1 (they sum to {weights.sum():.6f}); divide them "
                    "by their sum."
                )
        if self.means_init is not None:
            means = np.asarray(self.means_init, dtype=np.float64)
            if means.shape != (n_components, n_features):
                raise ValueError(
                    f"means_init should have the shape ({n_components}, {n_features}), got "
                    f"{means.shape}."
                )
            if not np.isfinite(means).all():
                raise ValueError("means_init contains NaN or infinite values.")
        if self.precisions_init is not None:
            precisions = np.asarray(self.precisions_init, dtype=np.float64)
            shape = kind.covariance_shape(n_components, n_features)
            if precisions.shape != shape:
                raise ValueError(
                    f"precisions_init for covariance_type={kind.name!r} should have the shape "
                    f"{shape}, got {precisions.shape}."
                )
            matrices = kind.name in ("full", "tied")
            if matrices and not np.allclose(
                precisions, np.swapaxes(precisions, -1, -2), rtol=1e-10, atol=0.0
            ):
                raise ValueError(
                    f"precisions_init of {name} must hold symmetric matrices for "
                    f"covariance_type={kind.name!r}; symmetrise them, e.g. (P + P.T) / 2."
                )
            try:
                with np.errstate(invalid="ignore"):
                    prec_chol = kind.precision_cholesky_from_precisions(precisions)
                ok = bool(np.isfinite(prec_chol).all())
            except np.linalg.LinAlgError:
                ok = False
            if not matrices and not (precisions > 0).all():
                ok = False
            if not ok:
                raise ValueError(
                    f"precisions_init of {name} must be "
                    + (
                        f"positive definite for covariance_type={kind.name!r}: a Cholesky "
                        "factorisation failed."
                        if matrices
                        else f"positive for covariance_type={kind.name!r}; got smallest value "
                        f"{np.nanmin(precisions):g}."
                    )
                    + " Pass inverse covariances (precisions), not covariances or their factors."
                )
        return {"weights": weights, "means": means, "precisions": precisions}

    def _initial_parameters(
        self,
        start: str,
        X: Any,
        weights: Any,
        shift: np.ndarray,
        kind: CovarianceType,
        reg: np.ndarray,
        user: dict[str, np.ndarray | None],
        rng: np.random.Generator,
    ) -> MixtureParameters:
        n_components = check_int(type(self).__name__, "n_components", self.n_components, 1)
        if start == "warm":
            return MixtureParameters(
                self.weights_,
                self.means_ - shift,
                self.covariances_,
                self.precisions_cholesky_,
            )
        if start == "user":
            params = None
        else:
            sample, sample_weights = _initialisation_sample(X, weights, rng)
            sample = sample - shift
            # BLAS at one thread: the starts' products are skinny (N x D with small D), and
            # OpenBLAS's threads cost more than they give there (up to 15x slower at 1M rows)
            with _blocks.single_threaded_blas():
                resp = initial_responsibilities(sample, n_components, start, sample_weights, rng)
                stats = _statistics_from_resp(sample, resp * sample_weights[:, None], kind)
            params = _maximise(stats, kind, reg)
        return _apply_user_values(params, user, shift, kind)

    def _run_em(self, X, weights, params, shift, kind, reg, variance, grid, options) -> _Run:
        if self.verbose < 2 and _fits_compiled_run(X, params, kind):
            params, history, converged, n_iter = _compiled_run(
                X, weights, params, shift, kind, reg, options
            )
            degenerate = _degenerate_components(params, kind, reg, variance, grid)
            return _Run(params, history, converged, n_iter, degenerate)
        history: list[float] = []
        converged = False
        n_iter = 0
        for n_iter in range(1, options["max_iter"] + 1):
            stats = _collect(X, weights, shift, params, kind)
            history.append(stats.log_likelihood / stats.total_weight)
            if self.verbose >= 2 and n_iter % self.verbose_interval == 0:
                logger.info("  iteration %d: mean log-likelihood %.8f", n_iter, history[-1])
            params = _maximise(stats, kind, reg)
            if aitken_converged(history, len(history), options["tol"]):
                converged = True
                break
        final = _collect(X, weights, shift, params, kind)
        history.append(final.log_likelihood / final.total_weight)
        degenerate = _degenerate_components(params, kind, reg, variance, grid)
        return _Run(params, history, converged, n_iter, degenerate)

    def _store(self, run, shift, kind, feature_names, n_features, options, rng) -> None:
        from ..result import MixtureResult

        params = run.params
        self.weights_ = params.weights
        self.means_ = params.means + shift
        self.covariances_ = params.covariances
        self.precisions_cholesky_ = params.prec_chol
        self.precisions_ = kind.precisions(params.prec_chol)
        self.converged_ = run.converged
        self.n_iter_ = run.n_iter
        self.lower_bound_ = run.history[-1]
        self.lower_bounds_ = run.history
        self.n_features_in_ = n_features
        if feature_names is not None:
            self.feature_names_in_ = feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._rng = rng
        self.result_ = MixtureResult(
            weights=self.weights_,
            means=self.means_,
            covariances=self.covariances_,
            covariance_type=kind.name,
            feature_names=feature_names,
            history=np.asarray(run.history[:-1]),
            log_likelihood_=run.history[-1],
            converged=run.converged,
            degenerate=run.degenerate,
            reg_covar=options["reg_covar"],
            method="em",
        )

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit, then return the labels of X (the same as ``fit(X).predict(X)``)."""
        return self.fit(X, sample_weight=sample_weight).predict(X)


def _ensure_log_handler() -> None:
    package_logger = logging.getLogger("bayesgmm")
    if not package_logger.handlers and not logging.getLogger().handlers:
        package_logger.addHandler(logging.StreamHandler())
    if package_logger.level == logging.NOTSET or package_logger.level > logging.INFO:
        package_logger.setLevel(logging.INFO)


def _check_dtype(owner: str, value: Any) -> np.dtype:
    """The working precision named by ``value`` ("float32", np.float32, "f4", ...)."""
    try:
        value = str(np.dtype(value))  # a dtype's canonical name, or value as it was
    except TypeError:
        pass
    return np.dtype(check_option(owner, "dtype", value, ("float32", "float64")))


def _names(feature_names: np.ndarray | None, n_features: int, index: np.ndarray) -> list[str]:
    names = feature_names if feature_names is not None else [f"x{i}" for i in range(n_features)]
    return [str(names[i]) for i in index]


def _weighted_moments(X: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and variance per feature, accurate for data far from the origin.

    One pass: each block (in memory) or chunk (dask) is centred on its own mean and
    the parts are combined by Chan et al.'s pairwise update, so out-of-core data are
    read once and no temporary larger than a block is made. Called once as a fit
    starts: it also drops what the engine remembers about X from an earlier fit (X
    may have changed in place since).
    """
    _blocks.forget_data(X)
    if is_dask_array(X):
        import dask

        X = X.rechunk({1: -1})
        parts = dask.compute(
            *[
                dask.delayed(_blocks.chunk_moments)(block, weight)
                for block, weight in zip(
                    X.to_delayed().ravel(), weights.to_delayed().ravel(), strict=True
                )
            ]
        )
    else:
        workers = _blocks.n_threads()
        blocks = _row_blocks(X.shape[0], 2 * X.shape[1], np.float64, workers)
        parts = _blocks.map_blocks(
            lambda rows: _blocks.chunk_moments(X[rows], weights[rows]), blocks, workers
        )
    total, mean, squares = _blocks.combine_moments(parts)
    return mean, squares / total


def _initialisation_sample(
    X: Any, weights: Any, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """In-memory data as is; for dask data, a uniform sample of rows loaded once."""
    if not is_dask_array(X):
        return X, weights
    n_rows = min(X.shape[0], 100_000)
    rows = np.sort(rng.choice(X.shape[0], size=n_rows, replace=False))
    return np.asarray(X[rows].compute(), dtype=np.float64), np.asarray(weights[rows].compute())


def _auto_starts(n_samples: int, n_components: int, n_features: int) -> list[str]:
    """The default starts: Ward on whitened and on standardised data, then k-means."""
    if n_components == 1:  # every start gives the same one-component fit
        return ["ward-svd"]
    work = min(n_samples, SCREEN_ROWS) * n_components * n_features
    count = int(np.clip(AUTO_BUDGET // max(work, 1), AUTO_MIN_STARTS, AUTO_MAX_STARTS))
    return ["ward-svd", "ward-std"] + ["kmeans"] * (count - 2)


def _screening_sample(X: Any, weights: Any, rng: np.random.Generator) -> tuple[Any, Any]:
    """The data itself when small and in memory; otherwise a uniform sample of rows."""
    n_samples = X.shape[0]
    if n_samples <= SCREEN_ROWS and not is_dask_array(X):
        return X, weights
    rows = np.sort(rng.choice(n_samples, size=min(n_samples, SCREEN_ROWS), replace=False))
    sample, sample_weights = X[rows], weights[rows]
    if is_dask_array(X):
        sample, sample_weights = sample.compute(), sample_weights.compute()
    return np.asarray(sample, dtype=np.float64), np.asarray(sample_weights, dtype=np.float64)


def _apply_user_values(
    params: MixtureParameters | None,
    user: dict[str, np.ndarray | None],
    shift: np.ndarray,
    kind: CovarianceType,
) -> MixtureParameters:
    if params is None:
        covariances = kind.covariances_from_precision_cholesky(
            kind.precision_cholesky_from_precisions(user["precisions"])
        )
        return MixtureParameters(
            user["weights"],
            user["means"] - shift,
            covariances,
            kind.precision_cholesky_from_precisions(user["precisions"]),
        )
    if user["weights"] is not None:
        params = replace(params, weights=user["weights"])
    if user["means"] is not None:
        params = replace(params, means=user["means"] - shift)
    if user["precisions"] is not None:
        prec_chol = kind.precision_cholesky_from_precisions(user["precisions"])
        params = replace(
            params,
            prec_chol=prec_chol,
            covariances=kind.covariances_from_precision_cholesky(prec_chol),
        )
    return params


def _degenerate_components(
    params: MixtureParameters,
    kind: CovarianceType,
    reg: np.ndarray,
    variance: np.ndarray,
    grid: np.ndarray,
) -> list[str]:
    """Describe components that collapsed (below the data's resolution or rank)."""
    n_components, n_features = params.means.shape
    full = np.array(kind.to_full(params.covariances, n_components, n_features), copy=True)
    index = np.arange(n_features)
    full[:, index, index] -= reg
    marginal = np.diagonal(full, axis1=-2, axis2=-1)
    scale = np.sqrt(variance)
    standardised = full / (scale[:, None] * scale[None, :])
    smallest = np.linalg.eigvalsh(standardised)[:, 0]
    found = []
    for k in range(n_components):
        below_grid = np.flatnonzero((grid > 0) & (marginal[k] < (grid / 20) ** 2))
        if params.weights[k] <= 0:
            found.append(f"component {k} is empty (weight 0)")
        elif len(below_grid):
            found.append(
                f"component {k} (weight {params.weights[k]:.3g}) sits on tied values of "
                f"feature(s) {below_grid.tolist()} (standard deviation below 1/20 of the "
                "data's grid step)"
            )
        elif smallest[k] < DEGENERATE_EIGENVALUE:
            found.append(
                f"component {k} (weight {params.weights[k]:.3g}) has a near-singular "
                f"covariance (smallest standardised eigenvalue {smallest[k]:.2g})"
            )
    return found
