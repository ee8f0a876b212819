"""Variational fits (ADVI, full-rank ADVI, minibatch ADVI) against NUTS and the truth.

Issue 8 part 5. Data: ``make_mixture(n, 3, 2)`` (K=3 components, D=2 features), full
covariances, fits started from the EM solution.

Cases (``--cases``, comma-separated):

nuts   N=10,000: NUTS (nutpie, 4 chains x 1000 + 1000) against ADVI and full-rank ADVI:
       largest distance between posterior means (weights, means, covariances) in
       standardised units and in NUTS posterior sds, and the range of the ratio of
       posterior sds (ADVI / NUTS).
100k   N=100,000: ADVI on all rows and on minibatches ("auto"), full-rank ADVI: whole
       fit, inference, compile and optimisation seconds, steps, gradient evaluations,
       passes over the data, distance of the means to the truth.
honest N=100,000: how far the approximation still moves when the optimisation goes
       on 20 times longer than the criterion allowed (tol=0): an honest criterion
       leaves less than ``tol`` (0.05 sd, 0.05 in log sd) to move.
1m     N=1,000,000, minibatch ADVI ("auto", 20,000 rows per step).
10m    N=10,000,000 rows in a dask array (chunks of 500,000 rows drawn chunk by chunk
       from make_mixture's parameters, never whole in memory): minibatch ADVI ("auto"),
       the EM start through the EM engine's dask path; whole fit, peak resident memory
       (of this process, which then holds one chunk and the 10^6-row pool at a time)
       and the distance of the means to the truth.

Run:  python benchmarks/bench_advi.py [--cases nuts,100k,honest,1m,10m]
"""

import argparse
import time
import warnings
from types import SimpleNamespace

import numpy as np
import pymc  # noqa: F401 - imported before timing: a fit does not pay for it

from bayesgmm import BayesianGaussianMixture
from bayesgmm.bayes import limit_blas_threads, start_values
from bayesgmm.bayes.model import Standardisation
from bayesgmm.bayes.samplers.advi import fit_variational
from bayesgmm.datasets import make_mixture

K, D = 3, 2


def _fit(X, method, **params):
    options = {"draws": 250, "chains": 4, "compute_log_likelihood": False, "random_state": 0}
    options.update(params)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = BayesianGaussianMixture(K, covariance_type="full", method=method, **options).fit(X)
    return fit, time.perf_counter() - started


def _standardised(fit, X):
    """Posterior draws of every parameter in standardised units, (draws, parameters)."""
    post = fit.result_.posterior.posterior
    scale = X.std(axis=0)
    weights = post["weights"].values.reshape(-1, K)
    means = (post["means"].values / scale).reshape(len(weights), -1)
    cov = post["covariances"].values / scale[:, None] / scale[None, :]
    rows, cols = np.tril_indices(D)
    cov = cov[..., rows, cols].reshape(len(weights), -1)
    return np.concatenate([weights, means, cov], axis=1)


def _line(name, fit, wall, truth=None):
    info = fit.inference_info_
    text = (
        f"{name:<28} whole fit {wall:6.1f} s  inference {info['seconds']:5.1f} s  "
        f"(compile {info['seconds_compile']:4.1f}, optimise {info['seconds_optimise']:5.2f})  "
        f"steps {info['n_iter']:5d}  grad evals {info['n_grad_evals']:5d}  "
        f"passes {info['passes']:6.1f}  converged {info['converged']}"
    )
    if truth is not None:
        scale = truth.X.std(axis=0)
        order = [int(np.argmin(((fit.means_ - m) ** 2).sum(1))) for m in truth.means]
        error = np.abs((fit.means_[order] - truth.means) / scale).max()
        text += f"  |means - truth| max {error:.4f} sd units"
    print(text, flush=True)


