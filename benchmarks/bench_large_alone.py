"""A default fit at 1M x 10, K=8, ours and scikit-learn's, each five times in a row in one
process (after one warm-up fit each), so that neither runs in the other's wake.

Run:  PYTHONPATH=. python benchmarks/bench_large_alone.py
"""

from __future__ import annotations

import time

from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from bayesgmm import GaussianMixture
from bayesgmm.datasets import make_mixture


def main() -> None:
    X = make_mixture(1_000_000, 8, 10, random_state=0).X
    for name, make in (("ours", GaussianMixture), ("scikit-learn", SklearnGaussianMixture)):
        make(8, random_state=0).fit(X)  # warm-up (compiles our kernels)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fit = make(8, random_state=0).fit(X)
            times.append(time.perf_counter() - start)
        print(f"{name}: {', '.join(f'{t:.2f}' for t in times)} s, mean log-likelihood "
              f"{fit.score(X):.6f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
