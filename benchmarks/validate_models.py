"""Do bayesgmm's 14 covariance models reach mclust's optima?

For every bundled data set, every covariance model and K = 1..5, fit
``bayesgmm.GaussianMixture`` at its defaults and compare its BIC with mclust's
``mclustBIC`` (mclust's own defaults: one hierarchical start), run through ``Rscript``.
mclust's BIC is ``2 log L - p log n``; ours is minus that, and is compared in mclust's
sign here (higher is better). The parameter counts must agree exactly.

Where mclust's BIC is higher, its solution is checked for a degenerate component by
bayesgmm's own rule (one EM iteration from mclust's parameters without regularisation):
a collapsed component has an unbounded likelihood and is not a better optimum.

Needs R with mclust (``apt-get install r-base-core r-cran-mclust``); the tests do not.

Run:  python benchmarks/validate_models.py [--datasets iris,faithful] [--max-k 5]
"""

from __future__ import annotations

import argparse
import shutil
import time
import warnings
from types import SimpleNamespace

import numpy as np
from validate_optima import DATASETS as OPTIMA_DATASETS
from validate_optima import run_mclust as run_optima_mclust
from validate_optima import sklearn_solution_is_degenerate

from bayesgmm import GaussianMixture
from bayesgmm.covariance import MODELS, get_covariance_model
from bayesgmm.datasets import load_eustockmarkets

#: validate_optima's data sets (iris, faithful, diabetes, galaxies, seed) and, with more
#: rows and four features, the EuStockMarkets returns.
DATASETS = {**OPTIMA_DATASETS, "eustocks": lambda: load_eustockmarkets().to_numpy()}
MCLUST_ORDER = [model.mclust_name for model in MODELS.values()]
#: BIC difference within which two fits are the same optimum: 2 n x 1e-5 (1e-5 per
#: observation in mean log-likelihood, as benchmarks/validate_optima.py), which covers
#: both stopping rules and our variance floor (reg_covar=1e-6 of each variance).
SLACK_PER_ROW = 2e-5

MCLUST_SCRIPT = r"""
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
X <- as.matrix(read.csv(args[1], header = FALSE))
max_k <- as.integer(args[2])
models <- if (ncol(X) == 1) c("E", "V") else strsplit(args[3], ",")[[1]]
out <- file(args[4], "w")
for (m in models) for (G in 1:max_k) {
  fit <- tryCatch(Mclust(X, G = G, modelNames = m, verbose = FALSE), error = function(e) NULL)
  if (is.null(fit)) { writeLines(sprintf("%s %d NA", m, G), out); next }
  sigma <- fit$parameters$variance$sigma
  if (is.null(sigma)) sigma <- array(fit$parameters$variance$sigmasq, c(1, 1, G))
  sigma <- array(sigma, c(ncol(X), ncol(X), G))
  values <- c(fit$parameters$pro, fit$parameters$mean, sigma)
  writeLines(paste(m, G, sprintf("%.17g", fit$bic), fit$df, paste(sprintf("%.17g", values),
                   collapse = " ")), out)
}
close(out)
"""


def run_mclust(X: np.ndarray, max_k: int) -> dict:
    """mclust's fits: ``{(model, K): (bic, df, weights, means, covariances)}`` (None:
    failed), by :func:`validate_optima.run_mclust` with this script."""
    return run_optima_mclust(X, max_k, MCLUST_SCRIPT, MCLUST_ORDER)


def mclust_is_degenerate(X: np.ndarray, name: str, fit: tuple) -> bool:
    """Whether mclust's solution has a degenerate component, by bayesgmm's rule (the
    probe of benchmarks/validate_optima.py)."""
    _, _, weights, means, sigma = fit
    model = get_covariance_model(name)
    try:
        factors = model.precision_cholesky(model.from_full(sigma), weights)
    except ValueError:  # not even positive definite
        return True
    solution = SimpleNamespace(
        n_components=len(weights),
        covariance_type=name,
        weights_=weights,
        means_=means,
        precisions_=model.precisions(factors),
    )
    return bool(sklearn_solution_is_degenerate(X, solution))


def compare(X: np.ndarray, name: str, k: int, theirs: tuple | None) -> tuple[str, float]:
    """One cell: the symbol and our BIC minus mclust's (mclust's sign)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GaussianMixture(k, covariance_type=name, random_state=0).fit(X)
    our_bic = -ours.bic(X)
    mark = "°" if ours.result_.degenerate else ""
    if theirs is None:
        return "n" + mark, np.nan
    their_bic, their_df = theirs[0], theirs[1]
    if their_df != ours.result_.n_parameters:
        raise AssertionError(
            f"{name} K={k}: {ours.result_.n_parameters} parameters, mclust's {their_df}"
        )
    difference = our_bic - their_bic
    if abs(difference) <= SLACK_PER_ROW * len(X):
        return "=" + mark, difference
    if difference > 0:
        return "+" + mark, difference
    return ("d" if mclust_is_degenerate(X, name, theirs) else "−") + mark, difference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--max-k", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("Rscript") is None:
        raise SystemExit("Rscript is not on PATH: install R and mclust to run this benchmark.")
    counts: dict[str, int] = {}
    header = "| data | model | " + " | ".join(f"K={k}" for k in range(1, args.max_k + 1)) + " |"
    print(header)
    print("|---|---|" + "---|" * args.max_k)
    for data_name in args.datasets.split(","):
        X = np.asarray(DATASETS[data_name](), dtype=np.float64)
        start = time.perf_counter()
        mclust = run_mclust(X, args.max_k)
        for model in MODELS.values():
            letters = model.mclust_name
            key = letters if X.shape[1] > 1 else ("E" if letters[0] == "E" else "V")
            cells = []
            for k in range(1, args.max_k + 1):
                mark, _ = compare(X, model.name, k, mclust[(key, k)])
                counts[mark[0]] = counts.get(mark[0], 0) + 1
                cells.append(mark)
            print(f"| {data_name} | {letters} | " + " | ".join(cells) + " |", flush=True)
        print(f"<!-- {data_name}: {time.perf_counter() - start:.0f} s -->", flush=True)
    print("\n" + ", ".join(f"{symbol}: {count}" for symbol, count in sorted(counts.items())))


if __name__ == "__main__":
    main()
