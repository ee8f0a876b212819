r"""Variational fits of the mixture model that converge: mean-field and full-rank ADVI.

ADVI fits a Gaussian :math:`q(\theta) = \mathcal N(m, S^{-1})` to the posterior in the
model's unconstrained space (diagonal precision ``S`` for ``"advi"``, dense for
``"fullrank_advi"``) by maximising the evidence lower bound (ELBO) with
reparameterised samples :math:`\theta = m \pm v`, :math:`v \sim \mathcal N(0, S^{-1})`.
PyMC's own optimiser (Adam on ``m`` and ``log sd``) takes steps of the same size in
every coordinate, while here the posterior's standard deviations shrink as
:math:`1/\sqrt N` and differ a hundredfold between coordinates: at N=100,000 it had not
met a convergence check after minutes. This module optimises the same objective, on the
same PyMC model (its compiled log-density and gradient), by natural-gradient steps
(the variational online Newton update of Khan & Rue's Bayesian learning rule):

.. math::

    C \leftarrow C + \beta G, \quad
    m \leftarrow m + \beta P^{-1} \bar g,

where :math:`C` estimates :math:`E_q[-\nabla^2 \log p]` (dense, started at the negative
Hessian at the EM solution by central differences of the gradient: the Laplace
approximation, which ADVI then refines), :math:`P` is the approximation's precision
(:math:`C` for full-rank, its diagonal for mean-field),
:math:`\bar g = \tfrac12[\nabla\log p(m+v) + \nabla\log p(m-v)]` from an antithetic pair
(for a near-Gaussian posterior the noise of the two cancels) and
:math:`G = \mathrm{sym}((y - C v)(P v)^\top)`, with
:math:`y = -\tfrac12[\nabla\log p(m+v) - \nabla\log p(m-v)]`, an unbiased estimate of
:math:`E_q[-\nabla^2 \log p] - C` (Stein's lemma; the :math:`-Cv` term is a control
variate that removes the estimate's noise as :math:`C` becomes right). Steps are
measured in posterior standard deviations in every coordinate, so they mean the same at
every N; a trust region keeps them safe: one step changes the precision in any direction
by a factor in [0.8, 1.25] (which also keeps it positive definite) and moves the mean by
at most one standard deviation. A fixed point is the ELBO's optimum:
:math:`E_q[\nabla \log p] = 0` and :math:`P = E_q[-\nabla^2\log p]` (its diagonal for
mean-field). Mean-field fits with more than ``DENSE_MAX`` parameters keep a diagonal
:math:`C`, started from a few antithetic probes instead of the Hessian.

**Minibatches.** With ``batch_size`` rows per step, the likelihood's gradient is
estimated with a control variate around an anchor :math:`\hat\theta` (the EM
solution; moved to the current mean when the mean drifts more than one standard
deviation away from it):
:math:`\nabla L(\theta) \approx \nabla L(\hat\theta) + \tfrac NB[\nabla L_B(\theta) -
\nabla L_B(\hat\theta)]`, unbiased, with a noise that vanishes as :math:`\theta \to
\hat\theta` (plain subsampling, :math:`\tfrac NB \nabla L_B(\theta)`, has noise of
:math:`\sqrt{N/B}` posterior standard deviations per step and needs about a hundred
passes over the data to average it away).

**Convergence criterion.** Every ``window`` steps the iterates' window averages of
``m`` and of ``log sd`` (sd from :math:`S^{-1}`) are compared with the previous
window's: the fit has converged when no coordinate's mean moved by more than ``tol``
standard deviations and no standard deviation changed by more than a factor
``exp(tol)``. The step ``beta`` decays as ``beta0 / (1 + windows / 10)`` (Robbins-Monro)
so that the iterates' noise shrinks and the averages settle. The approximation
returned is the last window's average (Polyak averaging).

References
----------
Kucukelbir, Tran, Ranganath, Gelman & Blei (2017), Automatic differentiation
variational inference, JMLR 18. Khan & Rue (2023), The Bayesian learning rule, JMLR 24.
 Baker, Fearnhead, Fox & Nemeth (2019), Control variates for
stochastic gradient MCMC, Statistics and Computing 29.
"""

from __future__ import annotations

import logging
import time
import warnings
import weakref
from contextlib import nullcontext
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ...exceptions import SamplerWarning
from ..density import PosteriorDensity
from ..model import (
    DATA_NAME,
    OBSERVED_NAME,
    PARAMETER_NAMES,
    WEIGHT_NAME,
    model_sample_weight,
    reported_names,
)
from ..progress import DelayedProgress
from .base import RunSettings, model_frame, posterior_idata
from .rows import RowSource

