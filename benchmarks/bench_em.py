"""EM speed: bayesgmm against scikit-learn (and mclust through Rscript) in one run.

Every case fits the same data from the same initial parameters for the same fixed
number of iterations (``tol=0``) with each fitter, and prints per covariance type:

* ``ours``: bayesgmm seconds per EM iteration, float64, at ``--threads`` worker
  threads (BLAS at one thread inside). Every per-iteration time here, ours and the
  peers', is ``(t(fit of n iterations) - t(fit of 1 iteration)) / (n - 1)`` so that
  fixed per-fit costs (validation, moments, result objects) cancel;
* ``sk1``/``sk2``: scikit-learn's seconds per iteration with BLAS pinned to 1 and 2
  threads (threadpoolctl), and ``ratio`` = best scikit-learn time / ours;
* ``mclust``: mclust's ``me()`` seconds per iteration, timed inside R (when Rscript and
  mclust are installed) and its ratio;
* ``f32``: our time on float32 data, ``f64/f32`` speed-up (wall-clock, and ``c64/32``
  in one-thread CPU seconds, which load on the machine does not distort) and the
  relative difference of its log-likelihood from float64 (``--our-iters`` runs our fits
  for more iterations than the peers' so that these ratios are not lost in the noise of
  a few iterations);
* ``cpu1``: scikit-learn's CPU seconds over ours, both at one thread (a per-core
  efficiency ratio that load on the machine does not distort);
* ``dLL``: relative difference between our and scikit-learn's final mean
  log-likelihood; ``MB``: peak traced memory of our fit and scikit-learn's.

Timings alternate the fitters rep by rep after a warm-up and report medians, so a
machine under load slows all of them alike.

Run ``python benchmarks/bench_em.py --quick`` (cases S and M) or name cases with
``--cases S,M,L,W``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayesgmm import GaussianMixture  # noqa: E402
from bayesgmm.covariance import get_covariance_model  # noqa: E402
from bayesgmm.gaussian import log_mixture_density  # noqa: E402

CASES = {
    "S": (10_000, 2, 3),
    "M": (100_000, 10, 8),
    "L": (1_000_000, 10, 8),
    "W": (200_000, 50, 10),
}
TYPES = ("full", "tied", "diag", "spherical")
MCLUST_MODEL = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}


def make_data(n_samples: int, n_features: int, n_components: int, seed: int = 0) -> np.ndarray:
    """Overlapping Gaussian clusters with random covariances, standardised (ddof=0)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.5, (n_components, n_features))
    labels = rng.integers(n_components, size=n_samples)
    X = np.empty((n_samples, n_features))
    for k in range(n_components):
        rows = labels == k
        mix = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features) + np.eye(n_features)
        X[rows] = rng.normal(size=(rows.sum(), n_features)) @ mix + centers[k]
    return (X - X.mean(axis=0)) / X.std(axis=0)


def initial_parameters(X: np.ndarray, n_components: int, covariance_type: str, seed: int = 1):
    """Weights, means and precisions both fitters start from."""
    rng = np.random.default_rng(seed)
    n_features = X.shape[1]
    means = X[rng.choice(len(X), n_components, replace=False)]
    weights = np.full(n_components, 1.0 / n_components)
    precisions = {
        "full": np.repeat(np.eye(n_features)[None], n_components, axis=0),
        "tied": np.eye(n_features),
        "diag": np.ones((n_components, n_features)),
        "spherical": np.ones(n_components),
    }[covariance_type]
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


def fit_ours(X, n_components, covariance_type, n_iter, init):
    model = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=n_iter,
        reg_covar=1e-6,
        n_init=1,
        **init,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X)


def fit_sklearn(X, n_components, covariance_type, n_iter, init):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    model = SkGaussianMixture(
        n_components,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=n_iter,
        reg_covar=1e-6,
        n_init=1,
        **init,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def cpu_timed(function, *args):
    """CPU seconds of the calling thread (run at one thread: all the work is there;
    process time would also count BLAS threads still spinning from an earlier fit)."""
    start = time.thread_time()
    result = function(*args)
    return time.thread_time() - start, result


def peak_mb(function, *args) -> float:
    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def mclust_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "suppressMessages(library(mclust)); cat('ok')"],
        capture_output=True,
        text=True,
    )
    return probe.stdout.strip().endswith("ok")


