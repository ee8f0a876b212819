"""SQUAREM: squared extrapolation of EM iterates, under the same stopping rule.

EM converges linearly, slowly where components overlap (heavy-tailed returns take
thousands of iterations). SQUAREM (Varadhan & Roland 2008, scheme SqS3) takes three
consecutive EM iterates ``t1, t2 = F(t1), t3 = F(t2)``, with ``r = t2 - t1`` and
``v = t3 - 2 t2 + t1`` jumps to ``t' = t1 - 2 a r + a^2 v`` (``a = -|r| / |v|``, at most
``-1``, where ``a = -1`` gives ``t3``), and continues EM from ``F(t')``.

How it is kept honest here:

* The jump is made in coordinates where any point is a valid mixture: log weights, means
  in units of each feature's spread, log variances (diagonal and spherical layouts) or
  covariances in units of the spreads (full layouts, whose factorisation must succeed),
  and a t family's log degrees of freedom when they are estimated.
  The extrapolated point need not satisfy the model's constraints (an equal shape, say):
  only ``F(t')``, an M-step's output, is an iterate, so every iterate is in the model.
* ``F(t')`` is kept only if its log-likelihood is at least the last recorded one; else EM
  goes on from ``t3`` as if nothing had been tried (and the step bound shrinks). So the
  recorded log-likelihoods never fall, as plain EM's do not.
* The stopping rule (:mod:`bayesgmm.em.stopping`) looks at three recorded values joined
  by two plain EM steps only: every cycle records ``t1``, ``t2`` and ``t3``'s predecessor
  by plain steps, so the Aitken projection of the gain still to come is never fed a jump.
  Once a jump was made, the rule must hold at consecutive plain steps (the next jump
  waits) until the rate of the gains has settled (:data:`SETTLED`): the first gains
  after a jump still carry its fast directions' transient, which makes the rate look
  small (rates 0.17, 0.56, 0.93 in three steps on S&P 500 returns; without this a t fit
  "converged" 1e-4 per row short of plain EM's optimum, and one heading for large
  degrees of freedom 3e-4 short).

A cycle costs four E-steps (``t1``, ``t2``, the predecessor of ``t3``, and ``t'``), for
three EM steps and a jump. The step bound starts at 1 (plain EM) and grows fourfold each
time a jump is limited by it, as the SQUAREM package's defaults do.

:func:`accelerated_em_steps` is one Python source that numba compiles too, as
:func:`bayesgmm.em.loop.em_steps` is.
"""

from __future__ import annotations

import math

import numpy as np

from ..covariance.layout_kernels import NO_FAILURE
from ..covariance.prior_kernels import prior_penalty
from ..family import DOF_MAX, DOF_MIN
from ..kernels.compile import kernel
from .loop import maximise
from .stopping import aitken_converged

__all__ = [
    "CONTROL_SIZE",
    "PENDING",
    "SETTLED",
    "STEP_GROWTH",
    "accelerated_em_steps",
    "compiled_accelerated_em_steps",
    "copy_parameters",
    "end_cycle",
    "extrapolate",
    "new_controls",
]

#: After a jump, the rate of the plain gains has settled when it rises by less than this
#: fraction of its distance to 1 from one plain step to the next.
SETTLED = 0.01
#: Factor by which the bound on the extrapolation step grows when a jump meets it, and
#: shrinks when a jump is refused (Varadhan & Roland's ``mstep``).
STEP_GROWTH = 4.0


#: Values of a start's SQUAREM control (:func:`accelerated_em_steps`).
CONTROL_SIZE = 7
#: The control's flag that the start's parameters are a jump's ``F(t')``, not yet judged
#: (the M-step after its last recorded value is then the cycle's ``t3``).
PENDING = 5


def new_controls(n_starts: int) -> np.ndarray:
    """The controls of starts not yet run: step bound 1 (plain EM), no rate measured,
    a cycle not begun."""
    controls = np.zeros((n_starts, CONTROL_SIZE))
    controls[:, 0] = 1.0
    controls[:, 1] = np.inf
    return controls


@kernel
def _copy(source, target):
    flat_source, flat_target = source.reshape(-1), target.reshape(-1)
    for i in range(flat_source.shape[0]):
        flat_target[i] = flat_source[i]


@kernel
def copy_parameters(source, target):
    """Copy the five parameter arrays of ``source`` into those of ``target``."""
    _copy(source[0], target[0])
    _copy(source[1], target[1])
    _copy(source[2], target[2])
    _copy(source[3], target[3])
    _copy(source[4], target[4])