__all__ = ["VARIATIONAL_METHODS", "fit_variational", "resolve_batch_size", "run"]

logger = logging.getLogger(__name__)

VARIATIONAL_METHODS = ("advi", "fullrank_advi")
AUTO_BATCH_ROWS = 20_000
"""Rows per step of ``batch_size="auto"``; data with fewer rows are used whole."""
MIN_BATCH_ROWS = 50
"""Fewest rows per step: a step's curvature estimate comes from its rows alone, and with
a handful of them most steps see one component only (with one row the fit converged
to sds twenty times too wide and means between the clusters)."""
FULL_DATA_CHECK = (1.0, 2.0)
"""A minibatch fit passes the full-data check when its mean is within this many sds of
the full data's Newton point and its sds within this factor of the full data's."""


def resolve_batch_size(batch_size: Any, n_samples: int) -> int | None:
    """Rows per optimisation step: None for the whole data, else an int below N.

    Parameters
    ----------
    batch_size : int, "auto" or None
        None: every step uses all rows. "auto": ``AUTO_BATCH_ROWS`` rows when the data
        have more than twice as many, else all rows. An int: that many rows (all rows
        when it is N or more).
    n_samples : int
        Rows of the data.

    Returns
    -------
    int or None

    Examples
    --------
    >>> resolve_batch_size("auto", 1_000_000), resolve_batch_size("auto", 5000)
    (20000, None)
    >>> resolve_batch_size(500, 400) is None
    True
    >>> resolve_batch_size(10, 400)
    Traceback (most recent call last):
    ...
    ValueError: batch_size=10 is too small: ...
    """
    if batch_size is None:
        return None
    if isinstance(batch_size, str):
        if batch_size != "auto":
            raise ValueError(
                f"batch_size must be a positive int, 'auto' or None; got {batch_size!r}."
            )
        return AUTO_BATCH_ROWS if n_samples > 2 * AUTO_BATCH_ROWS else None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(
            f"batch_size must be a positive int, 'auto' or None; got {type(batch_size).__name__}."
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, 'auto' or None; got {batch_size}.")
    if batch_size >= n_samples:
        return None
    if batch_size < MIN_BATCH_ROWS:
        raise ValueError(
            f"batch_size={batch_size} is too small: each ADVI step estimates the posterior's "
            f"curvature from its rows alone, and with fewer than {MIN_BATCH_ROWS} rows most "
            "steps miss whole components, a noise the stopping rule cannot tell from "
            f"convergence. Use batch_size >= {MIN_BATCH_ROWS}, 'auto' or None (every row)."
        )
    return int(batch_size)


class _WindowConvergence:
    """Window averages of the variational mean and log sd, and the stopping rule.

    ``update`` takes one iterate; after every ``window`` iterates it compares the
    window's averages with the previous window's and sets ``converged`` when no mean
    moved by ``tol`` standard deviations and no log sd by ``tol``.

    Examples
    --------
    >>> check = _WindowConvergence(window=2, tol=0.1)
    >>> for _ in range(4):
    ...     done = check.update(np.zeros(1), np.ones(1))
    >>> check.converged, check.change
    (True, 0.0)
    """

    def __init__(self, window: int, tol: float) -> None:
        self.window = window
        self.tol = tol
        self.windows = 0
        self.converged = False
        self.change = np.inf
        self.history: list[float] = []
        self._sum_mean: np.ndarray | None = None
        self._sum_precision: np.ndarray | None = None
        self._count = 0
        self.mean: np.ndarray | None = None  # last window's averages
        self.precision: np.ndarray | None = None
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, mean: np.ndarray, precision: np.ndarray) -> bool:
        """Add one iterate (mean and precision: vector for mean-field, matrix for
        full-rank); return True when a window ends."""
        if self._sum_mean is None:
            self._sum_mean = mean.copy()
            self._sum_precision = precision.copy()
        else:
            self._sum_mean += mean
            self._sum_precision += precision
        self._count += 1
        if self._count < self.window:
            return False
        self.mean = self._sum_mean / self._count
        self.precision = self._sum_precision / self._count
        self._sum_mean = self._sum_precision = None
        self._count = 0
        self.windows += 1
        log_sd = np.log(_marginal_sd(self.precision))
        if self._previous is not None:
            previous_mean, previous_log_sd = self._previous
            moved = np.abs(self.mean - previous_mean) / np.exp(log_sd)
            self.change = float(max(moved.max(), np.abs(log_sd - previous_log_sd).max()))
            self.history.append(self.change)
            self.converged = self.change < self.tol
        self._previous = (self.mean, log_sd)
        return True


