"""The starts of a fit: which to run, their initial parameters, and running them all.

The default ``n_init="auto"`` with ``init_params="kmeans"`` runs two deterministic Ward
agglomerations (on SVD-whitened and on standardised data, as mclust starts) and k-means
from greedy k-means++ seeds: :data:`AUTO_MAX_STARTS` starts on small problems, falling
to :data:`AUTO_MIN_STARTS` as the work of one iteration grows past :data:`AUTO_BUDGET`.
Small problems run every start to convergence; larger ones screen: every start runs up
to :data:`SCREEN_ITERATIONS` iterations (on a sample of :data:`SCREEN_ROWS` rows when the
data are larger, or are a dask array) and the best :data:`SCREEN_KEEP` run on all rows
to convergence.

A start's parameters come from one M-step on its starting responsibilities
(:mod:`bayesgmm.em.init`), the same compiled M-step the EM loop runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from ..covariance import CovarianceModel, not_positive_definite
from ..covariance.layout_kernels import NO_FAILURE, SHARED_FAILURE
from ..data import is_dask_array
from ..exceptions import CovarianceError
from ..family import GAUSSIAN, Family
from ..threads import single_threaded_blas
from .blocks import Workers
from .degenerate import DegeneracyRule
from .engines import select_engine
from .init import initial_responsibilities
from .loop import Parameters, Run, maximise, run_em
from .passes import responsibility_sums
from .statistics import second_moment
from .stopping import aitken_limit

__all__ = ["Problem", "plan_starts", "auto_starts", "start_parameters", "run_starts"]

logger = logging.getLogger("bayesgmm.em")

AUTO_MIN_STARTS = 10
AUTO_MAX_STARTS = 40
AUTO_BUDGET = 4_000_000
#: The default starts run at most SCREEN_ITERATIONS iterations, on at most SCREEN_ROWS
#: rows (a sample of larger data); the best SCREEN_KEEP continue to convergence.
SCREEN_ITERATIONS = 100
SCREEN_ROWS = 20_000
SCREEN_KEEP = 5
#: Problems with rows x K x D up to this run every default start to convergence.
FULL_RUN_WORK = 10_000
#: Rows of a dask array loaded to make the starts.
INITIALISATION_ROWS = 100_000


@dataclass
class Problem:
    """One fit: the data, the fit's constants and options, shared by all its starts."""

    X: Any
    weights: Any
    shift: np.ndarray
    reg: np.ndarray
    degeneracy: DegeneracyRule
    model: CovarianceModel
    n_components: int
    dtype: np.dtype
    workers: Workers
    rng: np.random.Generator
    user: dict[str, np.ndarray | None]
    max_iter: int
    tol: float
    engine: str = "auto"
    verbose: int = 0
    verbose_interval: int = 10
    #: The component family, each start's degrees of freedom (t family) and whether
    #: they are estimated.
    family: Family = GAUSSIAN
    dof: float = np.inf
    estimate_dof: bool = True

    def engine_for(self, X: Any, weights: Any) -> Any:
        """The engine for (a sample of) the data."""
        return select_engine(
            X,
            weights,
            self.shift,
            self.reg,
            self.model,
            self.n_components,
            self.dtype,
            self.workers,
            self.engine,
            self.family,
            self.estimate_dof,
        )