@kernel
def _step_length(first, second, third, units, log_scale):
    """``(|r|^2, |v|^2)`` of three flat arrays in the jump's coordinates."""
    r2 = 0.0
    v2 = 0.0
    for i in range(first.shape[0]):
        a, b, c = first[i], second[i], third[i]
        if log_scale:
            a, b, c = math.log(a), math.log(b), math.log(c)
        scale = 1.0 / units[i]
        r = (b - a) * scale
        v = (c - 2.0 * b + a) * scale
        r2 += r * r
        v2 += v * v
    return r2, v2


@kernel
def _jump(first, second, third, units, log_scale, alpha, out):
    """``out = t1 - 2 a r + a^2 v`` of three flat arrays, in the jump's coordinates."""
    for i in range(first.shape[0]):
        a, b, c = first[i], second[i], third[i]
        if log_scale:
            a, b, c = math.log(a), math.log(b), math.log(c)
        value = a - 2.0 * alpha * (b - a) + alpha * alpha * (c - 2.0 * b + a)
        out[i] = math.exp(value) if log_scale else value


@kernel
def extrapolate(model, t1, t2, t3, params, mean_units, covariance_units, log_variances, bound,
                jump_dof):  # fmt: skip
    """Write the SQUAREM jump from three EM iterates into ``params``; return its step.

    ``mean_units`` (K * D,) and ``covariance_units`` (the covariances' size) are the
    scales of the flat means and covariances (1 where ``log_variances``, which jumps
    the variances' logarithms). With ``jump_dof`` (a t family whose degrees of freedom
    are estimated) the logarithms of the degrees of freedom jump too, clipped to
    [DOF_MIN, DOF_MAX]; otherwise they are kept. Returns ``a`` (at most -1, at least
    ``-bound``); -1 when no jump was made (``params`` untouched): the iterates are not
    contracting, a weight is 0, or the jump's covariances are not positive definite (then
    ``params`` are put back to ``t3``, which they equal on entry).
    """
    for k in range(t1[0].shape[0]):
        if not (t1[0][k] > 0 and t2[0][k] > 0 and t3[0][k] > 0):
            return -1.0
    weight_units = np.ones(t1[0].shape[0])
    r2, v2 = _step_length(t1[0], t2[0], t3[0], weight_units, True)
    first_m, second_m, third_m = t1[1].reshape(-1), t2[1].reshape(-1), t3[1].reshape(-1)
    r, v = _step_length(first_m, second_m, third_m, mean_units, False)
    r2 += r
    v2 += v
    first_c, second_c, third_c = t1[2].reshape(-1), t2[2].reshape(-1), t3[2].reshape(-1)
    r, v = _step_length(first_c, second_c, third_c, covariance_units, log_variances)
    r2 += r
    v2 += v
    dof_units = np.ones(t1[4].shape[0])
    if jump_dof:
        r, v = _step_length(t1[4], t2[4], t3[4], dof_units, True)
        r2 += r
        v2 += v
    if not (v2 > 0 and r2 > 0):
        return -1.0
    alpha = max(-bound, -math.sqrt(r2 / v2))
    if not alpha < -1.0:
        return -1.0
    weights, means, covariances, prec, dof = params
    _jump(t1[0], t2[0], t3[0], weight_units, True, alpha, weights)
    total = 0.0
    for k in range(weights.shape[0]):
        total += weights[k]
    for k in range(weights.shape[0]):
        weights[k] /= total
    _jump(first_m, second_m, third_m, mean_units, False, alpha, means.reshape(-1))
    _jump(first_c, second_c, third_c, covariance_units, log_variances, alpha,
          covariances.reshape(-1))  # fmt: skip
    if jump_dof:
        _jump(t1[4], t2[4], t3[4], dof_units, True, alpha, dof)
        for k in range(dof.shape[0]):
            dof[k] = min(max(dof[k], DOF_MIN), DOF_MAX)
    else:
        _copy(t3[4], dof)
    if model.factorise(covariances, prec) != NO_FAILURE:
        copy_parameters(t3, params)  # no jump: the caller goes on from t3 (= params before)
        return -1.0
    return alpha


