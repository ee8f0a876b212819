"""Newton's method to finish slow EM runs on one-dimensional data.

On heavy-tailed one-dimensional data (daily returns) a mixture's likelihood has long
flat ridges: components of nearly equal means whose variances trade against each
other. EM, SQUAREM too, creeps along them at plain rates of 0.999 and more per
iteration, and the default starts of S&P 500 returns reach ``max_iter`` still climbing
there. The observed-data log-likelihood of a one-dimensional mixture has few
parameters (``K - 1`` weights, ``K`` means, ``K`` or 1 variances), and its gradient and
Hessian are closed forms (one compiled pass over the rows,
:mod:`bayesgmm.em.newton_kernels`), so Newton's method reaches the top of a ridge in
tens of steps where EM needs thousands.

The start stack (:meth:`bayesgmm.em.batch.StartStack.finish_slow`) finishes a live
start once, at the first doubling checkpoint from :data:`FINISH_AFTER` iterations on
where its plain rate is at least :data:`SLOW_RATE`; EM's stopping rule, from the point
returned, then ends the run. Newton's steps are not counted in ``n_iter_``.

:class:`NewtonFinish` does it in two phases:

1. **Ascent.** Levenberg-Marquardt-damped Newton steps on the mean log-likelihood per
   observation, in the coordinates ``(log pi_k - log pi_ref, mu_k, log sigma_k^2)``
   (``ref`` the heaviest component), each accepted only if it raises the
   log-likelihood, until the Newton decrement predicts a gain below
   :data:`DECREMENT_TOL` times EM's ``tol`` at a point where the Hessian is negative
   definite (a local maximum, not a saddle).
2. **EM's own fixed point.** EM's M-step adds the variance floor ``r`` to every
   variance, so its fixed point is not the likelihood's maximum but the root of the
   gradient plus ``n_k r / (2 sigma_k^2)`` in each log variance (``r / (2 sigma^2)``
   for one shared variance): exact Newton steps on those equations, with their exact
   Jacobian, move there (a few steps: the floor is small). The M-step from the point
   returned gives it back to rounding, so EM's stopping rule ends the run.

The finish gives up (returns None) where its closed forms do not describe the run:
a weight below :data:`MIN_COUNT` rows, a variance that comes near the floor (a
component collapsing: the degeneracy rule's business), a point that is not a
maximum, or no convergence within :data:`MAX_STEPS`. EM then goes on as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import solve_triangular

from ..covariance.layout_kernels import NO_FAILURE
from .engines import BlockEngine, WholeRunEngine
from .loop import Parameters
from .newton_kernels import SUM_TERMS, mean_log_likelihood, row_scores

__all__ = [
    "DECREMENT_TOL",
    "MAX_STEPS",
    "MIN_COUNT",
    "SLOW_RATE",
    "FINISH_AFTER",
    "NewtonFinish",
    "newton_finish_for",
]

#: The plain EM rate (ratio of consecutive gains) from which a run is worth finishing
#: by Newton: EM would need hundreds of iterations more.
SLOW_RATE = 0.9
#: Iterations a run makes before it may be finished: its basin, not its start, should
#: decide where Newton's method goes. Finished from 20 iterations on, S&P 500 starts
#: took tens of Newton steps each (EM's first iterations do that work cheaper) and
#: some reached lower ridges than EM alone in 1000 iterations (benchmarks/README.md).
FINISH_AFTER = 160
#: Newton converged when its decrement predicts a gain below this times ``tol``.
DECREMENT_TOL = 1e-3
#: Most Newton steps (accepted or not) in the ascent; the fixed-point phase takes at
#: most :data:`FIXED_POINT_STEPS`.
MAX_STEPS = 60
FIXED_POINT_STEPS = 8
#: A component with fewer (weighted) rows than this is left to EM.
MIN_COUNT = 2.0
#: Variances within this factor of the floor are left to EM (a collapse).
FLOOR_MARGIN = 10.0
#: Rows per block when the per-row scores are formed (bounds the memory).
BLOCK_ROWS = 1 << 16


@dataclass
class _Point:
    """A mixture in Newton's coordinates with its value, gradient and Hessian."""

    log_weights: np.ndarray  # (K,), normalised
    means: np.ndarray  # (K,)
    log_variances: np.ndarray  # (K,) or (1,)
    value: float
    gradient: np.ndarray
    hessian: np.ndarray
    counts: np.ndarray  # (K,) shares of the rows' weight
    count_jacobian: np.ndarray  # (K, P): d counts / d coordinates


