"""Out of core: EM on a dask array that is never whole in memory.

1. ``same``: the same fit from numpy and from dask (N=1M by default, chunks of 100k):
   relative difference of the log-likelihood and largest parameter differences, and
   seconds per iteration of each.
2. ``big``: N=10M x D=10, K=8 generated chunk by chunk (each chunk from its own
   seed, so nothing holds all rows), fitted with a k-means start on a sample; prints
   the start's time, seconds per iteration, and the peak resident memory of the
   process (``ru_maxrss``; run it alone, as the README command does).

3. ``cluster``: N=100M x D=10 (8 GB), K=8, generated chunk by chunk on the workers of a
   ``dask.distributed.LocalCluster`` (worker processes), persisted there once; seconds per
   iteration (a fit of ``--iters`` iterations minus a fit of one, so the start and the
   persist cancel), the start's time apart (a k-means++ start on a 100,000-row sample read
   from the cluster), each worker's peak memory, and the ratio of the per-iteration time to
   that of the in-memory block engine at 10M rows in the same run.

Run ``python benchmarks/bench_dask.py same``, ``... big`` and ``... cluster``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayesgmm import GaussianMixture  # noqa: E402

N_FEATURES = 10
N_COMPONENTS = 8


def _mixture(seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.5, (N_COMPONENTS, N_FEATURES))
    mix = rng.normal(size=(N_COMPONENTS, N_FEATURES, N_FEATURES)) / np.sqrt(N_FEATURES)
    return centers, mix + np.eye(N_FEATURES)


def make_chunk(index: int, n_rows: int, seed: int = 0) -> np.ndarray:
    """Rows of chunk ``index``: a function of (seed, index) only."""
    centers, mix = _mixture(seed)
    rng = np.random.default_rng([seed, index])
    counts = rng.multinomial(n_rows, np.full(N_COMPONENTS, 1.0 / N_COMPONENTS))
    X = rng.normal(size=(n_rows, N_FEATURES))
    start = 0
    for k, count in enumerate(counts):
        rows = slice(start, start + count)
        X[rows] = X[rows] @ mix[k] + centers[k]
        start += count
    return X  # rows grouped by component within a chunk: EM does not care about order


def dask_data(n_samples: int, chunk: int, seed: int = 0):
    import dask.array as da

    n_chunks = -(-n_samples // chunk)
    sizes = tuple(min(chunk, n_samples - i * chunk) for i in range(n_chunks))

    def block(block_info=None):
        index = block_info[None]["chunk-location"][0]
        return make_chunk(index, sizes[index], seed)

    return da.map_blocks(
        block, chunks=(sizes, (N_FEATURES,)), dtype=np.float64, meta=np.empty((0, N_FEATURES))
    )


def _start(seed: int = 1):
    rng = np.random.default_rng(seed)
    centers, _ = _mixture()
    return {
        "weights_init": np.full(N_COMPONENTS, 1.0 / N_COMPONENTS),
        "means_init": centers + rng.normal(0, 0.5, centers.shape),
        "precisions_init": np.repeat(np.eye(N_FEATURES)[None], N_COMPONENTS, axis=0),
    }


def _fit(X, n_iter, **kwargs):
    model = GaussianMixture(N_COMPONENTS, tol=0.0, max_iter=n_iter, n_init=1, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X)
    return model, time.perf_counter() - start


def same(args):
    n_samples = args.n
    X_dask = dask_data(n_samples, args.chunk)
    X = X_dask.compute()
    init = _start()
    with threadpool_limits(args.threads):
        _fit(X, 1, **init)
        numpy_fit, numpy_time = _fit(X, args.iters, **init)
        dask_fit, dask_time = _fit(X_dask, args.iters, **init)
    ll = abs(dask_fit.lower_bound_ - numpy_fit.lower_bound_) / abs(numpy_fit.lower_bound_)
    print(
        f"same: N={n_samples:,} D={N_FEATURES} K={N_COMPONENTS}, {args.iters} iterations, "
        f"chunks of {args.chunk:,}, {args.threads} threads\n"
        f"  numpy {numpy_time / args.iters:.3f} s/it, dask {dask_time / args.iters:.3f} s/it "
        f"(dask regenerates each chunk at every pass)\n"
        f"  log-likelihood {numpy_fit.lower_bound_:.12f} vs {dask_fit.lower_bound_:.12f} "
        f"(relative difference {ll:.1e}); max |means diff| "
        f"{np.abs(dask_fit.means_ - numpy_fit.means_).max():.1e}, max |cov diff| "
        f"{np.abs(dask_fit.covariances_ - numpy_fit.covariances_).max():.1e}"
    )


def _timing(owner, name, record):
    """Wrap ``owner.name`` so that each call's seconds are appended to ``record``."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            record.append(time.perf_counter() - start)

    setattr(owner, name, wrapper)


