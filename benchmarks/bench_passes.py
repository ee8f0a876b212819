"""One E+M pass of the block engine, float64 against float32, at one thread.

A whole-fit timing (``bench_em.py``) adds the M-step, the thread pool and the fit's
fixed costs to the pass; this times only the pass that float32 speeds up: one
``BlockPass`` call over all rows (features, log-densities, responsibilities and the
M-step's sums), BLAS at one thread, median of ``--reps`` after a warm-up, with the
parameters of the ``bench_em.py`` start. The float64 and float32 passes alternate.

Run ``python benchmarks/bench_passes.py --cases M,L``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_em import CASES, TYPES, initial_parameters, make_data  # noqa: E402

from bayesgmm.covariance import get_covariance_model  # noqa: E402
from bayesgmm.em.passes import BlockPass  # noqa: E402


def kernels(X: np.ndarray, n_components: int, covariance_type: str) -> dict:
    """The float64 and float32 block passes of the bench_em start, shifted by the mean."""
    init = initial_parameters(X, n_components, covariance_type)
    model = get_covariance_model(covariance_type)
    prec = model.to_storage(model.precision_cholesky_from_precisions(init["precisions_init"]))
    shift = X.mean(axis=0)
    params = (
        init["weights_init"],
        init["means_init"] - shift,
        model.layout.covariances_from_precision_cholesky(prec),
        prec,
    )
    return {
        dtype: BlockPass(model.layout, params, shift, dtype) for dtype in (np.float64, np.float32)
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="M,L")
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args(argv)
    print(f"{'case':<5}{'type':<11}{'f64 ms':>9}{'f32 ms':>9}{'f64/f32':>9}")
    for name in args.cases.split(","):
        n_samples, n_features, n_components = CASES[name]
        X64 = make_data(n_samples, n_features, n_components)
        data = {np.float64: X64, np.float32: X64.astype(np.float32)}
        ones = np.ones(n_samples)
        for covariance_type in args.types.split(","):
            by_dtype = kernels(X64, n_components, covariance_type)
            times = {np.float64: [], np.float32: []}
            with threadpool_limits(1):
                for dtype, kernel in by_dtype.items():
                    kernel(data[dtype], ones)  # warm-up (and compilation)
                for _ in range(args.reps):
                    for dtype, kernel in by_dtype.items():
                        start = time.perf_counter()
                        kernel(data[dtype], ones)
                        times[dtype].append(time.perf_counter() - start)
            double, single = (statistics.median(times[d]) * 1e3 for d in (np.float64, np.float32))
            print(
                f"{name:<5}{covariance_type:<11}{double:>9.2f}{single:>9.2f}"
                f"{double / single:>9.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
