"""EVE and VVE on the wine data: default fits per cell, and their M-step against sweeps.

For each model and K: a default ``GaussianMixture(K, covariance_type=model,
random_state=0).fit(X)`` (time, EM iterations, BIC); then, on that fit's
responsibilities (regularised scatter), the M-step's value and time against the
plane-rotation sweeps alone (``ORIENTATION_SWEEPS - 1`` of them, as many as the M-step's
cap allows: the M-step before Newton steps were added, and ten times as many). The
M-step's objective is ``sum_k [n_k log|Sigma_k| + tr(W_k Sigma_k^-1)] / n`` (lower is
better). The first fit compiles the kernels and is not timed; the M-step and the sweeps start
cold (from ``sum_k W_k``'s eigenvectors), as at a start.

Run:  python benchmarks/bench_orientation.py [--ks 3,6,9] [--models EVE,VVE]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numba
import numpy as np
from validate_optima import DATASETS

from bayesgmm import GaussianMixture
from bayesgmm.covariance import diagonal, ellipsoidal, get_covariance_model
from bayesgmm.covariance import orientation_newton as newton
from bayesgmm.em.degenerate import AUTO_REG_COVAR


def _sweeps_for(rule):
    @numba.njit
    def sweeps(nk, scatter, count):
        """``count`` sweeps alone from the eigenvectors of ``sum_k W_k``; the profile."""
        shape = (scatter.shape[0], scatter.shape[1])
        diagonals, deltas = np.empty(shape), np.empty(shape)
        orientation = np.empty((shape[1], shape[1]))
        ellipsoidal._start_orientation(scatter, np.zeros(scatter.shape), orientation)
        rotated = np.empty(scatter.shape)
        transposed = np.ascontiguousarray(orientation.T)
        for k in range(shape[0]):
            rotated[k] = transposed @ scatter[k] @ orientation
        for _ in range(count):
            newton.profile(nk, rotated, nk.sum(), rule, diagonals, deltas)
            ellipsoidal._orientation_sweep(deltas, rotated, orientation)
        return newton.profile(nk, rotated, nk.sum(), rule, diagonals, deltas)

    return sweeps


SWEEPS = {
    "EVE": _sweeps_for(diagonal.equal_volume_rule),
    "VVE": _sweeps_for(diagonal.per_component_rule),
}


def _objective(nk, scatter, covariances):
    _, log_dets = np.linalg.slogdet(covariances)
    traces = np.einsum("kij,kji->k", scatter, np.linalg.inv(covariances))
    return float(nk @ log_dets + traces.sum()) / nk.sum()


def _scatter(X, resp):
    """Counts and scatter as the M-step sees them (the default variance floor, taken
    here as AUTO_REG_COVAR times each feature's variance)."""
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    floor = np.diag(AUTO_REG_COVAR * X.var(axis=0))
    scatter = np.stack(
        [
            ((X - means[k]) * resp[:, k : k + 1]).T @ (X - means[k]) + nk[k] * floor
            for k in range(resp.shape[1])
        ]
    )
    return nk, scatter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="3,6,9")
    parser.add_argument("--models", default="EVE,VVE")
    args = parser.parse_args()
    X = DATASETS["wine"]()
    models = args.models.split(",")
    warnings.simplefilter("ignore")
    for model in models:  # compile
        GaussianMixture(2, covariance_type=model, random_state=0).fit(X)
    cap = ellipsoidal.ORIENTATION_SWEEPS - 1  # the first evaluation is the start's
    columns = f"M-step | {cap} sweeps | {10 * cap} sweeps"
    print(f"| model | K | fit (s) | EM iterations | BIC | {columns} |")
    print("|---|---|---|---|---|---|---|---|")
    for model in models:
        estimate = get_covariance_model(model).estimate
        for k in (int(value) for value in args.ks.split(",")):
            start = time.perf_counter()
            fit = GaussianMixture(k, covariance_type=model, random_state=0).fit(X)
            seconds = time.perf_counter() - start
            nk, scatter = _scatter(X, fit.predict_proba(X))
            estimate(nk, scatter, X.shape[1], np.zeros(scatter.shape))  # compile
            covariances = np.zeros(scatter.shape)
            start = time.perf_counter()
            estimate(nk, scatter, X.shape[1], covariances)
            step_ms = 1e3 * (time.perf_counter() - start)
            reached = _objective(nk, scatter, covariances)
            SWEEPS[model](nk, scatter, 1)  # compile
            cells = []
            for count in (cap, 10 * cap):
                start = time.perf_counter()
                value = SWEEPS[model](nk, scatter, count)
                elapsed_ms = 1e3 * (time.perf_counter() - start)
                cells.append(f"{value - reached:+.2e} ({elapsed_ms:.1f} ms)")
            print(
                f"| {model} | {k} | {seconds:.2f} | {fit.n_iter_} | {fit.bic(X):.3f} "
                f"| {reached:.10f} ({step_ms:.1f} ms) | {cells[0]} | {cells[1]} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
