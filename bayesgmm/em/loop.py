"""The EM skeleton, written once: per start, E-step -> statistics -> M-step -> stopping rule.

:func:`em_steps` is the loop (as scikit-learn's ``BaseMixture.fit_predict`` holds it). It
is one Python source that runs in two ways: as Python, calling a Python engine's
``e_step`` (row blocks on threads, dask chunks), and compiled by numba
(:data:`compiled_em_steps`), calling a compiled engine's ``e_step`` for small data
whose every iteration then costs no Python work. Both call the same compiled M-step
(:func:`maximise`, through the covariance model's kernels) and the same compiled
stopping rule. :func:`run_em` drives one start: it calls the loop in chunks of
iterations (so an interrupt or a progress message never waits for a whole run),
raises the engine's error for a covariance that collapsed, and ends with the E-step
of the returned parameters.

State passed around (tuples of arrays, so compiled code can take them):

``params``
    ``(weights, means, covariances, prec, dof)``: in the layout's storage, shifted
    coordinates, updated in place (``dof``: a t family's degrees of freedom; ``weights``
    has K + 1 entries beside a noise component, the noise's last).
``stats``
    ``(T, data_second, reg, nk, scatter, counts, dof_stats, estimate_dof)``: the E-step's
    feature sums (scale-weighted for the t family), the data's second moment (shared
    layouts; scale-weighted and remade by each E-step for the t family and beside noise),
    the variance floor, the M-step's counts and regularised scatter, the E-step's counts
    (sums of responsibilities; the noise's last) and, for the t family, each component's
    ``sum r (log u - u)``, and
    whether to estimate the degrees of freedom (a 1-element bool array); with a
    conjugate prior, a ninth entry: the prior's arrays
    (:mod:`bayesgmm.covariance.prior_kernels`), which make the M-step MAP EM's and add
    the log-prior to the history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..covariance import CovarianceModel, not_positive_definite
from ..covariance.layout_kernels import NO_FAILURE, SHARED_FAILURE
from ..covariance.prior_kernels import apply_prior, prior_of, prior_penalty
from ..kernels.compile import kernel
from .stopping import aitken_converged

__all__ = ["em_steps", "compiled_em_steps", "maximise", "run_em", "Run", "Parameters"]


@dataclass(frozen=True)
class Parameters:
    """A mixture's parameters in the layout's storage and the engine's shifted coordinates.

    ``dof`` holds each component's degrees of freedom (Student-t family); the Gaussian
    family ignores it (None stands for infinity).
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    prec: np.ndarray
    dof: np.ndarray | None = None

    def arrays(self) -> tuple[np.ndarray, ...]:
        """C-ordered float64 copies, as the loop updates them in place."""
        dof = np.full(len(self.means), np.inf) if self.dof is None else self.dof
        return tuple(
            np.array(value, dtype=np.float64, order="C")
            for value in (self.weights, self.means, self.covariances, self.prec, dof)
        )


@dataclass
class Run:
    """One start's outcome."""

    params: Parameters
    history: list[float]
    converged: bool
    n_iter: int
    degenerate: list[str]
    start: str = ""
    #: The earlier history this run continued (a warm start on the same data), else empty.
    continued: list[float] = field(default_factory=list)
    #: With a conjugate prior, the history is the mean log-likelihood plus this mean
    #: log-prior (per observation, at the returned parameters); 0 without one.
    log_prior: float = 0.0


@kernel
def maximise(model, family, params, stats):
    """The M-step: weights, means, covariances (and a family's degrees of freedom) from
    the E-step's sums, in place.

    With a noise component, ``weights`` and ``counts`` have one more entry (the
    noise's, last): its weight is its share of the counts, like a component's. With a
    conjugate prior (``stats[8]``, :mod:`bayesgmm.covariance.prior_kernels`) the means,
    scatter and counts become the posterior ones before the model's estimate; the
    weights stay the counts' shares, as in mclust.

    Returns the first component whose covariance is not positive definite (-2: the
    shared one), or -1.
    """
    weights, means, covariances, prec, dof = params
    T, data_second, reg, nk, scatter, counts = stats[:6]
    n_components = nk.shape[0]
    for k in range(n_components):
        nk[k] = counts[k]
    model.statistics(T, data_second, reg, nk, means, scatter)
    total = 0.0
    for k in range(n_components):
        total += nk[k]
    for k in range(n_components, weights.shape[0]):  # the noise component, if any
        total += counts[k]
    for k in range(weights.shape[0]):
        weights[k] = (nk[k] if k < n_components else counts[k]) / total
    apply_prior(prior_of(stats), nk, means, scatter)
    model.estimate(nk, scatter, means.shape[1], covariances)
    failed = model.factorise(covariances, prec)
    family.update_dof(counts, stats[6], means.shape[1], dof, stats[7])
    return failed