class NewtonFinish:
    """Newton's method on a one-dimensional Gaussian mixture's log-likelihood.

    Parameters
    ----------
    rows : ndarray of shape (n_samples,)
        The data in the engine's shifted coordinates (the parameters' means are too).
    row_weights : ndarray of shape (n_samples,)
        Each row's weight (normalised here).
    floor : float
        The variance floor EM's M-step adds (``reg``).
    equal : bool
        One variance shared by all components (mclust's E), else one each (V).
    tol : float
        EM's ``tol`` (mean log-likelihood per observation).
    """

    def __init__(
        self, rows: np.ndarray, row_weights: np.ndarray, floor: float, equal: bool, tol: float
    ) -> None:
        self.rows = np.ascontiguousarray(rows, dtype=np.float64)
        weights = np.asarray(row_weights, dtype=np.float64)
        self.row_weights = weights / weights.sum()
        self.total = float(weights.sum())
        self.floor, self.equal, self.tol = float(floor), bool(equal), float(tol)

    # -------------------------------------------------------------- coordinates
    def _split(self, theta: np.ndarray, K: int, ref: int) -> tuple[np.ndarray, ...]:
        free = np.delete(np.arange(K), ref)
        logits = np.zeros(K)
        logits[free] = theta[: K - 1]
        top = logits.max()
        log_weights = logits - (top + np.log(np.exp(logits - top).sum()))
        means = theta[K - 1 : 2 * K - 1]
        log_variances = theta[2 * K - 1 :]
        return log_weights, means, log_variances

    @staticmethod
    def _join(log_weights: np.ndarray, means: np.ndarray, log_variances: np.ndarray, ref: int):
        logits = np.delete(log_weights - log_weights[ref], ref)
        return np.concatenate([logits, means, log_variances])

    # -------------------------------------------------------------- derivatives
    def _evaluate(self, log_weights, means, log_variances, ref: int, derivatives: bool = True):
        """Value, gradient and Hessian of the mean log-likelihood in the coordinates
        (free logits, means, log variances); None where a value is not finite."""
        K = len(means)
        n_var = len(log_variances)
        P = (K - 1) + K + n_var
        free = np.delete(np.arange(K), ref)
        variances = np.exp(log_variances)
        if not (np.all(np.isfinite(means)) and np.all((variances > 0) & (variances < np.inf))):
            return None  # a trial step too far
        var_index = np.zeros(K, dtype=np.int64) if self.equal else np.arange(K)
        weights = np.exp(log_weights)
        args = (log_weights, means, log_variances, var_index)
        if not derivatives:
            value = mean_log_likelihood(self.rows, self.row_weights, *args)
            return (value, None, None, None, None) if np.isfinite(value) else None
        value = 0.0
        gradient = np.zeros(P)
        outer = np.zeros((P, P))  # sum_i w_i g_i g_i^T
        sums = np.zeros((len(SUM_TERMS), K))
        scores = np.empty((min(len(self.rows), BLOCK_ROWS), P))
        for start in range(0, len(self.rows), BLOCK_ROWS):
            x = self.rows[start : start + BLOCK_ROWS]
            w = self.row_weights[start : start + BLOCK_ROWS]
            g = scores[: len(x)]  # sqrt(w_i) g_i
            value += row_scores(x, w, *args, free, self.equal, g, sums)
            outer += g.T @ g
        n_k, s_mu, s_eta, s_mu2, s_mueta, s_eta2, s_z2 = sums
        if not np.isfinite(value):
            return None
        gradient[: K - 1] = n_k[free] - weights[free]
        gradient[K - 1 : 2 * K - 1] = s_mu
        if self.equal:
            gradient[2 * K - 1] = s_eta.sum()
        else:
            gradient[2 * K - 1 :] = s_eta
        # sum_i w_i sum_k r_ik (hess l_ik + s_ik s_ik^T) - outer, with s_ik = u_k + c_ik:
        # u_k = e_k - pi on the free logits (the weights' part), c_ik the component's
        # (d_mu at mu_k, d_eta at eta_k); the sums over rows of c are s_mu and s_eta
        pf = weights[free]
        components = np.arange(K)
        mu_at, eta_at = K - 1 + components, 2 * K - 1 + var_index
        u = np.zeros((K, P))
        u[:, : K - 1] = -pf
        u[free, np.arange(K - 1)] += 1.0
        c = np.zeros((K, P))
        c[components, mu_at] = s_mu
        c[components, eta_at] += s_eta
        inner = (u.T * n_k) @ u + u.T @ c + c.T @ u
        # hess log pi = -(diag pi - pi pi^T) for every k; the counts sum to 1
        inner[: K - 1, : K - 1] -= np.diag(pf) - np.outer(pf, pf)
        # sum_i w_i r_ik (d2 log phi + c c^T) on (mu_k, eta_k); d2/dmu deta = -z / sd
        cross = -s_mu + s_mueta
        inner[mu_at, mu_at] += -n_k / variances[var_index] + s_mu2
        np.add.at(inner, (mu_at, eta_at), cross)
        np.add.at(inner, (eta_at, mu_at), cross)
        np.add.at(inner, (eta_at, eta_at), -0.5 * s_z2 + s_eta2)
        hessian = inner - outer
        hessian = 0.5 * (hessian + hessian.T)
        # d n_k / d theta = sum_i w_i r_ik (s_ik - g_i), with sum_i w_i r_ik g_i from
        # the outer products: the free logits' scores are r_ik - pi_k, and r_ref is 1
        # minus the others
        rg = np.empty((K, P))
        rg[free] = outer[: K - 1] + pf[:, None] * gradient[None, :]
        rg[ref] = gradient - rg[free].sum(0)
        count_jacobian = n_k[:, None] * u - rg + c
        return value, gradient, hessian, n_k, count_jacobian

    def _point(self, theta: np.ndarray, K: int, ref: int) -> _Point | None:
        log_weights, means, log_variances = self._split(theta, K, ref)
        out = self._evaluate(log_weights, means, log_variances, ref)
        if out is None:
            return None
        value, gradient, hessian, counts, count_jacobian = out
        return _Point(log_weights, means, log_variances, value, gradient, hessian, counts,
                      count_jacobian)  # fmt: skip

    def _sound(self, point: _Point) -> bool:
        """Whether the closed forms still describe a run at ``point``: every component
        on enough rows and every variance well above the floor."""
        return bool(
            np.all(point.counts * self.total >= MIN_COUNT)
            and np.all(np.exp(point.log_variances) > FLOOR_MARGIN * self.floor)
        )

    # -------------------------------------------------------------- the two phases
    def _ascend(self, theta: np.ndarray, K: int, ref: int) -> tuple[np.ndarray, _Point] | None:
        """Damped Newton steps up the log-likelihood to a maximum (phase 1)."""
        point = self._point(theta, K, ref)
        if point is None or not self._sound(point):
            return None
        damping, growth = 1e-3, 2.0
        for _ in range(MAX_STEPS):
            curvature = -point.hessian
            scale = np.sqrt(np.maximum(np.abs(np.diag(curvature)), 1e-300))
            scaled = curvature / np.outer(scale, scale)
            gradient = point.gradient / scale
            factor = _cholesky(scaled)
            if factor is not None:  # concave here: is the maximum reached?
                newton = _solve(factor, gradient)
                if 0.5 * float(gradient @ newton) < DECREMENT_TOL * self.tol:
                    return theta, point
            factor = _cholesky(scaled + damping * np.eye(len(theta)))
            if factor is None:
                damping, growth = damping * growth, growth * 2.0
                continue
            step = _solve(factor, gradient)
            predicted = float(gradient @ step - 0.5 * step @ scaled @ step)
            trial = self._point(theta + step / scale, K, ref)
            gain = -np.inf if trial is None else trial.value - point.value
            if gain > 0:
                theta, point = theta + step / scale, trial
                if not self._sound(point):
                    return None
                ratio = gain / predicted if predicted > 0 else 0.0
                damping *= max(1.0 / 3.0, 1.0 - (2.0 * ratio - 1.0) ** 3)
                growth = 2.0
            else:
                damping, growth = damping * growth, growth * 2.0
                if damping > 1e12:
                    return None
        return None

    def _fixed_point(self, theta: np.ndarray, point: _Point, K: int, ref: int):
        """Exact Newton steps to EM's fixed point with the variance floor (phase 2)."""
        P = len(theta)
        eta = np.arange(2 * K - 1, P)
        for _ in range(FIXED_POINT_STEPS):
            variances = np.exp(point.log_variances)
            residual = point.gradient.copy()
            jacobian = point.hessian.copy()
            if self.equal:
                shift = self.floor / (2.0 * variances[0])
                residual[eta[0]] += shift
                jacobian[eta[0], eta[0]] -= shift
            else:
                shift = self.floor / (2.0 * variances)
                residual[eta] += point.counts * shift
                jacobian[eta, :] += shift[:, None] * point.count_jacobian
                jacobian[eta, eta] -= point.counts * shift
            try:
                step = np.linalg.solve(jacobian, -residual)
            except np.linalg.LinAlgError:
                return None
            theta = theta + step
            point = self._point(theta, K, ref)
            if point is None or not self._sound(point):
                return None
            if np.max(np.abs(step)) <= 1e-12 * max(1.0, float(np.max(np.abs(theta)))):
                return theta, point
        return theta, point

    # -------------------------------------------------------------- public
    def finish(self, params: Parameters, factorise: Any) -> Parameters | None:
        """EM's fixed point at the top of the ridge ``params`` are on, or None.

        ``params`` are a run's parameters in the layout's storage (one feature);
        ``factorise`` the layout's compiled factorisation (fills the precisions). The
        returned parameters have the log-likelihood of ``params`` or more.
        """
        weights = np.asarray(params.weights, dtype=np.float64)
        K = len(weights)
        if K < 2 or not np.all(weights > 0):
            return None
        stored = np.asarray(params.covariances, dtype=np.float64)
        variances = stored.reshape(-1)
        if self.equal:
            variances = variances[:1]
        elif len(variances) != K:
            return None
        means = np.asarray(params.means, dtype=np.float64).reshape(K)
        ref = int(np.argmax(weights))
        theta = self._join(np.log(weights), means, np.log(variances), ref)
        start = self._evaluate(np.log(weights), means, np.log(variances), ref, derivatives=False)
        top = self._ascend(theta, K, ref)
        if start is None or top is None:
            return None
        fixed = self._fixed_point(*top, K, ref)
        if fixed is None or not fixed[1].value >= start[0]:
            return None
        point = fixed[1]
        new_weights = np.exp(point.log_weights)
        new_weights /= new_weights.sum()
        values = np.exp(point.log_variances)
        covariances = np.empty_like(stored)
        flat = covariances.reshape(-1)
        flat[:] = values[0] if self.equal else values
        prec = np.empty_like(np.asarray(params.prec, dtype=np.float64))
        if factorise(covariances, prec) != NO_FAILURE:
            return None
        return Parameters(
            new_weights,
            point.means.reshape(np.shape(params.means)).copy(),
            covariances,
            prec,
            None if params.dof is None else np.array(params.dof, dtype=np.float64),
        )