def auto_starts(n_samples: int, n_components: int, n_features: int) -> list[str]:
    """The default starts: Ward on whitened and on standardised data, then k-means.

    Examples
    --------
    >>> auto_starts(100, 2, 2)[:3], len(auto_starts(100, 2, 2))
    (['ward-svd', 'ward-std', 'kmeans'], 40)
    """
    if n_components == 1:  # every start gives the same one-component fit
        return ["ward-svd"]
    work = min(n_samples, SCREEN_ROWS) * n_components * n_features
    count = int(np.clip(AUTO_BUDGET // max(work, 1), AUTO_MIN_STARTS, AUTO_MAX_STARTS))
    return ["ward-svd", "ward-std"] + ["kmeans"] * (count - 2)


def plan_starts(
    init_params: str,
    n_init: int | str,
    problem: Problem,
    warm: bool,
) -> tuple[list[str], bool]:
    """The starts to run, and whether to screen them by a short EM run first."""
    user = problem.user
    if warm:
        return ["warm"], False
    if all(value is not None for value in user.values()):
        return ["user"], False
    if n_init == "auto":
        if init_params == "kmeans" and all(value is None for value in user.values()):
            n_samples, n_features = problem.X.shape
            return auto_starts(n_samples, problem.n_components, n_features), True
        return [init_params], False
    if init_params == "kmeans":
        return ["ward-svd"] + ["kmeans"] * (n_init - 1), False
    return [init_params] * n_init, False


def _initialisation_sample(problem: Problem, X: Any, weights: Any) -> tuple[Any, Any]:
    """In-memory data as they are; for dask data, a uniform sample of rows loaded once."""
    if not is_dask_array(X):
        return X, weights
    n_rows = min(X.shape[0], INITIALISATION_ROWS)
    rows = np.sort(problem.rng.choice(X.shape[0], size=n_rows, replace=False))
    return np.asarray(X[rows].compute(), dtype=np.float64), np.asarray(weights[rows].compute())


def parameters_from_sums(
    model: CovarianceModel,
    T: np.ndarray,
    data_second: np.ndarray,
    reg: np.ndarray,
    dof: float = np.inf,
) -> Parameters:
    """One (Gaussian) M-step from feature sums ``T`` (K, P), with ``dof`` as every
    component's degrees of freedom; raises CovarianceError if it fails."""
    n_components, n_features = T.shape[0], len(reg)
    shape = model.layout.storage_shape(n_components, n_features)
    params = (  # zero covariances: an iterative M-step sees that it has no estimate yet
        np.empty(n_components),
        np.empty((n_components, n_features)),
        np.zeros(shape),
        np.empty(shape),
        np.full(n_components, float(dof)),
    )
    T = np.ascontiguousarray(T)
    stats = (
        T, data_second, reg, np.empty(n_components), np.empty(shape), T[:, -1].copy(),
        np.zeros(n_components), np.array([False]),
    )  # fmt: skip
    failed = maximise(model, GAUSSIAN, params, stats)
    if failed != NO_FAILURE:
        component = None if failed == SHARED_FAILURE else int(failed)
        weight = None if component is None else float(params[0][component])
        raise not_positive_definite(component, weight)
    return Parameters(*params)


def start_parameters(problem: Problem, start: str, X: Any, weights: Any) -> Parameters:
    """Initial parameters of one start on (a sample of) the data, user values applied."""
    model = problem.model
    if start == "user":
        return _with_user_values(None, problem)
    sample, sample_weights = _initialisation_sample(problem, X, weights)
    shifted = np.asarray(sample, dtype=np.float64) - problem.shift
    # BLAS at one thread: the starts' products are skinny (N x D with small D), and
    # OpenBLAS's threads cost more than they give there (up to 15x slower at 1M rows)
    with single_threaded_blas():
        resp = initial_responsibilities(
            shifted, problem.n_components, start, sample_weights, problem.rng
        )
        T = responsibility_sums(model, sample, sample_weights, problem.shift, resp)
    data_second = (
        second_moment(sample, sample_weights, problem.shift, Workers(1))
        if model.layout.shared
        else np.zeros((0, 0))
    )
    start = parameters_from_sums(model, T, data_second, problem.reg, problem.dof)
    return _with_user_values(start, problem)


def _with_user_values(params: Parameters | None, problem: Problem) -> Parameters:
    """``params`` with the user's initial weights, means and precisions put in."""
    model, user, shift = problem.model, problem.user, problem.shift
    values = {} if params is None else dict(vars(params))
    if user["weights"] is not None:
        values["weights"] = user["weights"]
    if user["means"] is not None:
        values["means"] = user["means"] - shift
    if user["precisions"] is not None:
        prec = model.to_storage(model.precision_cholesky_from_precisions(user["precisions"]))
        values["prec"] = prec
        values["covariances"] = model.layout.covariances_from_precision_cholesky(prec)
    if values.get("dof") is None:
        values["dof"] = np.full(problem.n_components, float(problem.dof))
    return Parameters(**values)


def _run_one(
    problem: Problem,
    engine: Any,
    params: Parameters,
    max_iter: int,
    label: str,
    previous: Sequence[float] = (),
) -> Run:
    progress, every = None, None
    if problem.verbose >= 2:
        every = problem.verbose_interval

        def progress(n_iter: int, value: float) -> None:
            logger.info("  %s: iteration %d, mean log-likelihood %.8f", label, n_iter, value)

    run = run_em(
        engine,
        problem.model,
        params,
        max_iter=max_iter,
        tol=problem.tol,
        progress=progress,
        report_every=every,
        previous=previous,
    )
    run.degenerate = problem.degeneracy.describe(run.params, problem.model)
    return run


def _screening_sample(problem: Problem) -> tuple[Any, Any]:
    """The data itself when small and in memory; otherwise a uniform sample of rows."""
    X, weights = problem.X, problem.weights
    n_samples = X.shape[0]
    if n_samples <= SCREEN_ROWS and not is_dask_array(X):
        return X, weights
    rows = np.sort(problem.rng.choice(n_samples, size=min(n_samples, SCREEN_ROWS), replace=False))
    sample, sample_weights = X[rows], weights[rows]
    if is_dask_array(X):
        sample, sample_weights = sample.compute(), sample_weights.compute()
    dtype = problem.dtype
    return np.asarray(sample, dtype=dtype), np.asarray(sample_weights, dtype=np.float64)


def _screened_runs(problem: Problem, starts: list[str]) -> list[Run]:
    """EM from every start for a while; the best few run on to convergence."""
    sample, sample_weights = _screening_sample(problem)
    X = problem.X
    small = sample is X and X.shape[0] * problem.n_components * X.shape[1] <= FULL_RUN_WORK
    short_iterations = min(problem.max_iter if small else SCREEN_ITERATIONS, problem.max_iter)
    where = "all rows" if sample is X else f"a sample of {sample.shape[0]} rows"
    engine = problem.engine_for(sample, sample_weights)

    def screen(index: int, start: str) -> Run:
        params = start_parameters(problem, start, sample, sample_weights)
        label = f"start {index} ({start}, {where})"
        return replace(_run_one(problem, engine, params, short_iterations, label), start=start)

    screened = _surviving(partial(screen, *item) for item in enumerate(starts))
    if small:
        return screened
    screened.sort(  # by where each run is heading (max_iter=0: by where it starts)
        key=lambda run: (not run.degenerate, aitken_limit(run.history[:-1] or run.history)),
        reverse=True,
    )
    full = engine if sample is X else problem.engine_for(X, problem.weights)

    def finish(short: Run) -> Run:
        if short.converged and sample is X:
            return short
        run = _run_one(problem, full, short.params, problem.max_iter, f"{short.start}, all rows")
        return replace(run, start=short.start, n_iter=run.n_iter + short.n_iter)

    return _surviving(partial(finish, short) for short in screened[:SCREEN_KEEP])


def _surviving(jobs: Iterable[Callable[[], Run]]) -> list[Run]:
    """The runs of the starts whose covariances stayed positive definite.

    A start whose component collapses below the floor is dropped, as a degenerate start
    would lose to a sound one; when every start fails, the first failure is raised.
    """
    runs, failure = [], None
    for job in jobs:
        try:
            runs.append(job())
        except CovarianceError as error:
            logger.info("a start is dropped: %s", error)
            failure = failure or error
    if not runs:
        raise failure
    return runs


def run_starts(
    problem: Problem,
    starts: list[str],
    screen: bool,
    warm: Parameters | None = None,
    previous: Sequence[float] = (),
) -> list[Run]:
    """Run every start (screened when ``screen``).

    ``warm`` is the "warm" start's parameters and ``previous`` the mean log-likelihoods
    that led to them, which its stopping rule continues.
    """
    if screen:
        return _screened_runs(problem, starts)
    engine = problem.engine_for(problem.X, problem.weights)

    def run(index: int, start: str) -> Run:
        before: Sequence[float] = ()
        if start == "warm":
            params, before = warm, previous
        else:
            params = start_parameters(problem, start, problem.X, problem.weights)
        label = f"start {index} ({start}, all rows)"
        return replace(
            _run_one(problem, engine, params, problem.max_iter, label, before), start=start
        )

    return _surviving(partial(run, *item) for item in enumerate(starts))
