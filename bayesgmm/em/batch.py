"""Every start of one fit as one stack of parameters, run in rounds; hopeless starts stop.

A round runs each live start for some more iterations, all starts in one compiled call
on the compiled engine (small in-memory data: no Python work per start or per
iteration), start by start on the others; a start that ends (converges, or reaches
``max_iter``) gets the E-step of its final parameters in the same call. Between rounds,
when racing, a start stops early if it cannot catch up (:func:`hopeless`):

    after at least :data:`MIN_ITERATIONS` iterations, a start whose log-likelihood is
    contracting towards a limit below the leader's current value plus ``margin`` (per
    observation) is stopped; its limit is projected optimistically, with the largest
    rate of its last :data:`RATE_WINDOW` gains and :data:`OPTIMISM` times the gain
    still to come that rate gives.

The leader is the start with the highest value that is not known to be degenerate. EM
never lowers its value, so a stopped start could at most have ended a little above where
the leader is now, if its projection holds; a start heading for the leader's own optimum
is stopped by the same rule (it cannot end above it), so the slow tail of convergence is
run once per optimum. The starts that end are checked for degeneracy best first; when
the best of them is degenerate, it can no longer lead, and the stopped starts resume
(those still hopeless against a sound leader stop again at once).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..covariance import CovarianceModel, not_positive_definite
from ..covariance.layout_kernels import NO_FAILURE, SHARED_FAILURE
from ..covariance.prior_kernels import prior_penalty
from ..interrupts import raise_if_interrupted
from ..kernels.compile import kernel
from .acceleration import (
    PENDING,
    accelerated_em_steps,
    compiled_accelerated_em_steps,
    end_cycle,
    new_controls,
)
from .loop import Parameters, Run, compiled_em_steps, em_steps
from .newton_finish import FINISH_AFTER, SLOW_RATE, NewtonFinish

__all__ = [
    "AGAINST_CHECKPOINTS",
    "EARLY_OPTIMISM",
    "MIN_ITERATIONS",
    "OPTIMISM",
    "RATE_WINDOW",
    "StartStack",
    "hopeless",
    "run_stack",
    "screen_ranking",
]

#: A start runs at least this many iterations before the rule may stop it.
MIN_ITERATIONS = 10
#: Checkpoints, before :data:`MIN_ITERATIONS`, at which a start run ``against`` a value
#: (a move from an optimum) may already be stopped. Its first plain SQUAREM cycle, three
#: recorded values, gives a rate and a gain of EM alone; a move starts next to an optimum,
#: not from a partition far from any, so where it is heading shows that early.
AGAINST_CHECKPOINTS = (3, 6)
#: The optimism of :func:`hopeless` at those early checkpoints, ten times the later one:
#: a rate from the first cycle's two gains can be far below the rate that follows (a
#: move climbing towards a saddle and past it). Moves raced so on small data against
#: their optimum lost 66 of 630 cells at the later optimism, 21 at this one, 17 when
#: first judged at 10 iterations (benchmarks/README.md).
EARLY_OPTIMISM = 100.0
#: Gains whose largest ratio is the projected rate of convergence.
RATE_WINDOW = 5
#: The gain still to come is projected this many times larger than that rate gives.
OPTIMISM = 10.0

#: A start's status. DROPPED: stopped by the race or the screen (it may resume when the
#: best run that ended is degenerate); BEATEN: stopped because it cannot end above the
#: value the stack is run ``against`` (it never resumes).
LIVE, CONVERGED, STOPPED, FAILED, DROPPED, BEATEN = 0, 1, 2, 3, 4, 5


def _round_of(engine, model, layout, family, data, stack, stats, scratch, controls, units,
              histories, done, stop, status, failures, finals, max_iter, tol,
              accelerate):  # fmt: skip
    """One round of every live start, each run by :func:`em_steps` (plain EM) or
    :func:`accelerated_em_steps` (SQUAREM) up to its ``stop``; compiled as
    :data:`_compiled_round`."""
    weights, means, covariances, prec, dof = stack
    t1s, t2s, t3s = scratch
    mean_units, covariance_units, log_variances = units
    for s in range(weights.shape[0]):
        if status[s] != LIVE or done[s] >= stop[s]:
            continue
        params = (weights[s], means[s], covariances[s], prec[s], dof[s])
        t3 = (t3s[0][s], t3s[1][s], t3s[2][s], t3s[3][s], t3s[4][s])
        if accelerate:
            t1 = (t1s[0][s], t1s[1][s], t1s[2][s], t1s[3][s], t1s[4][s])
            t2 = (t2s[0][s], t2s[1][s], t2s[2][s], t2s[3][s], t2s[4][s])
            accel = (t1, t2, t3, controls[s], mean_units, covariance_units, log_variances)
            n_iter, converged, failed = accelerated_em_steps(
                engine, model, layout, family, data, params, stats, accel, histories[s],
                done[s], stop[s], tol,
            )  # fmt: skip
        else:
            n_iter, converged, failed = em_steps(
                engine, model, layout, family, data, params, stats, histories[s],
                done[s], stop[s], tol,
            )  # fmt: skip
        done[s] = n_iter
        if failed != NO_FAILURE:
            status[s] = FAILED
            failures[s] = failed
        elif converged or n_iter >= max_iter:
            status[s] = CONVERGED if converged else STOPPED
            end_cycle(t3, params, controls[s])
            finals[s] = engine.e_step(layout, family, data, params, stats)
            finals[s] += prior_penalty(params, stats)


def _compiled_twin(function: Callable, **replacements: Callable) -> Callable:
    """``function``'s code with some of its global names bound to compiled functions.

    The round's body is written once (:func:`_round_of`, run in Python for engines whose
    ``e_step`` is Python) and compiled with the compiled steps in place of the Python
    ones. Not as a closure over them: numba keys a closure's disk cache by the pickled
    cell contents, and a dispatcher pickles with a fresh identifier in every process, so
    a closure's cache never hits and the round (seconds per covariance model) would be
    compiled again in every process.
    """
    bound = {**function.__globals__, **replacements}
    twin = types.FunctionType(function.__code__, bound, function.__name__)
    twin.__doc__ = function.__doc__
    return twin


#: A round compiled (the compiled engine's e_step): no Python work per start or iteration.
_compiled_round = kernel(
    _compiled_twin(
        _round_of,
        em_steps=compiled_em_steps,
        accelerated_em_steps=compiled_accelerated_em_steps,
    )
)


def hopeless(
    history: np.ndarray,
    leader: float,
    margin: float,
    plain: tuple[float, float] | None = None,
    optimism: float = OPTIMISM,
) -> bool:
    """Whether a start with these mean log-likelihoods cannot end above ``leader + margin``.

    The limit is projected optimistically: the largest ratio of consecutive gains among
    the last :data:`RATE_WINDOW` is the rate, and :data:`OPTIMISM` times the gain it
    leaves to come is added. A start whose gains do not shrink is never hopeless. An
    accelerated start's history has jumps in it: ``plain`` gives instead the rate and
    size of its latest gain between plain EM steps (where EM alone is heading).

    Examples
    --------
    The gains halve: the limit is -1.0, projected optimistically at -1.125 + 10 x 0.125.

    >>> hopeless(np.array([-3.0, -2.0, -1.5, -1.25, -1.125]), leader=0.2, margin=0.0)
    True
    >>> hopeless(np.array([-3.0, -2.0, -1.5, -1.25, -1.125]), leader=0.1, margin=0.0)
    False
    """
    if plain is not None:
        rate, gain = plain
    else:
        gains = np.diff(history[-(RATE_WINDOW + 1) :])
        if len(gains) < 2:
            return False
        gain = gains[-1]
        if gain > 0:
            previous, later = gains[:-1], gains[1:]
            if np.any(previous <= 0):
                return False
            rate = float(np.max(later / previous))
    if not gain > 0:
        return bool(history[-1] < leader + margin) if gain <= 0 else False
    if not 0 <= rate < 1:
        return False
    remaining = optimism * gain * rate / (1 - rate)
    return bool(history[-1] + remaining < leader + margin)


@dataclass
class _Units:
    """The coordinates of SQUAREM's jump for one model on these data."""

    means: np.ndarray
    covariances: np.ndarray
    log_variances: bool