def _cholesky(matrix: np.ndarray) -> np.ndarray | None:
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return None


def _solve(factor: np.ndarray, vector: np.ndarray) -> np.ndarray:
    half = solve_triangular(factor, vector, lower=True)
    return solve_triangular(factor.T, half, lower=False)


def newton_finish_for(engine: Any, model: Any, tol: float) -> NewtonFinish | None:
    """The finish for a stack run by ``engine`` with ``model``, or None where it does not
    apply: an engine other than the in-memory ones (JAX, missing values), more than one
    feature, data not in memory, a t family, a noise component, a conjugate prior,
    float32 arithmetic, or no convergence test (``tol <= 0``)."""
    if tol <= 0 or not isinstance(engine, WholeRunEngine | BlockEngine):
        return None
    X = engine.X
    if (
        not isinstance(X, np.ndarray)
        or X.ndim != 2
        or X.shape[1] != 1
        or engine.scaled
        or engine.prior_terms
        or engine.dtype != np.float64
        or not isinstance(engine.weights, np.ndarray)
    ):
        return None
    rows = X[:, 0] - engine.shift[0]
    if not np.all(np.isfinite(rows)):
        return None
    equal = model.mclust_name[0] == "E"
    return NewtonFinish(rows, engine.weights, float(engine.reg[0]), equal, tol)
