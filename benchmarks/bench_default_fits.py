"""Default fits on the bundled data: a K = 1..5 sweep over the four covariance types.

What a user's model selection costs with the defaults (``n_init="auto"``, up to 40 starts
each run to convergence on small data): seconds for the 20 fits per data set, with each
start run whole in compiled code (``engine="compiled"``, what the default takes on these
data) and through the block engine (``engine="blocks"``), in the same process, after a
warm-up fit.

Run ``python benchmarks/bench_default_fits.py``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayesgmm import GaussianMixture, datasets  # noqa: E402

TYPES = ("full", "tied", "diag", "spherical")
LOADERS = {
    "faithful": datasets.load_faithful,
    "iris": datasets.load_iris,
    "galaxies": datasets.load_galaxies,
    "diabetes": datasets.load_diabetes,
    "sp500": datasets.load_sp500_returns,
    "eustock": datasets.load_eustockmarkets,
}


def sweep_seconds(X: np.ndarray, compiled: bool) -> float:
    """Wall-clock seconds of default fits for K = 1..5 and every covariance type
    (``compiled``: the default engines; otherwise every start on the block engine)."""
    engine = "auto" if compiled else "blocks"
    start = time.perf_counter()
    for covariance_type in TYPES:
        for n_components in range(1, 6):
            GaussianMixture(
                n_components, covariance_type=covariance_type, random_state=0, engine=engine
            ).fit(X)
    return time.perf_counter() - start


def main() -> None:
    warnings.simplefilter("ignore")
    print(
        f"bench_default_fits {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    GaussianMixture(2).fit(np.random.default_rng(0).normal(size=(100, 2)))  # compile / load
    print(f"{'data':<10}{'rows x D':>12}{'compiled s':>12}{'engine s':>10}{'ratio':>7}")
    for name, load in LOADERS.items():
        X = np.asarray(load().select_dtypes("number"), dtype=np.float64)
        engine = sweep_seconds(X, compiled=False)
        compiled = sweep_seconds(X, compiled=True)
        shape = f"{X.shape[0]} x {X.shape[1]}"
        print(f"{name:<10}{shape:>12}{compiled:>12.2f}{engine:>10.2f}{engine / compiled:>7.1f}")


if __name__ == "__main__":
    main()