def _marginal_sd(precision: np.ndarray) -> np.ndarray:
    if precision.ndim == 1:
        return 1.0 / np.sqrt(precision)
    return np.sqrt(np.diag(np.linalg.inv(precision)))


class _Gradient:
    """Gradient of the log posterior (unconstrained, raveled), on all rows or on
    minibatches with a control variate around an anchor; counts evaluations.

    ``function(x, rows, scale, row_weights)`` evaluates the log prior plus ``scale``
    times the (row-weighted, unless ``row_weights`` is None) log-likelihood of ``rows``;
    ``source`` (:class:`~bayesgmm.bayes.samplers.rows.RowSource`) holds the rows.
    """

    def __init__(self, function: Any, source: RowSource, batch_size: int | None) -> None:
        self.function = function
        self.source = source
        self.n_samples = source.n_samples
        self.batch_size = batch_size
        self.n_evals = 0
        self.rows_seen = 0
        self.anchor: np.ndarray | None = None
        self.anchor_grad: np.ndarray | None = None
        self.anchor_logp = 0.0

    def _call(self, x: np.ndarray, rows: np.ndarray, weights: Any, scale: float) -> tuple:
        self.n_evals += 1
        self.rows_seen += rows.shape[0]
        logp, grad = self.function(x, rows, np.asarray(scale), weights)
        return float(logp), np.asarray(grad)

    def full_many(self, points: list[np.ndarray]) -> list[tuple[float, np.ndarray]]:
        """Log posterior and gradient on every row at each point, in one pass."""
        self.n_evals += len(points)
        self.rows_seen += self.n_samples * len(points)
        return self.source.totals(self.function, points)

    def full(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log posterior and gradient on every row."""
        return self.full_many([x])[0]

    def set_anchor(self, x: np.ndarray) -> None:
        if self.batch_size is None:
            return
        self.anchor = x.copy()
        self.anchor_logp, self.anchor_grad = self.full(x)

    def pair(self, mean: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """At ``mean ± step``: average gradient, minus half the gradients' difference
        (a Hessian-vector product for a quadratic log-density) and the mean log-density."""
        if self.batch_size is None:
            plus, minus = self.full_many([mean + step, mean - step])
            base_logp, base_grad = 0.0, 0.0
        else:
            rows, weights = self.source.batch(self.batch_size)
            ratio = self.n_samples / self.batch_size
            plus = self._call(mean + step, rows, weights, ratio)
            minus = self._call(mean - step, rows, weights, ratio)
            at_anchor = self._call(self.anchor, rows, weights, ratio)
            base_logp = self.anchor_logp - at_anchor[0]
            base_grad = self.anchor_grad - at_anchor[1]
        average = 0.5 * (plus[1] + minus[1]) + base_grad
        difference = -0.5 * (plus[1] - minus[1])
        logp = 0.5 * (plus[0] + minus[0]) + base_logp
        return average, difference, logp


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Compiled functions per model, reused while the model lives and keeps its variables
(refits of one model, as a benchmark or a test does, compile once)."""


def _compile(model: Any, point: dict[str, np.ndarray]) -> tuple[Any, Any]:
    """(x, rows, scale, row_weights) -> (log prior + scale * log-likelihood of rows, its
    gradient), and x -> (weights, means, covariances); x is the raveled unconstrained
    vector, rows are in the data's units."""
    key = tuple(model.named_vars)
    cached = _COMPILED.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    compiled = _compile_new(model, point)
    _COMPILED[model] = (key, compiled)
    return compiled


def _compile_new(model: Any, point: dict[str, np.ndarray]) -> tuple[Any, Any]:
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import join_nonshared_inputs
    from pytensor.compile.mode import Mode
    from pytensor.graph.replace import graph_replace

    # PyTensor's "o1" rewrites: the same run time here as the default's, 3 s less to compile
    mode = Mode(linker="cvm", optimizer="o1")
    rows = pt.matrix("rows", dtype="float64")
    row_weights = pt.vector("row_weights", dtype="float64")
    scale = pt.scalar("scale", dtype="float64")
    terms = model.logp(sum=False)  # free variables' terms (with Jacobians), then observed
    n_free = len(model.free_RVs)
    prior = pt.add(*(term.sum() for term in terms[:n_free]))
    likelihood = pt.add(*(term.sum() for term in terms[n_free:]))
    (prior, likelihood), flat = join_nonshared_inputs(point, [prior, likelihood], model.value_vars)
    replace = {model[DATA_NAME]: rows}
    if WEIGHT_NAME in model.named_vars:
        replace[model[WEIGHT_NAME]] = row_weights
    likelihood = graph_replace(likelihood, replace, strict=False)
    logp = prior + scale * likelihood
    compiled = pytensor.function(
        [flat, rows, scale, row_weights],
        [logp, pt.grad(logp, flat)],
        mode=mode,
        on_unused_input="ignore",
    )
    compiled.trust_input = True

    def function(x: np.ndarray, values: np.ndarray, ratio: Any, weights: Any) -> Any:
        weights = np.ones(len(values)) if weights is None else np.ascontiguousarray(weights)
        return compiled(x, np.ascontiguousarray(values), np.asarray(ratio, np.float64), weights)

    names = reported_names(model)
    outputs = model.replace_rvs_by_values([model[name] for name in names])
    outputs, flat = join_nonshared_inputs(point, outputs, model.value_vars)
    expand = pytensor.function([flat], outputs, mode=mode)

    def parameters(x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(names, expand(x), strict=True))

    return function, parameters


def _density_functions(density: PosteriorDensity, in_data_units: bool) -> tuple[Any, Any]:
    """The two functions of :func:`_compile`, evaluated by the numba log posterior: on
    standardised rows, or on rows in the data's units (``in_data_units``), standardised
    as the density's ``standardisation`` says (its value then differs from the model's
    by a constant)."""
    center, scale = density._units

    def function(
        x: np.ndarray, rows: np.ndarray, ratio: Any, weights: Any
    ) -> tuple[float, np.ndarray]:
        z = (rows - center) / scale if in_data_units else rows
        return density.evaluate(x, z, float(ratio), weights)

    def parameters(x: np.ndarray) -> dict[str, np.ndarray]:
        values = density.parameters(x)
        return {name: values[name] for name in PARAMETER_NAMES}

    return function, parameters


def _unconstrained_start(model: Any, start: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from pymc.initial_point import make_initial_point_fn

    point = make_initial_point_fn(model=model, overrides=start, jitter_rvs=set())(0)
    return {var.name: np.asarray(point[var.name], dtype=np.float64) for var in model.value_vars}


def _initial_precision(gradient: _Gradient, mean: np.ndarray, rng, n_probes: int = 4):
    """Diagonal precision from antithetic probes at a small scale (Stein's lemma)."""
    scale = 0.1 / np.sqrt(gradient.n_samples)
    estimates = []
    for _ in range(n_probes):
        noise = rng.standard_normal(mean.shape)
        _, difference, _ = gradient.pair(mean, scale * noise)
        estimates.append(difference * noise / scale)
    precision = np.abs(np.mean(estimates, axis=0))
    floor = 1e-3 * float(np.median(precision)) if np.any(precision > 0) else 1.0
    return np.maximum(precision, max(floor, 1e-8))


def _initial_curvature(gradient: _Gradient, mean: np.ndarray) -> np.ndarray:
    """Negative Hessian of the log posterior at ``mean`` by central differences of the
    gradient (one antithetic pair per parameter), eigenvalues floored to stay positive:
    the Laplace approximation at the start, which ADVI then refines."""
    step = 1e-2 / np.sqrt(gradient.n_samples)
    columns = np.empty((mean.size, mean.size))
    for i in range(mean.size):
        direction = np.zeros_like(mean)
        direction[i] = step
        columns[:, i] = gradient.pair(mean, direction)[1] / step
    curvature = 0.5 * (columns + columns.T)
    values, vectors = np.linalg.eigh(curvature)
    floor = 1e-6 * max(float(np.abs(values).max()), 1.0)
    return (vectors * np.maximum(np.abs(values), floor)) @ vectors.T


DENSE_MAX = 600
"""Mean-field fits track a dense curvature estimate up to this many parameters."""


def _sample_step(
    curvature: np.ndarray, noise: np.ndarray, full_rank: bool
) -> tuple[np.ndarray, np.ndarray, float]:
    """A draw ``v ~ N(0, S^-1)`` of the approximation from standard ``noise``, ``S v``
    and ``log|S|``, for a dense (full-rank) or diagonal precision ``S``."""
    if full_rank:
        upper = np.linalg.cholesky(curvature)  # S = U U^T
        step = _solve_upper(upper.T, noise)  # v = U^{-T} eps ~ N(0, S^{-1})
        return step, upper @ noise, 2.0 * np.log(np.diag(upper)).sum()
    precision = _precision(curvature, full_rank)
    root = np.sqrt(precision)
    return noise / root, noise * root, np.log(precision).sum()


def _natural_step(
    curvature: np.ndarray,
    mean: np.ndarray,
    pair: tuple[np.ndarray, np.ndarray],
    step: np.ndarray,
    whitened: np.ndarray,
    beta: float,
    full_rank: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """One update of the curvature and the mean (module docstring) within the trust
    region; ``pair`` is the antithetic pair's average gradient and difference."""
    average, difference = pair
    if curvature.ndim == 1:  # a diagonal curvature: per-coordinate factors
        ratio = np.clip(
            1.0 + beta * (difference - curvature * step) * whitened / curvature, *_STEP_BOUNDS
        )
        curvature = curvature * ratio
        return curvature, mean + _bounded_move(beta * average, curvature)
    curvature = _bounded_step(curvature, difference - curvature @ step, whitened, beta)
    if not full_rank:
        return curvature, mean + _bounded_move(beta * average, np.diag(curvature))
    move = beta * np.linalg.solve(curvature, average)
    length = np.sqrt(move @ curvature @ move)  # in the approximation's sds
    return curvature, mean + (move if length <= 1.0 else move / length)


def _precision(curvature: np.ndarray, full_rank: bool) -> np.ndarray:
    """The approximation's precision: the curvature, or a dense one's diagonal."""
    return np.diag(curvature) if curvature.ndim == 2 and not full_rank else curvature


def _optimise(
    gradient: _Gradient,
    mean: np.ndarray,
    full_rank: bool,
    *,
    max_iter: int,
    tol: float,
    window: int,
    learning_rate: float,
    rng: np.random.Generator,
    bar: Any = None,
) -> tuple[_WindowConvergence, dict[str, Any]]:
    """The natural-gradient loop (module docstring); ``bar`` (a
    :class:`~bayesgmm.bayes.progress.DelayedProgress`) counts the steps.

    ``curvature`` estimates :math:`E_q[-\\nabla^2 \\log p]`: dense for full-rank fits
    (it is their precision) and for mean-field fits of up to ``DENSE_MAX`` parameters,
    whose precision is its diagonal; the dense estimate makes the control variate
    ``y - curvature @ v`` remove the correlations' noise as well.
    """
    gradient.set_anchor(mean)
    dense = full_rank or mean.size <= DENSE_MAX
    curvature = (
        _initial_curvature(gradient, mean) if dense else _initial_precision(gradient, mean, rng)
    )
    check = _WindowConvergence(window, tol)
    losses = []
    n_iter = n_reanchored = n_bad = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        beta = learning_rate / (1.0 + check.windows / 10.0)
        noise = rng.standard_normal(mean.shape)
        step, whitened, log_det = _sample_step(curvature, noise, full_rank)
        average, difference, logp = gradient.pair(mean, step)
        if not (np.all(np.isfinite(average)) and np.all(np.isfinite(difference))):
            n_bad += 1
            if n_bad >= 20:
                raise FloatingPointError(
                    "ADVI: the log posterior's gradient was not finite at 20 samples in a row "
                    "of the approximation; the model's log-density is not finite near the "
                    "start. Use method='nuts' or method='map', or check the data."
                )
            continue
        n_bad = 0
        pair = (average, difference)
        curvature, mean = _natural_step(curvature, mean, pair, step, whitened, beta, full_rank)
        losses.append(-(logp - 0.5 * log_det))
        if check.update(mean, _precision(curvature, full_rank)):
            if bar is not None:
                bar.advance(f"window change {check.change:.3g} (stops below {tol:g})", window)
            if check.converged:
                break
            n_reanchored += _reanchor(gradient, check)
    if check.mean is None:  # fewer iterations than one window: the last iterate
        check.mean, check.precision = mean, _precision(curvature, full_rank)
    return check, {
        "n_iter": n_iter,
        "n_grad_evals": gradient.n_evals,
        "passes": gradient.rows_seen / gradient.n_samples,
        "n_reanchored": n_reanchored,
        "history": np.asarray(check.history),
        "loss": np.asarray(losses),
    }


def _reanchor(gradient: _Gradient, check: _WindowConvergence) -> int:
    """Move a minibatch gradient's anchor to the window's mean when that is more than
    one standard deviation away from it; return 1 if it moved."""
    if gradient.batch_size is None:
        return 0
    sd = _marginal_sd(check.precision)
    if not np.max(np.abs(check.mean - gradient.anchor) / sd) > 1.0:
        return 0
    gradient.set_anchor(check.mean)
    return 1


_STEP_BOUNDS = (0.8, 1.25)
"""One step changes the precision in any direction by a factor in this range."""


def _bounded_move(scaled_gradient: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Mean-field step ``scaled_gradient / precision``, at most one standard deviation
    per coordinate (a trust region: a noisy curvature must not fling the mean away)."""
    sd = 1.0 / np.sqrt(precision)
    return np.clip(scaled_gradient / precision, -sd, sd)


def _bounded_step(
    curvature: np.ndarray, residual: np.ndarray, whitened: np.ndarray, beta: float
) -> np.ndarray:
    """``curvature + beta * G``, ``G = sym(residual whitened^T)``, with ``beta``
    shortened so that the precision in no direction changes by a factor outside
    ``_STEP_BOUNDS``: a trust region in the approximation's own metric. It keeps the
    matrix positive definite without Lin, Schmidt & Khan's (2020) second-order term,
    whose bias (of order ``beta**2`` times the number of parameters) made the estimate
    grow without bound here. ``G`` has rank two, so the extreme eigenvalues of
    ``L^-1 G L^-T`` are ``(a.b -+ |a||b|) / 2`` with ``a = L^-1 residual`` and
    ``b = L^-1 whitened``: two triangular solves instead of an eigendecomposition."""
    from scipy.linalg import solve_triangular

    lower = np.linalg.cholesky(curvature)
    a = solve_triangular(lower, residual, lower=True)
    b = solve_triangular(lower, whitened, lower=True)
    dot, norm = float(a @ b), float(np.sqrt((a @ a) * (b @ b)))
    smallest, largest = 0.5 * (dot - norm), 0.5 * (dot + norm)
    low, high = _STEP_BOUNDS
    if smallest < 0:
        beta = min(beta, (1.0 - low) / -smallest)
    if largest > 0:
        beta = min(beta, (high - 1.0) / largest)
    outer = np.outer(residual, whitened)
    return curvature + 0.5 * beta * (outer + outer.T)


def _solve_upper(upper: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return solve_triangular(upper, rhs, lower=False)


def _draws(
    parameters: Any,
    mean: np.ndarray,
    precision: np.ndarray,
    n_draws: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    noise = rng.standard_normal((n_draws, mean.size))
    if precision.ndim == 1:
        points = mean + noise / np.sqrt(precision)
    else:
        upper = np.linalg.cholesky(precision)
        points = mean + _solve_upper(upper.T, noise.T).T
    values = [parameters(point) for point in points]
    return {name: np.stack([value[name] for value in values])[None] for name in values[0]}


def _check_options(method: str, learning_rate: float) -> None:
    if method not in VARIATIONAL_METHODS:
        raise ValueError(f"method must be one of {VARIATIONAL_METHODS}; got {method!r}.")
    if not 0.0 < learning_rate <= 1.0:
        raise ValueError(f"learning_rate must be in (0, 1]; got {learning_rate!r}.")


def _model_data(model: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's data (its units) and row weights, once it is a model ADVI can fit."""
    if model is None:
        raise ValueError("fit_variational needs a model from build_model, or a density.")
    observed = [rv.name for rv in model.observed_RVs]
    if observed != [OBSERVED_NAME]:
        raise ValueError(
            f"fit_variational needs the model's only observed variable to be "
            f"{OBSERVED_NAME!r} (as build_model makes it); got {observed}."
        )
    data = np.ascontiguousarray(model[DATA_NAME].get_value(), dtype=np.float64)
    return data, model_sample_weight(model)


def _functions(
    model: Any,
    start: dict[str, np.ndarray],
    density: PosteriorDensity | None,
    rows: RowSource | None,
    rng: np.random.Generator,
) -> tuple[Any, Any, np.ndarray, RowSource]:
    """The log posterior with its gradient, the parameters, the start (flat), the rows."""
    if density is not None:
        function, parameters = _density_functions(density, in_data_units=rows is not None)
        if rows is None:
            rows = RowSource(density.z, density.sample_weight, rng)
        return function, parameters, density.to_unconstrained(start), rows
    data, weights = _model_data(model)
    point = _unconstrained_start(model, start)
    function, parameters = _compile(model, point)
    mean = np.concatenate([point[v.name].ravel() for v in model.value_vars])
    return function, parameters, mean, rows or RowSource(data, weights, rng)


def fit_variational(
    model: Any,
    method: str,
    start: dict[str, np.ndarray],
    *,
    n_draws: int,
    max_iter: int = 50_000,
    tol: float = 0.05,
    window: int = 50,
    learning_rate: float = 0.2,
    batch_size: Any = None,
    rng: np.random.Generator,
    density: PosteriorDensity | None = None,
    rows: RowSource | None = None,
    progressbar: bool = False,
    progress_delay: float = 0.0,
) -> tuple[Any, dict[str, Any]]:
    """Fit mean-field or full-rank ADVI to a model from ``build_model``; draw from it.

    Parameters
    ----------
    model : pymc.Model or None
        From :func:`~bayesgmm.bayes.model.build_model` (extended or not; ``x`` observed);
        None with a ``density``, which then defines the posterior alone.
    method : {"advi", "fullrank_advi"}
        Diagonal (mean-field) or dense Gaussian in the unconstrained space.
    start : dict
        Untransformed start values (``start_values``), for example the EM solution.
    n_draws : int
        Draws from the fitted approximation, returned as one chain.
    max_iter, tol, window, learning_rate : int, float, int, float
        Most steps (two gradient evaluations each, three with minibatches); the
        convergence criterion (module docstring), checked every ``window`` steps; the
        initial natural-gradient step ``beta0`` in (0, 1].
    batch_size : int, "auto" or None, default=None
        Rows per step (:func:`resolve_batch_size`); None uses every row.
    rng : numpy Generator
    density : PosteriorDensity or None, default=None
        The model's numba log posterior, evaluated instead of compiling the PyMC graph.
    rows : RowSource or None, default=None
        The rows (in the data's units) that the gradients read instead of the density's
        or the model's own: a :class:`~bayesgmm.bayes.samplers.rows.RowSource` of a dask
        array reads minibatches from a sample of it and sums every row as dask
        reductions. Needs ``density``.
    progressbar, progress_delay : bool, float, default=False, 0.0
        A rich bar of the steps and the criterion's change, after ``progress_delay`` s.

    Returns
    -------
    idata : arviz.InferenceData
        ``posterior`` with ``weights``, ``means``, ``covariances`` (one chain of ``n_draws``).
    info : dict
        ``converged``, ``n_iter``, ``change`` (last window's largest move), ``n_grad_evals``,
        ``passes`` (rows evaluated / N), ``batch_size``, ``loss`` (negative ELBO per step),
        ``seconds_compile``, ``seconds_optimise``, the approximation's ``mean`` and
        ``precision`` (unconstrained space).

    Examples
    --------
    >>> from bayesgmm.bayes import build_model
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (100, 1)), rng.normal(3, 1, (100, 1))])
    >>> start = {"weights": np.full(2, 0.5), "z_means": np.array([[-1.0], [1.0]]),
    ...          "z_sds": np.full((2, 1), 0.33)}
    >>> idata, info = fit_variational(build_model(X, 2, "diag"), "advi", start, n_draws=99, rng=rng)
    >>> info["converged"], idata.posterior["means"].shape
    (True, (1, 99, 2, 1))
    """
    _check_options(method, learning_rate)
    if rows is not None and density is None:
        raise ValueError("fit_variational reads other rows only through a density.")
    if rows is not None:
        n_rows = rows.n_samples
    else:
        n_rows = len(density.z) if density is not None else len(_model_data(model)[0])
    batch = resolve_batch_size(batch_size, n_rows)  # before compiling: fail early
    started = time.perf_counter()
    function, parameters, mean, rows = _functions(model, start, density, rows, rng)
    compiled = time.perf_counter()
    gradient = _Gradient(function, rows, batch)
    steps = {"max_iter": max_iter, "tol": tol, "window": window, "learning_rate": learning_rate}
    # threadpoolctl limits only the libraries loaded so far: compiling the PyMC graph
    # may have loaded the BLAS that PyTensor links, which two threads slow down tenfold
    limit = threadpool_limits(limits=1, user_api="blas") if density is None else nullcontext()
    bar = DelayedProgress(None, method, progressbar, progress_delay)
    with limit, bar:
        check, info = _optimise(
            gradient, mean, method == "fullrank_advi", rng=rng, bar=bar, **steps
        )
    _check_and_warn(gradient, check, info, method, max_iter, tol)
    info.update(
        seconds_compile=compiled - started,
        seconds_optimise=time.perf_counter() - compiled,
    )
    draws = _draws(parameters, check.mean, check.precision, n_draws, rng)
    frame = model_frame(model) if density is None else (density.coords, density.dims)
    return posterior_idata(draws, *frame), info


def _check_and_warn(
    gradient: _Gradient,
    check: _WindowConvergence,
    info: dict,
    method: str,
    max_iter: int,
    tol: float,
) -> None:
    """A minibatch fit that met the stopping rule must pass the full-data check; fill
    ``info`` (converged, change, batch_size, mean, precision) and warn if not converged."""
    batch = gradient.batch_size
    if batch is not None and check.converged:
        info["full_data_check"] = _full_data_check(gradient, check, method == "fullrank_advi")
        check.converged = info["full_data_check"]["passed"]
        if not check.converged:
            _warn_full_data_check(method, batch, info["full_data_check"])
    elif not check.converged:
        _warn_not_converged(method, max_iter, check.change, tol)
    info.update(
        converged=check.converged,
        change=check.change,
        batch_size=batch,
        mean=check.mean,
        precision=check.precision,
    )


def _full_data_check(gradient: _Gradient, check: _WindowConvergence, full_rank: bool) -> dict:
    """After a minibatch fit: the full data's curvature and Newton step at its mean.

    Central differences of the all-rows gradient along each coordinate (steps of a
    thousandth of an sd) give the negative Hessian ``H`` at the mean. The fit passes when
    the Newton step ``H^-1 grad`` is at most ``FULL_DATA_CHECK[0]`` of the full data's
    sds and every sd of the approximation is within a factor ``FULL_DATA_CHECK[1]`` of
    the full data's (marginal sds for full-rank, ``1/sqrt(H_jj)`` for mean-field,
    which is what a mean-field optimum matches): minibatch noise that biased the fit
    shows here however still the window averages were.
    """
    mean, sd = check.mean, _marginal_sd(check.precision)
    steps = np.diag(1e-3 * sd)
    # every point in one pass over the rows (one dask computation for dask data)
    values = gradient.full_many(
        [mean - step for step in steps] + [mean + step for step in steps] + [mean]
    )
    grads = np.array([grad for _, grad in values])
    columns = (grads[: mean.size] - grads[mean.size : 2 * mean.size]).T / (2 * np.diag(steps))
    curvature = 0.5 * (columns + columns.T)
    values, vectors = np.linalg.eigh(curvature)
    floor = 1e-12 * max(float(np.abs(values).max()), 1.0)
    covariance = (vectors / np.maximum(values, floor)) @ vectors.T
    if full_rank:
        full_sd = np.sqrt(np.diag(covariance))
    else:
        full_sd = 1 / np.sqrt(np.maximum(np.diag(curvature), floor))
    newton = covariance @ grads[-1]
    offset = float(np.max(np.abs(newton) / np.sqrt(np.diag(covariance))))
    ratio = sd / full_sd
    worst = float(np.exp(np.abs(np.log(ratio)).max()))
    return {
        "newton_offset_sd": offset,
        "sd_ratio_range": (float(ratio.min()), float(ratio.max())),
        "passed": bool(offset <= FULL_DATA_CHECK[0] and worst <= FULL_DATA_CHECK[1]),
    }


def _warn_full_data_check(method: str, batch: int, result: dict) -> None:
    low, high = result["sd_ratio_range"]
    warnings.warn(
        f"{method} with batch_size={batch} met its stopping rule, but on all rows the "
        f"approximation is off: its mean is {result['newton_offset_sd']:.3g} posterior "
        f"sds from the full data's Newton point and its sds are {low:.3g}-{high:.3g} times "
        "the full data's: the minibatches' noise biased it. Raise batch_size, or use "
        "batch_size=None.",
        SamplerWarning,
        stacklevel=8,
    )


def _warn_not_converged(method: str, max_iter: int, change: float, tol: float) -> None:
    # stacklevel: the caller of BayesianGaussianMixture.fit, through _check_and_warn,
    # fit_variational, run, run_inference and the estimator's _infer
    warnings.warn(
        f"{method} did not converge in {max_iter} steps: the window-averaged "
        f"approximation still moved by {change:.3g} standard deviations "
        f"(tolerance {tol:g}). Raise advi_max_iter or advi_tol, or use method='nuts'.",
        SamplerWarning,
        stacklevel=8,
    )


def run(
    model: Any,
    starts: list[dict[str, np.ndarray]],
    settings: RunSettings,
    *,
    rng: np.random.Generator,
    density: PosteriorDensity | None = None,
    rows: RowSource | None = None,
) -> tuple[Any, dict[str, Any]]:
    """ADVI (``settings.method``: "advi" or "fullrank_advi") from the first start, on
    ``rows`` if given (:func:`fit_variational`).

    Returns
    -------
    idata : arviz.InferenceData
        ``draws * chains`` draws of the approximation, as one chain.
    info : dict
        :func:`fit_variational`'s, without the precision matrix.
    """
    idata, info = fit_variational(
        model,
        settings.method,
        starts[0],
        n_draws=settings.draws * settings.chains,
        max_iter=settings.advi_max_iter,
        tol=settings.advi_tol,
        window=settings.advi_window,
        learning_rate=settings.advi_learning_rate,
        batch_size=settings.batch_size,
        rng=rng,
        density=density,
        rows=rows,
        progressbar=settings.progressbar,
        progress_delay=settings.progress_delay,
    )
    del info["precision"]
    return idata, info