def accelerated_em_steps(engine, model, layout, family, data, params, stats, accel, history,
                         first, last, tol):  # fmt: skip
    """EM iterations ``first .. last - 1`` with SQUAREM jumps; as :func:`em_steps`, returns
    (iterations recorded, converged, failed component or -1).

    ``accel`` is ``(t1, t2, t3, control, mean_units, covariance_units, log_variances)``:
    the start's three cycle iterates, its ``control`` and the jump's coordinates
    (:func:`extrapolate`). ``control`` (:data:`CONTROL_SIZE` values) holds everything the
    loop carries from one call to the next: ``[0]`` the bound on the step, ``[1]`` and
    ``[2]`` the rate and size of the latest gain between two plain EM steps, ``[3]`` the
    plain steps since the cycle began, ``[4]`` the recorded values joined by plain steps,
    ``[5]`` whether ``params`` hold a jump's ``F(t')`` not yet judged, ``[6]`` whether the
    stopping rule holds since a jump. So a call boundary changes nothing: iterations
    ``0 .. n`` in one call or in several take the same path. A call may end with a jump
    pending; where the start ends there (``max_iter``), :func:`end_cycle` puts ``params``
    back to ``t3``.
    """
    t1, t2, t3, control, mean_units, covariance_units, log_variances = accel
    jump_dof = family.scaled() and stats[7][0]
    n_iter = first
    phase = int(control[3])  # plain EM steps since the cycle began
    plain = int(control[4])  # recorded values joined by plain EM steps, up to the last one
    pending = control[PENDING] != 0.0  # params hold F(t'); its log-likelihood decides
    confirming = control[6] != 0.0  # the rule holds since a jump; plain steps until settled
    while n_iter < last:
        value = engine.e_step(layout, family, data, params, stats)
        value += prior_penalty(params, stats)  # MAP EM's objective (0 without a prior)
        if pending:
            pending = False
            if not value >= history[n_iter - 1]:  # worse (or not finite): back to t3
                copy_parameters(t3, params)
                control[0] = max(1.0, control[0] / STEP_GROWTH)
                phase = 0
                continue
            plain = 0  # the gain into this value came through the jump
        history[n_iter] = value
        n_iter += 1
        plain += 1
        failed = maximise(model, family, params, stats)
        if failed != NO_FAILURE:
            _keep_cycle(control, phase, plain, False, confirming)
            return n_iter, False, failed
        settled = False
        if plain >= 3:
            gain = history[n_iter - 1] - history[n_iter - 2]
            previous = history[n_iter - 2] - history[n_iter - 3]
            rate = gain / previous if previous > 0 else np.inf
            # the rate has stopped rising: the jump's transient has died down; or a
            # plain step gained nothing (EM at its fixed point, up to rounding). An
            # infinite previous rate (its previous gain was not positive) bounds nothing
            settled = plain >= 4 and (
                not gain > 0
                or (control[1] < np.inf and rate <= control[1] + SETTLED * (1.0 - control[1]))
            )
            control[1] = rate
            control[2] = gain
        if plain >= min(3, n_iter) and aitken_converged(history, n_iter, tol):
            if plain == n_iter or (confirming and settled):  # no jump yet, or confirmed
                _keep_cycle(control, phase, plain, False, confirming)
                return n_iter, True, NO_FAILURE
            confirming = True
        else:
            confirming = False
        phase += 1
        if phase == 1:
            copy_parameters(params, t1)
        elif phase == 2:
            copy_parameters(params, t2)
        elif phase == 3:
            phase = 0
            copy_parameters(params, t3)
            if confirming:  # no jump before the next plain step has its say
                continue
            alpha = extrapolate(model, t1, t2, t3, params, mean_units, covariance_units,
                                log_variances, control[0], jump_dof)  # fmt: skip
            if alpha < -1.0:
                if alpha <= -control[0]:
                    control[0] *= STEP_GROWTH
                engine.e_step(layout, family, data, params, stats)  # at t', not recorded
                if maximise(model, family, params, stats) != NO_FAILURE:
                    copy_parameters(t3, params)
                    control[0] = max(1.0, control[0] / STEP_GROWTH)
                else:
                    pending = True
            else:
                control[0] *= STEP_GROWTH if control[0] < 2.0 else 1.0
    _keep_cycle(control, phase, plain, pending, confirming)
    return n_iter, False, NO_FAILURE


@kernel
def _keep_cycle(control, phase, plain, pending, confirming):
    control[3] = phase
    control[4] = plain
    control[PENDING] = 1.0 if pending else 0.0
    control[6] = 1.0 if confirming else 0.0


@kernel
def end_cycle(t3, params, control):
    """Where a start ends between calls: a jump still pending (``F(t')`` not judged) is
    dropped, and ``params`` are ``t3`` again, the M-step after the last recorded value."""
    if control[PENDING] != 0.0:
        copy_parameters(t3, params)
        control[PENDING] = 0.0


#: :func:`accelerated_em_steps` compiled, for engines whose ``e_step`` is compiled.
compiled_accelerated_em_steps = kernel(accelerated_em_steps)