MCLUST_SCRIPT = r"""
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(args[2]); d <- as.integer(args[3]); k <- as.integer(args[4])
model <- args[5]; n_iter <- as.integer(args[6]); reps <- as.integer(args[7])
con <- file(args[1], "rb")
X <- matrix(readBin(con, "double", n * d), nrow = n, ncol = d, byrow = TRUE)
z <- matrix(readBin(con, "double", n * k), nrow = n, ncol = k, byrow = TRUE)
close(con)
control <- emControl(tol = c(0, 0), itmax = c(n_iter, .Machine$integer.max))
fit <- me(modelName = model, data = X, z = z, control = control)  # warm-up
times <- numeric(reps)
for (r in seq_len(reps)) {
  times[r] <- system.time(fit <- me(modelName = model, data = X, z = z, control = control))[3]
}
iters <- abs(attr(fit, "info")[1])  # negative when itmax was reached
cat(median(times) / iters, fit$loglik / n, iters, "\n")
"""


def run_mclust(X, resp, covariance_type, n_iter, reps):
    """mclust's me() from the responsibilities of our start: seconds per iteration, mean LL."""
    n_samples, n_features = X.shape
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data.bin"
        with open(data, "wb") as handle:
            handle.write(np.ascontiguousarray(X, dtype="<f8").tobytes())
            handle.write(np.ascontiguousarray(resp, dtype="<f8").tobytes())
        script = Path(folder) / "fit.R"
        script.write_text(MCLUST_SCRIPT)
        out = subprocess.run(
            [
                "Rscript",
                str(script),
                str(data),
                str(n_samples),
                str(n_features),
                str(resp.shape[1]),
                MCLUST_MODEL[covariance_type],
                str(n_iter),
                str(reps),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        )
    if out.returncode != 0:
        return None, None
    fields = out.stdout.split()
    return float(fields[0]), float(fields[1])


def bench_case(name, types, args, use_mclust):
    n_samples, n_features, n_components = CASES[name]
    n_iter = args.iters or {"S": 30, "M": 15}.get(name, 4)
    our_iter = args.our_iters or n_iter
    X = make_data(n_samples, n_features, n_components)
    X32 = X.astype(np.float32)
    print(
        f"\ncase {name}: N={n_samples:,} D={n_features} K={n_components}, {n_iter} iterations "
        f"({our_iter} for ours), median of {args.reps}"
    )
    header = (
        f"{'type':<10}{'ours s/it':>11}{'sk1':>9}{'sk2':>9}{'ratio':>7}{'mclust':>9}{'ratio':>7}"
        f"{'cpu1':>6}{'f32':>9}{'f64/f32':>8}{'c64/32':>7}{'dLL f32':>9}{'dLL sk':>9}"
        f"{'MB ours':>8}{'MB sk':>7}"
    )
    print(header)
    rows = []
    for covariance_type in types:
        init = initial_parameters(X, n_components, covariance_type)
        calls = {
            fit_ours: (n_components, covariance_type, our_iter, init),
            fit_sklearn: (n_components, covariance_type, n_iter, init),
        }
        call = calls[fit_sklearn]
        with threadpool_limits(args.threads):  # warm-up
            fit_ours(X, n_components, covariance_type, 2, init)
            fit_ours(X32, n_components, covariance_type, 2, init)
        with threadpool_limits(1):
            fit_sklearn(X, n_components, covariance_type, 2, init)
        one = (n_components, covariance_type, 1, init)
        times = {key: [] for key in ("ours", "f32", "sk1", "sk2", "cpu_ours", "cpu_sk", "cpu_f32")}
        fits = {}

        plan = [
            ("ours", fit_ours, X, args.threads, timed),
            ("f32", fit_ours, X32, args.threads, timed),
            ("sk1", fit_sklearn, X, 1, timed),
            ("sk2", fit_sklearn, X, 2, timed),
            # one thread each, CPU seconds: a ratio that load on the machine does not distort
            ("cpu_ours", fit_ours, X, 1, cpu_timed),
            ("cpu_sk", fit_sklearn, X, 1, cpu_timed),
            ("cpu_f32", fit_ours, X32, 1, cpu_timed),
        ]
        for _ in range(args.reps):
            for key, function, data, threads, clock in plan:
                # seconds per iteration: (fit of n_iter - fit of 1) / (n_iter - 1), so the
                # fixed per-fit costs (validation, moments, result object) cancel
                with threadpool_limits(threads):
                    long_time, fits[key] = clock(function, data, *calls[function])
                    short_time, _ = clock(function, data, *one)
                times[key].append((long_time - short_time) / (calls[function][2] - 1))
        ours, ours32, sk = fits["ours"], fits["f32"], fits["sk1"]
        per_iter = {key: statistics.median(value) for key, value in times.items()}
        best_sk = min(per_iter["sk1"], per_iter["sk2"])
        # our log-likelihood after the peers' iteration count (the history holds every one)
        ll_ours = ours.score(X) if our_iter == n_iter else ours.lower_bounds_[n_iter]
        ll_sk, ll_32 = sk.score(X), ours32.lower_bound_
        with threadpool_limits(args.threads):
            mb_ours = peak_mb(fit_ours, X, *calls[fit_ours])
        with threadpool_limits(1):
            mb_sk = peak_mb(fit_sklearn, X, *call)
        mclust_time = mclust_ll = None
        if use_mclust and name in args.mclust_cases.split(","):
            resp = initial_responsibilities(X, covariance_type, init)
            mclust_time, mclust_ll = run_mclust(X, resp, covariance_type, n_iter, args.reps)
        row = {
            "case": name,
            "type": covariance_type,
            "ours": per_iter["ours"],
            "sk1": per_iter["sk1"],
            "sk2": per_iter["sk2"],
            "ratio": best_sk / per_iter["ours"],
            "cpu_ratio": per_iter["cpu_sk"] / per_iter["cpu_ours"],
            "mclust": mclust_time,
            "mclust_ratio": None if mclust_time is None else mclust_time / per_iter["ours"],
            "f32": per_iter["f32"],
            "speedup32": per_iter["ours"] / per_iter["f32"],
            "cpu_speedup32": per_iter["cpu_ours"] / per_iter["cpu_f32"],
            "dll32": abs(ll_32 - ours.lower_bound_) / abs(ours.lower_bound_),
            "dll": abs(ll_ours - ll_sk) / abs(ll_sk),
            "mclust_ll": mclust_ll,
            "mb_ours": mb_ours,
            "mb_sk": mb_sk,
        }
        rows.append(row)
        mclust_text = (
            f"{'n/a':>9}{'':>7}"
            if mclust_time is None
            else f"{mclust_time:>9.4f}{row['mclust_ratio']:>7.1f}"
        )
        print(
            f"{covariance_type:<10}{row['ours']:>11.5f}{row['sk1']:>9.4f}{row['sk2']:>9.4f}"
            f"{row['ratio']:>7.1f}{mclust_text}{row['cpu_ratio']:>6.1f}{row['f32']:>9.5f}"
            f"{row['speedup32']:>8.2f}{row['cpu_speedup32']:>7.2f}{row['dll32']:>9.1e}{row['dll']:>9.1e}{mb_ours:>8.1f}"
            f"{mb_sk:>7.1f}",
            flush=True,
        )
    return rows


def initial_responsibilities(X, covariance_type, init):
    """E-step at the initial parameters, the start mclust's me() takes."""
    kind = get_covariance_model(covariance_type)
    prec_chol = kind.precision_cholesky_from_precisions(init["precisions_init"])
    weighted = kind.log_density(X, init["means_init"], prec_chol) + np.log(init["weights_init"])
    return np.exp(log_mixture_density(weighted)[1])


def bench_init(args):
    """Initialisation at L apart from EM: one k-means start against one EM iteration."""
    n_samples, n_features, n_components = CASES["L"]
    X = make_data(n_samples, n_features, n_components)
    with threadpool_limits(args.threads):
        init = initial_parameters(X, n_components, "full")
        fit_ours(X, n_components, "full", 1, init)
        iteration, _ = timed(fit_ours, X, n_components, "full", 5, init)
        iteration /= 5
        for method in ("kmeans", "k-means++"):
            model = GaussianMixture(
                n_components, init_params=method, n_init=1, max_iter=1, tol=0.0, random_state=0
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                elapsed, _ = timed(model.fit, X)
            start = elapsed - 2 * iteration  # fit = start + one iteration + final E-step
            print(
                f"init at L ({method}, one start): {start:.3f} s = {start / iteration:.1f} EM "
                f"iterations of {iteration:.4f} s"
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="cases S and M only")
    parser.add_argument("--cases", default="S,M,L,W", help="comma-separated of S,M,L,W")
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--threads", type=int, default=2, help="our worker threads")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--iters", type=int, default=0, help="EM iterations (0: by case)")
    parser.add_argument(
        "--our-iters",
        type=int,
        default=0,
        help="iterations of our fits (0: --iters); ours are cheap, so more of them make "
        "the float32 and per-iteration figures less noisy",
    )
    parser.add_argument("--no-mclust", action="store_true")
    parser.add_argument("--mclust-cases", default="S,M,L", help="cases that run mclust")
    parser.add_argument("--init", action="store_true", help="also time initialisation at L")
    args = parser.parse_args(argv)
    cases = ["S", "M"] if args.quick else args.cases.split(",")
    types = args.types.split(",")
    use_mclust = not args.no_mclust and mclust_available()
    mclust_state = "yes" if use_mclust else "off" if args.no_mclust else "not installed"
    import sklearn

    print(
        f"bench_em {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs); python "
        f"{platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}; ours at {args.threads} thread(s); load average "
        f"{os.getloadavg()[0]:.1f}; mclust {mclust_state}"
    )
    rows = []
    for name in cases:
        rows += bench_case(name, types, args, use_mclust)
    if args.init:
        bench_init(args)
    return rows


if __name__ == "__main__":
    main()
