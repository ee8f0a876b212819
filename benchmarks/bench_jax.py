"""The JAX engine's seconds per EM iteration, against our CPU engine and scikit-learn.

For the issue's two cases, ``(1M, 10, K=8)`` and ``(10M, 50, K=16)``, full covariances:
every fitter runs the same start for ``--iters`` iterations (``tol=0``) and a one-iteration
fit is subtracted, so fixed costs (validation, moving the data to the device, compiling
the pass) cancel, as in ``bench_em.py``. The JAX engine runs wherever JAX's default device
is (a GPU when one is visible); ``--no-sklearn`` skips scikit-learn (slow at 10M rows).
The anchor to compare a GPU run with: a hand-written batched JAX EM on an H200 took
0.018 s per iteration at (1M, 10, 8) full.

Run ``python benchmarks/bench_jax.py --cases 1M`` (or ``--cases 1M,10M`` on a GPU).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_em import initial_parameters, make_data  # noqa: E402

from bayesgmm import GaussianMixture  # noqa: E402

CASES = {"1M": (1_000_000, 10, 8), "10M": (10_000_000, 50, 16)}


def per_iteration(cls, X, init, iters, dtype=np.float64, **options) -> float:
    """Seconds per iteration: (t(iters) - t(1)) / (iters - 1), after a warm-up fit."""
    times = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n_iter in (1, 1, iters):  # the first fit warms up (compilation, device)
            model = cls(len(init["weights_init"]), tol=0.0, max_iter=n_iter, n_init=1,
                        **init, **options)  # fmt: skip
            start = time.perf_counter()
            model.fit(X.astype(dtype, copy=False))
            times[n_iter] = time.perf_counter() - start
    return (times[iters] - times[1]) / (iters - 1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="1M")
    parser.add_argument("--iters", type=int, default=6)
    parser.add_argument("--no-sklearn", action="store_true")
    args = parser.parse_args(argv)
    import jax

    print(f"JAX {jax.__version__} on {jax.devices()}")
    print(f"{'case':<6}{'jax64 s':>9}{'jax32 s':>9}{'cpu64 s':>9}{'sklearn s':>11}{'x sk':>7}")
    for name in args.cases.split(","):
        n_samples, n_features, n_components = CASES[name]
        X = make_data(n_samples, n_features, n_components)
        init = initial_parameters(X, n_components, "full")
        jax64 = per_iteration(GaussianMixture, X, init, args.iters, engine="jax")
        jax32 = per_iteration(GaussianMixture, X, init, args.iters, np.float32, engine="jax")
        cpu = per_iteration(GaussianMixture, X, init, args.iters, engine="blocks")
        sklearn = float("nan")
        if not args.no_sklearn:
            from sklearn.mixture import GaussianMixture as SkGaussianMixture

            sklearn = per_iteration(SkGaussianMixture, X, init, args.iters)
        print(
            f"{name:<6}{jax64:>9.3f}{jax32:>9.3f}{cpu:>9.3f}{sklearn:>11.3f}"
            f"{sklearn / min(jax64, jax32):>7.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