def em_steps(engine, model, layout, family, data, params, stats, history, first, last, tol):
    """EM iterations ``first .. last - 1`` of one start; ``history[i]`` gets the mean
    log-likelihood of iteration i's E-step (plus the mean log-prior, with a conjugate
    prior: the objective of MAP EM). Returns (iterations done, converged, failed
    component or -1).

    The E-step takes the model's kernel layout (``model.layout``) and the family, the
    M-step the model and the family: compiled, the E-step is then made once per layout
    and family, not once per model.
    """
    n_iter = first
    for iteration in range(first, last):
        n_iter = iteration + 1
        history[iteration] = engine.e_step(layout, family, data, params, stats)
        history[iteration] += prior_penalty(params, stats)
        failed = maximise(model, family, params, stats)
        if failed != NO_FAILURE:
            return n_iter, False, failed
        if aitken_converged(history, n_iter, tol):
            return n_iter, True, NO_FAILURE
    return n_iter, False, NO_FAILURE


#: :func:`em_steps` compiled, for engines whose ``e_step`` is compiled.
compiled_em_steps = kernel(em_steps)


def run_em(
    engine: Any,
    model: CovarianceModel,
    start: Parameters,
    *,
    max_iter: int,
    tol: float,
    progress: Callable[[int, float], None] | None = None,
    report_every: int | None = None,
    previous: Sequence[float] = (),
) -> Run:
    """EM from ``start`` until the stopping rule holds or ``max_iter`` iterations ran.

    Parameters
    ----------
    engine : an engine of :mod:`bayesgmm.em.engines`
    model : CovarianceModel
    start : Parameters
        Starting parameters (copied).
    max_iter : int
        Most iterations (0: only the E-step of ``start``).
    tol : float
        Tolerance of the stopping rule (:mod:`bayesgmm.em.stopping`).
    progress : callable or None, default=None
        Called as ``progress(n_iter, mean_log_likelihood)`` after each chunk of
        iterations.
    report_every : int or None, default=None
        Iterations per chunk at most (None: the engine's choice).
    previous : sequence of float, default=()
        A warm start continuing an earlier run: that run's last mean log-likelihoods,
        the last one at ``start`` itself. When the E-step of ``start`` on these data
        gives that last value back (the same data), the stopping rule sees the earlier
        values before this run's; otherwise (new data) this run's history starts afresh.

    Returns
    -------
    Run
        Parameters, history (``n_iter + 1`` mean log-likelihoods: the last at the
        returned parameters), convergence and iteration count; ``degenerate`` empty.

    Raises
    ------
    CovarianceError
        When an M-step's covariance is not positive definite.
    """
    params = start.arrays()
    stats = engine.new_statistics(model, len(start.means))
    previous = _continued(engine, model, params, stats, previous)
    done = len(previous)
    history = np.empty(done + max_iter + 1)
    history[:done] = previous
    n_iter, converged = done, False
    chunk = engine.iterations_per_call if report_every is None else report_every
    while n_iter < done + max_iter and not converged:
        last = min(done + max_iter, n_iter + chunk)
        n_iter, converged, failed = engine.iterate(model, params, stats, history, n_iter, last, tol)
        if failed != NO_FAILURE:
            component = None if failed == SHARED_FAILURE else int(failed)
            weight = None if component is None else float(params[0][component])
            raise not_positive_definite(component, weight)
        if progress is not None:
            progress(n_iter - done, float(history[n_iter - 1]))
    history[n_iter] = engine.e_step(model.layout, engine.family, engine.data, params, stats)
    penalty = prior_penalty(params, stats)
    history[n_iter] += penalty
    return Run(
        Parameters(*params),
        history[done : n_iter + 1].tolist(),
        converged,
        n_iter - done,
        [],
        continued=previous,
        log_prior=float(penalty),
    )


def _continued(engine: Any, model: CovarianceModel, params: tuple, stats: tuple, previous) -> list:
    """The earlier history a warm start continues: all but its last value when the start's
    E-step gives that value back to rounding (the same data), else none."""
    if len(previous) < 2:
        return []
    value = engine.e_step(model.layout, engine.family, engine.data, params, stats)
    value += prior_penalty(params, stats)
    rounding = 64 * np.finfo(engine.dtype).eps * max(abs(previous[-1]), 1.0)
    return list(previous[:-1]) if abs(value - previous[-1]) <= rounding else []