def case_nuts() -> None:
    truth = make_mixture(10_000, K, D, random_state=1)
    X = truth.X
    nuts, wall = _fit(X, "nuts", draws=1000, tune=1000)
    print(f"N=10000 NUTS (nutpie) whole fit {wall:.1f} s", flush=True)
    reference = _standardised(nuts, X)
    centre, spread = reference.mean(0), reference.std(0)
    for method in ("advi", "fullrank_advi"):
        fit, wall = _fit(X, method, draws=1000)
        _line(f"N=10000 {method}", fit, wall)
        draws = _standardised(fit, X)
        distance = np.abs(draws.mean(0) - centre)
        ratio = draws.std(0) / spread
        print(
            f"    vs NUTS: largest |posterior mean difference| {distance.max():.4f} "
            f"standardised units = {(distance / spread).max():.2f} NUTS sds; "
            f"sd ratio {ratio.min():.2f} to {ratio.max():.2f}",
            flush=True,
        )


def case_100k() -> None:
    truth = make_mixture(100_000, K, D, random_state=0)
    for name, params in (
        ("advi, all rows", {"method": "advi", "batch_size": None}),
        ("advi, batch_size='auto'", {"method": "advi"}),
        ("fullrank_advi, 'auto'", {"method": "fullrank_advi"}),
    ):
        fit, wall = _fit(truth.X, **params)
        _line(f"N=100000 {name}", fit, wall, truth)


def case_honest() -> None:
    truth = make_mixture(100_000, K, D, random_state=0)
    fit, _ = _fit(truth.X, "advi", draws=10)
    standard = Standardisation.from_data(truth.X, "full")
    em = fit.em_
    start = start_values(em.weights_, em.means_, em.covariances_, "full", standard)
    for method in ("advi", "fullrank_advi"):
        runs = []
        for tol, max_iter in ((0.05, 50_000), (0.0, None)):
            max_iter = max_iter or 20 * runs[0]["n_iter"]
            with limit_blas_threads(1), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, info = fit_variational(
                    fit.model_,
                    method,
                    start,
                    n_draws=10,
                    tol=tol,
                    max_iter=max_iter,
                    batch_size="auto",
                    rng=np.random.default_rng(len(runs)),
                )
            runs.append(info)
        first, long = runs

        def sd(info):
            precision = info["precision"]
            if precision.ndim == 1:
                return 1 / np.sqrt(precision)
            return np.sqrt(np.diag(np.linalg.inv(precision)))

        moved = np.abs(first["mean"] - long["mean"]) / sd(long)
        log_sd = np.abs(np.log(sd(first) / sd(long)))
        print(
            f"N=100000 {method}: stopped after {first['n_iter']} steps; {long['n_iter']} "
            f"steps later the mean had moved {moved.max():.3f} sd and log sd "
            f"{log_sd.max():.3f} at most (tol 0.05)",
            flush=True,
        )


def case_1m() -> None:
    truth = make_mixture(1_000_000, K, D, random_state=0)
    fit, wall = _fit(truth.X, "advi")
    _line("N=1000000 advi, 'auto'", fit, wall, truth)


def _lazy_rows(truth, n: int, chunk: int):
    """n rows of ``truth``'s mixture as a dask array, each chunk drawn when read."""
    import dask.array as da

    chol = np.linalg.cholesky(truth.covariances)

    def block(block_id=None):  # noqa: ANN001 - dask passes the block index
        rng = np.random.default_rng([7, block_id[0]])
        labels = rng.choice(len(truth.weights), size=chunk, p=truth.weights)
        noise = rng.standard_normal((chunk, D))
        return truth.means[labels] + np.einsum("nde,ne->nd", chol[labels], noise)

    return da.map_blocks(block, chunks=((chunk,) * (n // chunk), (D,)), dtype=np.float64)


def case_10m() -> None:
    import resource

    truth = make_mixture(1000, K, D, random_state=0)
    X = _lazy_rows(truth, 10_000_000, 500_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fit, wall = _fit(X, "advi")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sample = SimpleNamespace(X=X[:1_000_000].compute(), means=truth.means)  # for the scale
    _line("N=10M dask advi, 'auto'", fit, wall, sample)
    print(
        f"    peak resident memory {peak:.0f} MiB ({before:.0f} MiB before the fit; the "
        f"data: {X.nbytes / 2**20:.0f} MiB)",
        flush=True,
    )


CASES = {
    "nuts": case_nuts,
    "100k": case_100k,
    "honest": case_honest,
    "1m": case_1m,
    "10m": case_10m,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="nuts,100k,honest,1m")
    args = parser.parse_args()
    for name in args.cases.split(","):
        CASES[name]()


if __name__ == "__main__":
    main()
