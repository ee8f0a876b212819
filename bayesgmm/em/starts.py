"""The starts of a fit: which to run, their initial parameters, and running them all.

The default ``n_init="auto"`` with ``init_params="kmeans"`` starts from the partitions of
a :class:`~bayesgmm.em.pool.StartPool` (Ward trees cut at K, k-means in three scalings,
random partitions; identical partitions once), :func:`pool_counts` of them. They run
together as one stack (:mod:`bayesgmm.em.batch`); racing (a start that cannot catch up
with the best sound one stops early) is off by default (:data:`RACE`). Data larger than
:data:`SCREEN_ROWS` rows (or a dask array) run on a uniform sample of that many rows,
and the best :data:`SCREEN_KEEP` distinct optima (:func:`_distinct_optima`: starts that
reached one optimum continue once) continue on all rows, less those too far
below the best on the sample to catch up (:data:`SAMPLE_ERRORS`). There the margin
``P / n`` of that rule (:func:`_sample_slack`) also stops work early: the starts race
with ``-P / n`` as margin, and the split-and-merge moves run against the best's value
less ``P / n``: an optimum that ends further below the best would not go on. (On data
under the sample's size racing stays off, and the moves run to their end: there a
stopped start is a lost optimum, and the rule's projected rate is not safe under
SQUAREM's jumps, :data:`RACE`.)

Every start but a warm one or the user's own parameters runs SQUAREM-accelerated EM
(:mod:`bayesgmm.em.acceleration`) when ``tol > 0``; those two run plain EM, so that a
user's start, or a warm fit continued one iteration at a time, follows EM's own path.

A start's parameters come from one M-step on its starting responsibilities
(:mod:`bayesgmm.em.init`), the same compiled M-step the EM loop runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

from ..covariance import CovarianceModel, not_positive_definite
from ..covariance.layout_kernels import NO_FAILURE, SHARED_FAILURE
from ..data import is_dask_array
from ..exceptions import CovarianceError
from ..family import GAUSSIAN, Family
from ..gaussian import log_mixture_density, with_noise_column
from ..threads import single_threaded_blas
from .batch import StartStack, run_stack
from .blocks import Workers
from .degenerate import DegeneracyRule
from .engines import WholeRunEngine, select_engine
from .init import initial_responsibilities, one_hot
from .loop import Parameters, Run, maximise, run_em
from .newton_finish import newton_finish_for
from .noise_starts import clean_rows, starting_noise, user_weights_with_noise, with_noise_weight
from .passes import responsibility_sums
from .pool import POOL_KINDS, StartPool
from .split_merge import MOVE_BURST, MOVE_KEEP, ROUNDS, split_merge_partitions
from .statistics import second_moment

__all__ = [
    "Problem",
    "plan_starts",
    "pool_counts",
    "start_parameters",
    "run_starts",
    "parameters_from_sums",
]

logger = logging.getLogger("bayesgmm.em")

#: Work (rows x K x D) of a problem up to which the pool has all of :data:`POOL_KINDS`;
#: past it, the repeated kinds shrink in proportion, to :data:`POOL_MIN_REPEATS` each.
POOL_WORK = 200_000
POOL_MIN_REPEATS = 2
#: The default starts race on at most SCREEN_ROWS rows (a sample of larger data); the
#: best SCREEN_KEEP distinct optima continue on all rows.
SCREEN_ROWS = 20_000
SCREEN_KEEP = 3
#: ... less those whose value on the sample is below the best's by more than this many
#: standard errors of the per-row difference's mean (and a margin, :func:`_worth_continuing`):
#: they cannot catch up on all rows but by a sampling fluke of that size, and a
#: hopeless continuation on a million rows can run to ``max_iter``.
SAMPLE_ERRORS = 4.0
#: Two optima of the sample are one when their per-row log-likelihoods differ with a
#: variance of at most this many ``tol`` (and their values by at most ``tol``):
#: :func:`_distinct_optima`.
SAME_OPTIMUM_VARIANCE = 32.0
#: Whether the default starts race (hopeless starts stop early, :mod:`bayesgmm.em.batch`)
#: on data under :data:`SCREEN_ROWS` rows (on a sample they race, with ``-P / n`` as the
#: margin). Off: under SQUAREM the rule's projected rate is taken from gains that still
#: carry a jump's transient, and racing lost the best basin of iris VVV K=4 (1.5e-4 per row
#: below every start run to the end; tests/test_acceleration.py).
RACE = False
#: Rows of a dask array loaded to make the starts.
INITIALISATION_ROWS = 100_000


@dataclass
class Problem:
    """One fit: the data, the fit's constants and options, shared by all its starts.

    ``scale`` is a positive scale per feature (SQUAREM's units); ``pools`` the pools of
    starting partitions by ``(seed, rows)``, made on first use from ``pool_seed``
    (``select`` shares them between the fits of a data set).
    """

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
    scale: np.ndarray | None = None
    pool_seed: int = 0
    pools: dict = field(default_factory=dict, repr=False)
    #: The component family, each start's degrees of freedom (t family) and whether
    #: they are estimated.
    family: Family = GAUSSIAN
    dof: float = np.inf
    estimate_dof: bool = True
    #: A uniform noise component's log-density (None: none), and the user's guess of
    #: which rows are noise (None: :func:`bayesgmm.noise.initial_noise`).
    log_vinv: float | None = None
    noise_init: np.ndarray | None = None

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
            self.log_vinv,
        )

    def describe(self, params: Parameters) -> list[str]:
        """The degenerate components of ``params`` (empty when there are none)."""
        return self.degeneracy.describe(params, self.model)

    def start_rows(self, X: Any) -> Any:
        """The rows the starting partitions are made from: the data themselves (a fit
        with missing values imputes them, :class:`~bayesgmm.em.missing.MarginalProblem`)."""
        return X


def pool_counts(n_samples: int, n_components: int, n_features: int) -> dict[str, int]:
    """How many partitions of each kind the default starts try (duplicates dropped).

    Examples
    --------
    >>> pool_counts(150, 3, 4)["kmeans"], pool_counts(1_000_000, 8, 10)["kmeans"]
    (6, 2)
    """
    if n_components == 1:  # every start gives the same one-component fit
        return {"ward-svd": 1}
    work = min(n_samples, SCREEN_ROWS) * n_components * n_features
    fraction = min(1.0, POOL_WORK / max(work, 1))
    return {
        kind: count if count == 1 else max(POOL_MIN_REPEATS, round(count * fraction))
        for kind, count in POOL_KINDS.items()
    }


def plan_starts(
    init_params: str,
    n_init: int | str,
    problem: Problem,
    warm: bool,
) -> tuple[list[str], bool]:
    """The starts to run, and whether they race (the default pool of starts)."""
    user = problem.user
    if warm:
        return ["warm"], False
    if all(value is not None for value in user.values()):
        return ["user"], False
    if n_init == "auto":
        if init_params == "kmeans" and all(value is None for value in user.values()):
            return ["pool"], True
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


def _data_second(problem: Problem, X: Any, weights: Any) -> np.ndarray:
    if problem.model.layout.shared:
        return second_moment(X, weights, problem.shift, Workers(1))
    return np.zeros((0, 0))  # the other layouts read no second moment


def start_parameters(problem: Problem, start: str, X: Any, weights: Any) -> Parameters:
    """Initial parameters of one start on (a sample of) the data, user values applied."""
    model = problem.model
    if start == "user":
        return _with_user_values(None, problem)
    sample, sample_weights = _initialisation_sample(problem, X, weights)
    sample, sample_weights, fraction, _ = _starting_rows(problem, sample, sample_weights)
    shifted = np.asarray(sample, dtype=np.float64) - problem.shift
    # BLAS at one thread: the starts' products are skinny (N x D with small D), and
    # OpenBLAS's threads cost more than they give there (up to 15x slower at 1M rows)
    with single_threaded_blas():
        resp = initial_responsibilities(
            shifted, problem.n_components, start, sample_weights, problem.rng
        )
        T = responsibility_sums(model, sample, sample_weights, problem.shift, resp)
    data_second = _data_second(problem, sample, sample_weights)
    start = parameters_from_sums(model, T, data_second, problem.reg, problem.dof)
    if fraction is not None:
        start = with_noise_weight(start, fraction)
    return _with_user_values(start, problem)


def _with_user_values(params: Parameters | None, problem: Problem) -> Parameters:
    """``params`` with the user's initial weights, means and precisions put in."""
    model, user, shift = problem.model, problem.user, problem.shift
    values = {} if params is None else dict(vars(params))
    if user["weights"] is not None:
        values["weights"] = user["weights"]
        if problem.log_vinv is not None:  # beside the noise's weight
            values["weights"] = user_weights_with_noise(user["weights"], problem)
    if user["means"] is not None:
        values["means"] = user["means"] - shift
    if user["precisions"] is not None:
        prec = model.to_storage(model.precision_cholesky_from_precisions(user["precisions"]))
        values["prec"] = prec
        values["covariances"] = model.layout.covariances_from_precision_cholesky(prec)
    if values.get("dof") is None:
        values["dof"] = np.full(problem.n_components, float(problem.dof))
    return Parameters(**values)


def _partition_parameters(
    problem: Problem, engine: Any, labels: np.ndarray, X: np.ndarray, weights: np.ndarray
) -> Parameters:
    """Initial parameters of a start from a partition of the rows ``X``; ``engine``: the
    compiled engine whose made features are those rows (one product), else None."""
    resp = one_hot(labels, problem.n_components)
    if isinstance(engine, WholeRunEngine):
        Z = engine.data[0]
        T = (resp * engine.data[1][:, None]).T @ np.asarray(Z, dtype=np.float64).T
        data_second = engine.data_second
    else:
        with single_threaded_blas():
            T = responsibility_sums(problem.model, X, weights, problem.shift, resp)
        data_second = _data_second(problem, X, weights)
    return parameters_from_sums(problem.model, T, data_second, problem.reg, problem.dof)


def _starting_rows(problem: Problem, X: Any, weights: Any) -> tuple[Any, Any, float | None, str]:
    """The rows the starting partitions of ``X`` are made from (missing values imputed,
    rows guessed to be noise left out), their weights, the noise's starting weight
    (None without a noise component) and a tag naming the kind of rows."""
    rows = problem.start_rows(X)
    tag = "rows" if rows is X else "imputed"
    if problem.log_vinv is None:
        return rows, weights, None, tag
    noise = starting_noise(problem.noise_init, problem.X, X, weights)
    rows, weights, fraction = clean_rows(rows, weights, noise, problem.n_components)
    return rows, weights, fraction, f"{tag} less noise"


def _progress(problem: Problem, labels: Sequence[str], where: str) -> tuple[Any, int | None]:
    """The per-iteration log of verbose=2, for a stack of starts of these kinds."""
    if problem.verbose < 2:
        return None, None

    def progress(start: int, n_iter: int, value: float) -> None:
        logger.info(
            "  start %d (%s, %s): iteration %d, mean log-likelihood %.8f",
            start,
            labels[start],
            where,
            n_iter,
            value,
        )

    return progress, problem.verbose_interval


def _stack(problem: Problem, engine: Any, starts: list, labels: list[str], where: str):
    progress, every = _progress(problem, labels, where)
    return StartStack(
        engine,
        problem.model,
        starts,
        labels,
        problem.tol,
        accelerate=problem.tol > 0,
        scale=problem.scale if problem.scale is not None else np.ones(problem.X.shape[1]),
        progress=progress,
        report_every=every,
        finisher=newton_finish_for(engine, problem.model, problem.tol),
    )


def _run_one(
    problem: Problem,
    engine: Any,
    params: Parameters,
    max_iter: int,
    label: str,
    previous: Sequence[float] = (),
) -> Run:
    """Plain EM from the user's or a warm start (``previous``: the history it continues)."""
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
    run.degenerate = problem.describe(run.params)
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


def start_pool(problem: Problem, X: np.ndarray, weights: np.ndarray, tag: str) -> StartPool:
    """The pool of partitions of the rows X (made once per seed, rows and kind of rows,
    then shared)."""
    key = (problem.pool_seed, X.shape[0], tag)
    if key not in problem.pools:
        shifted = np.asarray(X, dtype=np.float64) - problem.shift
        problem.pools[key] = StartPool(shifted, np.asarray(weights, dtype=np.float64), key[0])
    return problem.pools[key]


def _pool_runs(problem: Problem) -> list[Run]:
    """The default starts: the pool's partitions race; on a sample first for large data."""
    sample, sample_weights = _screening_sample(problem)
    X = problem.X
    where = "all rows" if sample is X else f"a sample of {sample.shape[0]} rows"
    engine = problem.engine_for(sample, sample_weights)
    rows, row_weights, fraction, tag = _starting_rows(problem, sample, sample_weights)
    made = engine if rows is sample else None  # the engine's features are those rows
    with single_threaded_blas():
        pool = start_pool(problem, rows, row_weights, tag)
        counts = pool_counts(rows.shape[0], problem.n_components, rows.shape[1])
        partitions = pool.partitions(problem.n_components, counts)

    def start(kind: str, labels: np.ndarray) -> tuple[str, Parameters]:
        params = _partition_parameters(problem, made, labels, rows, row_weights)
        return kind, params if fraction is None else with_noise_weight(params, fraction)

    jobs = (partial(start, kind, labels) for kind, labels in partitions)
    kinds, starts = zip(*_surviving(jobs), strict=True)
    stack = _stack(problem, engine, list(starts), list(kinds), where)
    # on a sample, an optimum that ends more than the sample's slack below the best's
    # would not go on to all rows: a start or move that cannot get that far stops
    slack = None if sample is X else _sample_slack(problem, sample_weights, sample.shape[1])
    race, margin = (RACE, problem.tol) if slack is None else (True, -slack)
    runs = run_stack(stack, problem.max_iter, problem.describe, race=race, margin=margin)
    runs = _split_and_merge(problem, engine, runs, pool, rows, row_weights, start, where, slack)
    if sample is X:
        return runs
    distinct = _distinct_optima(problem, runs, sample, sample_weights, SCREEN_KEEP)
    kept = _worth_continuing(problem, distinct, sample, sample_weights)
    full = problem.engine_for(X, problem.weights)
    names = [f"{index}:{run.start}" for index, run in enumerate(kept)]
    stack = _stack(problem, full, [run.params for run in kept], names, "all rows")
    finished = run_stack(stack, problem.max_iter, problem.describe, race=RACE, margin=problem.tol)
    before = dict(zip(names, kept, strict=True))
    return [
        replace(run, start=before[run.start].start, n_iter=run.n_iter + before[run.start].n_iter)
        for run in finished
    ]


def _split_and_merge(
    problem: Problem,
    engine: Any,
    runs: list[Run],
    pool: StartPool,
    rows: np.ndarray,
    row_weights: np.ndarray,
    start: Callable[[str, np.ndarray], tuple[str, Parameters]],
    where: str,
    slack: float | None = None,
) -> list[Run]:
    """The runs, with those of split-and-merge moves from the best sound optimum
    (:mod:`bayesgmm.em.split_merge`), round after round while the best rises by more
    than ``tol`` per row (at most :data:`~bayesgmm.em.split_merge.ROUNDS` rounds).

    A round's moves start from the best fit's labels of the pool's rows; their runs
    join the others, best first by (sound, value). With ``slack`` (the rows are a
    sample), a move stops once it cannot end above the best's value less ``slack``
    (:func:`~bayesgmm.em.batch.run_stack`'s ``against``); without, every move the
    screen keeps runs to its end."""
    n_components = problem.n_components
    if n_components < 2 or problem.tol <= 0 or problem.max_iter <= 0:
        return runs
    rng = np.random.default_rng([problem.pool_seed, n_components, 1])
    shifted = np.asarray(rows, dtype=np.float64) - problem.shift
    for round_index in range(ROUNDS):
        best = next((run for run in runs if not run.degenerate), None)
        if best is None or not best.converged:  # moves are from an optimum, not a stop
            return runs
        resp = _component_responsibilities(problem, best.params, shifted)
        with single_threaded_blas():
            moves = split_merge_partitions(pool.space("kmeans-std"), row_weights, resp, rng)
        if not moves:
            return runs
        jobs = (partial(start, f"split-merge {round_index + 1}", labels) for labels in moves)
        try:
            kinds, starts = zip(*_surviving(jobs), strict=True)
        except CovarianceError:  # every move's start collapsed
            return runs
        stack = _stack(problem, engine, list(starts), list(kinds), where)
        moved = run_stack(
            stack,
            problem.max_iter,
            problem.describe,
            race=RACE,
            margin=problem.tol,
            screen=(MOVE_BURST, MOVE_KEEP),
            against=None if slack is None else best.history[-1] - slack,
        )
        runs = sorted(runs + moved, key=lambda run: (bool(run.degenerate), -run.history[-1]))
        better = next((run for run in moved if not run.degenerate), None)
        if better is None or better.history[-1] <= best.history[-1] + problem.tol:
            return runs
    return runs


def _weighted_log_densities(problem: Problem, params: Parameters, X: np.ndarray) -> np.ndarray:
    """``log pi_k + log f_k(x_n)`` (N, K) of the mixture's components at the shifted rows X."""
    model = problem.model
    density = model.log_density(
        X, params.means, model.from_storage(params.prec), problem.family, params.dof
    )
    with np.errstate(divide="ignore"):
        return density + np.log(params.weights[: problem.n_components])


def _component_responsibilities(problem: Problem, params: Parameters, X: np.ndarray) -> np.ndarray:
    """Responsibilities (N, K) of the mixture's components for the shifted rows X (a
    noise component, where there is one, left out: the rows are those it does not own)."""
    return np.exp(log_mixture_density(_weighted_log_densities(problem, params, X))[1])


def _row_log_likelihoods(problem: Problem, params: Parameters, X: np.ndarray) -> np.ndarray:
    """``log p(x_n)`` of each of the rows X (not shifted) under the mixture, noise included."""
    weighted = _weighted_log_densities(problem, params, np.asarray(X, np.float64) - problem.shift)
    noise_weight = None if problem.log_vinv is None else params.weights[problem.n_components]
    return log_mixture_density(with_noise_column(weighted, noise_weight, problem.log_vinv))[0]


def _sample_slack(problem: Problem, weights: Any, n_features: int) -> float:
    """``P / n + tol``: P the free parameters, n the effective size of a sample of rows
    with these weights (the order of what fitting to the sample adds to an optimum's
    value per row, by different amounts for different optima)."""
    weights = np.asarray(weights, dtype=np.float64)
    k = problem.n_components
    n_parameters = (k - 1) + k * n_features + problem.model.n_parameters(k, n_features)
    effective_rows = weights.sum() ** 2 / (weights @ weights)
    return n_parameters / effective_rows + problem.tol


def _worth_continuing(problem: Problem, runs: list[Run], X: Any, weights: Any) -> list[Run]:
    """The runs (best first, distinct) that may still be best on all rows.

    A run goes on unless its mean log-likelihood on the sample X is below the best's by
    more than :data:`SAMPLE_ERRORS` standard errors of the weighted mean of the per-row
    difference (how far the sample's difference may be from all rows'), plus ``P / n``
    (P free parameters, n the sample's effective size: the order of what fitting the
    parameters to the sample adds to each optimum's value, which re-fitting on all
    rows takes back, by different amounts for different optima), plus ``tol``.

    Every run goes on when the best is degenerate, or when the rows' log-likelihoods
    are not all finite (missing values: the sample's rows are not complete).
    """
    if len(runs) < 2 or runs[0].degenerate:
        return runs
    weights = np.asarray(weights, dtype=np.float64)
    total = weights.sum()
    slack = _sample_slack(problem, weights, X.shape[1])
    best = _row_log_likelihoods(problem, runs[0].params, X)
    kept = [runs[0]]
    for run in runs[1:]:
        difference = best - _row_log_likelihoods(problem, run.params, X)
        if not np.isfinite(difference).all():
            return runs
        mean = weights @ difference / total
        error = np.sqrt(weights**2 @ (difference - mean) ** 2) / total
        if mean <= SAMPLE_ERRORS * error + slack:
            kept.append(run)
    return kept


def _distinct_optima(
    problem: Problem, runs: list[Run], X: Any, weights: Any, count: int
) -> list[Run]:
    """The first ``count`` runs (best first) that are not at the optimum of a better one.

    Two runs are at one optimum when, on the rows X, their mean log-likelihoods differ by
    at most ``tol`` and their per-row log-likelihoods have a (weighted) standard deviation
    of the difference of at most ``sqrt(SAME_OPTIMUM_VARIANCE * tol)``. Why: a run whose
    value is g below an optimum differs from it per row by about the score times the
    parameters' displacement, of variance about 2 g (the information identity); each run
    has stopped within about ``tol`` of its optimum, so two runs at one optimum differ
    with variance at most 8 ``tol``; :data:`SAME_OPTIMUM_VARIANCE` allows four times that
    for components that do not fit their clusters' shape (the identity's two matrices
    differ). Runs at distinct optima of equal value (a symmetry of the data) differ per
    row by the log-density of the rows they place differently, and stay apart; a
    relabelling of the same optimum differs by nothing.

    When the rows' log-likelihoods are not all finite (missing values: the sample's rows
    are not complete), runs are one optimum only when their values agree to 1e-9.
    """
    weights = np.asarray(weights, dtype=np.float64) / np.sum(weights, dtype=np.float64)
    tol = max(problem.tol, 0.0)
    rows: dict[int, np.ndarray] = {}  # the runs' row log-likelihoods, made when needed

    def row_values(index: int) -> np.ndarray:
        if index not in rows:
            rows[index] = _row_log_likelihoods(problem, runs[index].params, X)
        return rows[index]

    def same(index: int, other: int) -> bool:
        value, other_value = runs[index].history[-1], runs[other].history[-1]
        if abs(value - other_value) > tol:
            return False
        difference = row_values(other) - row_values(index)
        if not np.isfinite(difference).all():
            return abs(value - other_value) <= 1e-9 * abs(value)
        mean = weights @ difference
        spread = weights @ (difference - mean) ** 2
        return abs(mean) <= tol and spread <= SAME_OPTIMUM_VARIANCE * tol

    kept: list[int] = []
    for index in range(len(runs)):
        if len(kept) == count:
            break
        if not any(same(index, other) for other in kept):
            kept.append(index)
    return [runs[index] for index in kept]


def _surviving(jobs: Iterable[Callable[[], Any]]) -> list[Any]:
    """The outcomes of the jobs whose covariances stayed positive definite.

    A start whose component collapses below the floor is dropped, as a degenerate start
    would lose to a sound one; when every start fails, the first failure is raised.
    """
    outcomes, failure = [], None
    for job in jobs:
        try:
            outcomes.append(job())
        except CovarianceError as error:
            logger.info("a start is dropped: %s", error)
            failure = failure or error
    if not outcomes:
        raise failure
    return outcomes


def run_starts(
    problem: Problem,
    starts: list[str],
    screen: bool,
    warm: Parameters | None = None,
    previous: Sequence[float] = (),
) -> list[Run]:
    """Run every start: the pool's racing (``starts == ["pool"]``), the user's or a warm
    start with plain EM, or the named methods' starts each to the end.

    ``warm`` is the "warm" start's parameters and ``previous`` the mean log-likelihoods
    that led to them, which its stopping rule continues.
    """
    if starts == ["pool"]:
        return _pool_runs(problem)
    engine = problem.engine_for(problem.X, problem.weights)
    if starts in (["warm"], ["user"]):
        params = warm if starts == ["warm"] else start_parameters(problem, "user", None, None)
        before = previous if starts == ["warm"] else ()
        run = _run_one(
            problem, engine, params, problem.max_iter, f"start 0 ({starts[0]}, all rows)", before
        )
        return [replace(run, start=starts[0])]
    jobs = (
        partial(lambda start: (start, start_parameters(problem, start, problem.X, problem.weights)),
                start)
        for start in starts
    )  # fmt: skip
    kinds, params = zip(*_surviving(jobs), strict=True)
    stack = _stack(problem, engine, list(params), list(kinds), "all rows")
    return run_stack(stack, problem.max_iter, problem.describe, race=False, margin=problem.tol)