def big(args):
    from bayesgmm.em import engines
    from bayesgmm.em import starts as em_starts

    n_samples = args.n
    X = dask_data(n_samples, args.chunk)
    passes, starts = [], []
    _timing(engines.BlockEngine, "e_step", passes)
    _timing(em_starts, "start_parameters", starts)
    with threadpool_limits(args.threads):
        model, elapsed = _fit(X, args.iters, init_params="k-means++", random_state=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(
        f"big: N={n_samples:,} x D={N_FEATURES} (float64, {n_samples * N_FEATURES * 8 / 2**30:.2f}"
        f" GiB if loaded), K={N_COMPONENTS}, chunks of {args.chunk:,}, {args.iters} iterations "
        f"after a k-means++ start on a sample, {args.threads} threads\n"
        f"  fit {elapsed:.1f} s in all: start (sample + k-means++) {sum(starts):.1f} s, "
        f"{len(passes)} E+M passes at {np.median(passes):.2f} s each (median), other passes "
        f"(moments, checks) {elapsed - sum(starts) - sum(passes):.1f} s\n"
        f"  mean log-likelihood {model.lower_bound_:.6f}; peak resident memory {peak:.2f} GiB"
    )


def _per_iteration(X, iters, init) -> tuple[float, float]:
    """(seconds per iteration, seconds of a one-iteration fit) from the same start."""
    _, one = _fit(X, 1, **init)
    _, many = _fit(X, iters, **init)
    return (many - one) / (iters - 1), one


def cluster(args):
    import dask.array as da
    from distributed import Client, LocalCluster

    init = _start()
    X10 = dask_data(10_000_000, args.chunk).compute()
    with threadpool_limits(args.threads):
        _fit(X10[:100_000], 1, **init)  # compile
        in_memory, _ = _per_iteration(X10, args.iters, init)
    del X10
    with (
        LocalCluster(
            n_workers=args.threads, threads_per_worker=1, processes=True,
            dashboard_address=None, memory_limit=None,
        ) as local,
        Client(local) as client,
    ):  # fmt: skip
        X = dask_data(args.n, args.chunk)
        start = time.perf_counter()
        X = X.persist()
        client.wait_for_workers(args.threads)
        da.sum(X[:1]).compute()
        from distributed import wait

        wait(X)
        persisted = time.perf_counter() - start
        per_iteration, one = _per_iteration(X, args.iters, init)
        peaks = client.run(
            lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # GiB
        )
    print(
        f"cluster: N={args.n:,} x D={N_FEATURES} ({args.n * N_FEATURES * 8 / 2**30:.1f} GiB), "
        f"K={N_COMPONENTS}, chunks of {args.chunk:,}, {args.threads} worker processes\n"
        f"  generated and persisted on the workers in {persisted:.1f} s; a one-iteration fit "
        f"(sample start + moments + one pass) {one:.1f} s\n"
        f"  {per_iteration:.2f} s per iteration; in memory at 10M rows {in_memory:.3f} s, so "
        f"per row dask/in-memory = {per_iteration / (in_memory * args.n / 10_000_000):.2f}\n"
        f"  peak resident memory per worker (GiB): "
        + ", ".join(f"{value:.2f}" for value in peaks.values())
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["same", "big", "cluster"])
    parser.add_argument("--n", type=int, default=0, help="rows (default 1M same, 10M big)")
    parser.add_argument("--chunk", type=int, default=0, help="rows per chunk")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.mode == "same":
        args.n = args.n or 1_000_000
        args.chunk = args.chunk or 100_000
        same(args)
    elif args.mode == "big":
        args.n = args.n or 10_000_000
        args.chunk = args.chunk or 250_000
        big(args)
    else:
        args.n = args.n or 100_000_000
        args.chunk = args.chunk or 1_000_000
        cluster(args)


if __name__ == "__main__":
    main()
