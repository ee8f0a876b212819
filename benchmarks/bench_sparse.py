"""How many components? A sparse finite mixture against BIC and LOO on the bundled data.

For each data set and one covariance type:

* BIC: ``select(X, 1..K_max, (type,))`` with EM (mclust's rule), the K it chooses;
* LOO: ``select(X, 1..K_max, (type,), method="nuts")``, the K with the best PSIS-LOO
  ELPD (and the K whose ELPD is within one standard error of the difference);
* sparse: ``sparse_mixture(X, K_max, e0=...)`` (NUTS on an overfitted mixture with a
  Dirichlet(e0) prior), the posterior of the number of non-empty components K+.

Run:  python benchmarks/bench_sparse.py [--data faithful,galaxies,iris,diabetes] [--kmax 6]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from bayesgmm import select
from bayesgmm.bayes import sparse_mixture
from bayesgmm.datasets import load_diabetes, load_faithful, load_galaxies, load_iris

DATA = {
    "faithful": (load_faithful, "full"),
    "galaxies": (load_galaxies, "full"),
    "iris": (load_iris, "full"),
    "diabetes": (load_diabetes, "full"),
}
SAMPLING = {"draws": 1000, "tune": 1000, "chains": 2, "cores": 2}


def _loo_choice(table) -> tuple[int, int]:
    """The best K by ELPD, and the smallest K within one dse of the best."""
    ok = table[~table["failed"]] if "failed" in table else table
    best = ok.loc[ok["elpd_loo"].idxmax()]
    close = ok[ok["elpd_diff"] <= ok["dse"].fillna(0)]
    return int(best["n_components"]), int(close["n_components"].min())


def run(name: str, k_max: int, e0: float, seed: int) -> None:
    loader, covariance_type = DATA[name]
    X = loader()
    if hasattr(X, "select_dtypes"):
        X = X.select_dtypes("number")
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    started = time.perf_counter()
    bic = select(X, range(1, k_max + 1), (covariance_type,), random_state=seed)
    bic_seconds = time.perf_counter() - started
    started = time.perf_counter()
    loo = select(
        X,
        range(1, k_max + 1),
        (covariance_type,),
        method="nuts",
        random_state=seed,
        estimator_params=SAMPLING,
    )
    loo_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sparse = sparse_mixture(
        X, k_max, covariance_type=covariance_type, e0=e0, random_state=seed, **SAMPLING
    )
    sparse_seconds = time.perf_counter() - started
    diagnostics = sparse.fit.inference_info_["diagnostics"]
    probabilities = ", ".join(f"{k}: {p:.2f}" for k, p in sparse.n_nonempty.items() if p >= 0.005)
    best, close = _loo_choice(loo.table)
    print(
        f"| {name} ({X.shape[0]} x {X.shape[1]}, {covariance_type}) "
        f"| {bic.best_params_['n_components']} ({bic_seconds:.0f} s) "
        f"| {best} (within 1 se: {close}; {loo_seconds:.0f} s) "
        f"| {sparse.mode}: {{{probabilities}}} ({sparse_seconds:.0f} s, "
        f"{diagnostics.get('divergences', 0)} divergent) "
        f"| {np.round(sparse.result.weights.values, 2).tolist()} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="faithful,galaxies,iris,diabetes")
    parser.add_argument("--kmax", type=int, default=6)
    parser.add_argument("--e0", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"K_max = {args.kmax}, e0 = {args.e0}, NUTS {SAMPLING}\n")
    print("| data | BIC (EM) | LOO (NUTS) | sparse: mode of K+, P(K+ = k) | non-empty weights |")
    print("|---|---|---|---|---|")
    for name in args.data.split(","):
        run(name, args.kmax, args.e0, args.seed)


if __name__ == "__main__":
    main()