def _jump_units(model: CovarianceModel, n_components: int, scale: np.ndarray) -> _Units:
    layout = model.layout
    n_features = len(scale)
    shape = layout.storage_shape(n_components, n_features)
    means = np.ascontiguousarray(np.tile(scale, n_components))
    if layout.diagonal:
        return _Units(means, np.ones(int(np.prod(shape))), True)
    pair = np.outer(scale, scale)
    covariances = np.broadcast_to(pair, shape).ravel().copy()
    return _Units(means, covariances, False)


class StartStack:
    """The starts of one fit, stacked, with their histories and status.

    Parameters
    ----------
    engine : an engine of :mod:`bayesgmm.em.engines`
    model : CovarianceModel
    starts : sequence of Parameters
        Each start's initial parameters (copied).
    labels : sequence of str
        Each start's name.
    tol : float
    accelerate : bool
        SQUAREM (:mod:`bayesgmm.em.acceleration`) instead of plain EM steps.
    scale : ndarray of shape (n_features,)
        Positive scale per feature: the units of the jump's coordinates.
    progress : callable or None, default=None
        Called as ``progress(start, n_iter, mean_log_likelihood)`` after every call
        that advanced a start, at most ``report_every`` iterations apart.
    report_every : int or None, default=None
    finisher : NewtonFinish or None, default=None
        Newton's method for runs that EM would take long to finish
        (:mod:`bayesgmm.em.newton_finish`; one-dimensional data); None: EM alone.
    """

    def __init__(
        self,
        engine: Any,
        model: CovarianceModel,
        starts: Sequence[Parameters],
        labels: Sequence[str],
        tol: float,
        accelerate: bool,
        scale: np.ndarray,
        progress: Callable[[int, int, float], None] | None = None,
        report_every: int | None = None,
        finisher: NewtonFinish | None = None,
    ) -> None:
        self.progress, self.report_every = progress, report_every
        self.finisher = finisher
        self._finish_failed = np.zeros(len(starts), dtype=bool)
        self.engine, self.model, self.tol, self.accelerate = engine, model, tol, accelerate
        self.labels = list(labels)
        arrays = [start.arrays() for start in starts]
        self.stack = tuple(
            np.ascontiguousarray(np.stack(part)) for part in zip(*arrays, strict=True)
        )
        n_starts, n_components = self.stack[1].shape[:2]  # the weights: + 1 with noise
        self.stats = engine.new_statistics(model, n_components)
        # each start's SQUAREM cycle (three iterates and its control) lasts across calls
        self.scratch = tuple(tuple(np.empty_like(a) for a in self.stack) for _ in range(3))
        self.controls = new_controls(n_starts)
        units = _jump_units(model, n_components, np.asarray(scale, dtype=np.float64))
        self.units = (units.means, units.covariances, units.log_variances)
        self.histories = np.empty((n_starts, 0))
        self.done = np.zeros(n_starts, dtype=np.int64)
        self.status = np.full(n_starts, LIVE, dtype=np.int64)
        self.failures = np.full(n_starts, NO_FAILURE, dtype=np.int64)
        self.finals = np.full(n_starts, np.nan)
        self._compiled = getattr(engine, "name", "") == "compiled"

    def __len__(self) -> int:
        return len(self.labels)

    def params(self, s: int) -> Parameters:
        """A copy of start ``s``'s parameters: the M-step after its last recorded value
        (a SQUAREM jump not yet judged, where a round ended on one, is left out)."""
        parts = self.scratch[2] if self.controls[s, PENDING] else self.stack
        return Parameters(*(np.array(part[s]) for part in parts))

    def value(self, s: int) -> float:
        """Start ``s``'s latest mean log-likelihood: at its final parameters once it ended,
        else its last recorded one (-inf before any)."""
        if self.status[s] in (CONVERGED, STOPPED):
            return float(self.finals[s])
        return float(self.histories[s, self.done[s] - 1]) if self.done[s] else -np.inf

    def advance(self, stop: int, max_iter: int) -> None:
        """Run every live start up to ``stop`` recorded iterations, or to its end."""
        if stop + 1 > self.histories.shape[1]:
            grown = np.empty((len(self), max(stop + 1, 2 * self.histories.shape[1])))
            grown[:, : self.histories.shape[1]] = self.histories
            self.histories = grown
        per_call = max(1, int(getattr(self.engine, "iterations_per_call", 1 << 30)))
        while True:
            live = (self.status == LIVE) & (self.done < stop)
            if not live.any():
                return
            # bound one call's work, so that an interrupt is seen within ~20 ms
            share = self.report_every or max(8, per_call // int(live.sum()))
            target = np.where(live, np.minimum(stop, self.done + share), self.done)
            self._round(target, max_iter)
            raise_if_interrupted()  # one that numba's compiler swallowed (the first call)
            if self.progress is not None:
                for s in np.flatnonzero(live):
                    self.progress(int(s), int(self.done[s]), self.value(s))

    def _round(self, stop: np.ndarray, max_iter: int) -> None:
        args = (
            self.model.layout,
            self.engine.family,
            self.engine.data,
            self.stack,
            self.stats,
            self.scratch,
            self.controls,
            self.units,
            self.histories,
            self.done,
            stop,
            self.status,
            self.failures,
            self.finals,
            max_iter,
            self.tol,
            self.accelerate,
        )
        if self._compiled:
            _compiled_round(self.engine, self.model, *args)
        else:
            _round_of(self.engine, self.model, *args)

    def finish_slow(self) -> None:
        """Move the live starts that EM is slow to finish (plain rate at least
        :data:`~bayesgmm.em.newton_finish.SLOW_RATE`, after
        :data:`~bayesgmm.em.newton_finish.FINISH_AFTER` iterations) to EM's fixed point
        by Newton's method, where :attr:`finisher` reaches one. Such a start then goes on
        as after a SQUAREM jump: EM's stopping rule, on plain steps from there, ends it.
        A start whose finish failed is left to EM for good: where it failed (a component
        on a few rows, a ridge without a top in reach) it fails again, at the cost of
        tens of EM iterations an attempt."""
        factorise = self.model.kernels()["factorise"]
        due = (self.status == LIVE) & (self.done >= FINISH_AFTER) & ~self._finish_failed
        for s in np.flatnonzero(due):
            if not self.controls[s, 1] >= SLOW_RATE:  # inf: not measured yet
                continue
            finished = self.finisher.finish(self.params(s), factorise)
            if finished is None:
                self._finish_failed[s] = True
                continue
            for part, value in zip(self.stack, finished.arrays(), strict=True):
                part[s] = value
            control = self.controls[s]
            control[1], control[2] = np.inf, 0.0  # no plain rate measured from here
            control[3] = control[4] = control[PENDING] = control[6] = 0.0  # a new cycle

    def end_live(self) -> None:
        """End every live start where it is (its E-step gives the final value)."""
        for s in np.flatnonzero(self.status == LIVE):
            params = tuple(part[s] for part in self.stack)
            end_cycle(tuple(part[s] for part in self.scratch[2]), params, self.controls[s])
            self.finals[s] = self.engine.e_step(
                self.model.layout, self.engine.family, self.engine.data, params, self.stats
            ) + prior_penalty(params, self.stats)
            self.status[s] = STOPPED

    def run(self, s: int, degenerate: list[str]) -> Run:
        """Ended start ``s`` as a Run (history ending at its final parameters)."""
        n_iter = int(self.done[s])
        log_prior = 0.0
        if len(self.stats) > 8:  # a conjugate prior: its share of the final value
            params = tuple(part[s] for part in self.stack)
            self.engine.e_step(
                self.model.layout, self.engine.family, self.engine.data, params, self.stats
            )
            log_prior = float(prior_penalty(params, self.stats))
        return Run(
            self.params(s),
            [*self.histories[s, :n_iter].tolist(), float(self.finals[s])],
            bool(self.status[s] == CONVERGED),
            n_iter,
            degenerate,
            start=self.labels[s],
            log_prior=log_prior,
        )


def run_stack(
    stack: StartStack,
    max_iter: int,
    describe: Callable[[Parameters], list[str]],
    *,
    race: bool,
    margin: float,
    screen: tuple[int, int] | None = None,
    against: float | None = None,
) -> list[Run]:
    """Run every start of ``stack`` to convergence or ``max_iter``, stopping hopeless ones
    when ``race``. Returns the runs that ended, best first by (not degenerate, value).

    ``against`` is a value the starts are only worth running to beat (another run's
    optimum): at :data:`AGAINST_CHECKPOINTS`, then from :data:`MIN_ITERATIONS` iterations
    on at doubling checkpoints, a start that :func:`hopeless` says cannot end above
    ``against + margin`` stops for good and is not returned (when every start stops so,
    the result is empty). This holds whether or not the starts race each other.

    ``screen = (burst, keep)`` first runs every start ``burst`` iterations; then only the
    ``keep`` best of those still running go on (the short runs of Biernacki, Celeux &
    Govaert's 2003 "em-EM" strategy), those not degenerate at that point ranked first
    (one that is heading for a degenerate optimum climbs fastest); the others stop there
    and are not returned. While every run that ended is degenerate, the next ``keep`` of
    them (by value) go on.

    ``describe`` names a parameter set's degenerate components (the fit's
    :class:`~bayesgmm.em.degenerate.DegeneracyRule`); it is asked about the ended runs,
    best first, up to the first sound one. Raises the first failure's CovarianceError
    when every start failed.
    """
    verdicts: dict[int, list[str]] = {}  # ended starts looked at: their degenerate parts
    resumed: set[int] = set()  # degenerate best runs that made the stopped ones resume
    if screen is not None and max_iter > 0:
        burst, keep = screen
        if against is not None:  # the screen keeps the best of those that may beat it
            _early_checks(stack, max_iter, margin, against)
            for checkpoint in (MIN_ITERATIONS, burst):
                stack.advance(min(checkpoint, max_iter), max_iter)
                _stop_beaten(stack, margin, against)
        else:
            stack.advance(min(burst, max_iter), max_iter)
        live = np.flatnonzero(stack.status == LIVE)
        values = np.array([stack.value(s) for s in live])
        heading = np.array([bool(describe(stack.params(s))) for s in live])  # degenerate now
        stack.status[live[screen_ranking(values, heading)[keep:]]] = DROPPED
    while True:
        _race(stack, max_iter, race, margin, verdicts, against)
        ended = np.flatnonzero(np.isin(stack.status, (CONVERGED, STOPPED)))
        ended = ended[np.argsort(-stack.finals[ended], kind="stable")]
        for s in ended:
            if s not in verdicts:
                verdicts[s] = describe(stack.params(s))
            if not verdicts[s]:
                break
        top = int(ended[0]) if len(ended) else None
        dropped = np.flatnonzero(stack.status == DROPPED)
        if top is None or not verdicts[top] or not len(dropped):
            break
        if screen is None:  # the best ended degenerate: the stopped resume, once
            if top in resumed:
                break
            resumed.add(top)
        elif any(not verdicts[s] for s in ended if s in verdicts):
            break  # a sound run ended: the screened out stay out
        else:  # every run that ended is degenerate: the next ``keep`` screened out go on
            dropped = dropped[np.argsort([-stack.value(s) for s in dropped], kind="stable")]
            dropped = dropped[: screen[1]]
        stack.status[dropped] = LIVE
    if not len(ended) and np.any(stack.status == BEATEN):
        return []  # none could end above ``against``
    if not len(ended):  # every start failed: the first failure's error
        s = int(np.flatnonzero(stack.status == FAILED)[0])
        component = None if stack.failures[s] == SHARED_FAILURE else int(stack.failures[s])
        weight = None if component is None else float(stack.stack[0][s, component])
        raise not_positive_definite(component, weight)
    runs = [stack.run(s, verdicts.get(s, [])) for s in ended]
    runs.sort(key=lambda run: (bool(run.degenerate), -run.history[-1]))
    return runs


def screen_ranking(values: np.ndarray, degenerate: np.ndarray) -> np.ndarray:
    """The order in which a screen keeps starts: those not degenerate first, each group by
    value, highest first (ties by index).

    Examples
    --------
    >>> screen_ranking(np.array([-1.0, -0.5, -0.1]), np.array([False, False, True]))
    array([1, 0, 2])
    """
    return np.lexsort((-np.asarray(values), np.asarray(degenerate, dtype=bool)))


def _race(
    stack: StartStack,
    max_iter: int,
    race: bool,
    margin: float,
    verdicts: dict,
    against: float | None,
) -> None:
    """Advance the live starts to their end, by doubling checkpoints when racing or
    running ``against`` a value."""
    if max_iter <= 0:  # no iteration: each start ends at its initial parameters
        stack.end_live()
        return
    checking = race or against is not None or stack.finisher is not None
    checkpoint = MIN_ITERATIONS if checking else max_iter
    if against is not None:
        _early_checks(stack, max_iter, margin, against)
    while True:
        if against is not None:
            _stop_beaten(stack, margin, against)
        if race:
            _drop_hopeless(stack, margin, verdicts)
        stack.advance(min(checkpoint, max_iter), max_iter)
        if stack.finisher is not None:
            stack.finish_slow()
        if not np.any(stack.status == LIVE):
            return
        checkpoint *= 2


def _early_checks(stack: StartStack, max_iter: int, margin: float, against: float) -> None:
    """Advance the live starts to each of :data:`AGAINST_CHECKPOINTS`, stopping there those
    that cannot end above ``against + margin``."""
    for checkpoint in AGAINST_CHECKPOINTS:
        stack.advance(min(checkpoint, max_iter), max_iter)
        _stop_beaten(stack, margin, against, EARLY_OPTIMISM)


def _is_hopeless(
    stack: StartStack,
    s: int,
    value: float,
    margin: float,
    minimum: int = MIN_ITERATIONS,
    optimism: float = OPTIMISM,
) -> bool:
    """Whether live start ``s``, run at least ``minimum`` iterations, cannot end above
    ``value + margin`` (:func:`hopeless`, on the rate of its plain EM steps when SQUAREM
    jumps)."""
    if stack.done[s] < minimum:
        return False
    plain = tuple(stack.controls[s, 1:3]) if stack.accelerate else None
    return hopeless(stack.histories[s, : stack.done[s]], value, margin, plain, optimism)


def _stop_beaten(
    stack: StartStack, margin: float, against: float, optimism: float = OPTIMISM
) -> None:
    """Stop for good the live starts that cannot end above ``against + margin``."""
    for s in np.flatnonzero(stack.status == LIVE):
        if _is_hopeless(stack, s, against, margin, AGAINST_CHECKPOINTS[0], optimism):
            stack.status[s] = BEATEN


def _drop_hopeless(stack: StartStack, margin: float, verdicts: dict) -> None:
    """Stop the live starts that cannot catch up with the leader: the start of highest
    value not known to be degenerate."""
    candidates = [
        s
        for s in np.flatnonzero(np.isin(stack.status, (LIVE, CONVERGED, STOPPED)))
        if stack.done[s] > 0 and not verdicts.get(s)
    ]
    if not candidates:
        return
    leader = max(candidates, key=stack.value)
    best = stack.value(leader)
    for s in np.flatnonzero(stack.status == LIVE):
        if s != leader and _is_hopeless(stack, s, best, margin):
            stack.status[s] = DROPPED
