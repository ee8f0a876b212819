"""What a bootstrap replicate costs: ``bayesgmm.bootstrap`` against cold default fits.

For each case (data size, K, D) and resampling kind: the replicates run, seconds for all
of them, milliseconds per replicate, the mean EM iterations of a replicate (one warm run
from the fit, at the tighter tolerance of ``replicate_tol``), and, for comparison, the
milliseconds of one cold default fit (``n_init="auto"``: what a bootstrap that refitted
from scratch would pay per replicate). Then the bootstrap likelihood-ratio test: seconds
and milliseconds per replicate (a K-component and a (K + 1)-component refit, the latter
from the alternative fit and from each of the K splits).

Run ``python benchmarks/bench_bootstrap.py`` (``--quick`` for a short run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayesgmm import GaussianMixture, datasets  # noqa: E402
from bayesgmm.bootstrap import bootstrap, bootstrap_lrt  # noqa: E402


def _cases(quick: bool) -> list[tuple[str, np.ndarray, int]]:
    faithful = datasets.load_faithful().to_numpy()
    cases = [("faithful 272 x 2, K=2", faithful, 2)]
    for n_rows, n_features, n_components in ((1000, 2, 3), (10_000, 5, 3), (100_000, 2, 2)):
        if quick and n_rows > 10_000:
            continue
        truth = datasets.make_mixture(n_rows, n_components, n_features, random_state=0)
        cases.append((f"{n_rows} x {n_features}, K={n_components}", truth.X, n_components))
    return cases


def _cold_ms(X: np.ndarray, n_components: int, repeats: int) -> float:
    start = time.perf_counter()
    for seed in range(repeats):
        GaussianMixture(n_components, random_state=seed).fit(X)
    return 1e3 * (time.perf_counter() - start) / repeats


def run_case(name: str, X: np.ndarray, n_components: int, n_boot: int) -> list[dict]:
    fit = GaussianMixture(n_components, random_state=0).fit(X)
    cold = _cold_ms(X, n_components, repeats=3)
    rows = []
    for kind in ("nonparametric", "weighted", "parametric", "jackknife"):
        if kind == "jackknife" and len(X) > 1000:
            continue
        start, cpu = time.perf_counter(), time.process_time()
        boot = bootstrap(
            fit, X, kind=kind, n_boot=None if kind == "jackknife" else n_boot, random_state=0
        )
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows.append(
            {
                "case": name,
                "kind": kind,
                "replicates": boot.n_boot,
                "seconds": seconds,
                "ms_per_replicate": 1e3 * seconds / boot.n_boot,
                "cpu_ms": 1e3 * cpu / boot.n_boot,
                "em_iterations": float(boot.replicates["n_iter"].mean()),
                "cold_fit_ms": cold,
            }
        )
    return rows


def run_lrt(name: str, X: np.ndarray, n_components: int, n_boot: int) -> dict:
    null = GaussianMixture(n_components, random_state=0).fit(X)
    start, cpu = time.perf_counter(), time.process_time()
    test = bootstrap_lrt(null, X, n_boot=n_boot, random_state=0)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "case": name,
        "test": f"{n_components} vs {n_components + 1}",
        "replicates": test.n_boot,
        "seconds": seconds,
        "ms_per_replicate": 1e3 * seconds / n_boot,
        "cpu_ms": 1e3 * cpu / n_boot,
        "statistic": test.statistic,
        "p_value": test.p_value,
    }


_MCLUST = """
suppressMessages(library(mclust))
fit <- Mclust(faithful, G = 2, modelNames = "VVV", verbose = FALSE)
for (type in c("bs", "wlbs", "pb", "jk")) {
  n <- if (type == "jk") nrow(faithful) else %(n_boot)d
  t <- system.time(MclustBootstrap(fit, nboot = n, type = type, verbose = FALSE))
  cat(type, n, t[["elapsed"]], t[["user.self"]] + t[["sys.self"]], "\n")
}
t <- system.time(mclustBootstrapLRT(faithful, modelName = "VVV", nboot = %(n_boot)d,
                                    maxG = 1, verbose = FALSE))
cat("lrt", %(n_boot)d, t[["elapsed"]], t[["user.self"]] + t[["sys.self"]], "\n")
"""


def run_mclust(n_boot: int) -> list[dict]:
    """mclust's bootstrap of faithful (VVV, G = 2) and its LRT of 1 against 2; [] without R."""
    if shutil.which("Rscript") is None:
        return []
    done = subprocess.run(
        ["Rscript", "-e", _MCLUST % {"n_boot": n_boot}],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"mclust skipped: {done.stderr.strip()[:200]}")
        return []
    rows = []
    for line in done.stdout.split("\n"):
        if not line.strip():
            continue
        kind, n, seconds, cpu = line.split()
        rows.append(
            {
                "case": "faithful 272 x 2, K=2 (mclust 1 vs 2 for lrt)",
                "mclust type": kind,
                "replicates": int(n),
                "seconds": float(seconds),
                "ms_per_replicate": 1e3 * float(seconds) / int(n),
                "cpu_ms": 1e3 * float(cpu) / int(n),
            }
        )
    return rows


def _table(rows: list[dict]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer replicates, no 100k rows")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    n_boot = 50 if args.quick else 200
    print(
        f"bench_bootstrap {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    cases = _cases(args.quick)
    GaussianMixture(2, random_state=0).fit(cases[0][1])  # compile outside the timings
    rows = [row for case in cases for row in run_case(*case, n_boot)]
    print(_table(rows))
    lrt = [run_lrt(name, X, k - 1, n_boot) for name, X, k in cases if len(X) <= 10_000]
    print()
    print(_table(lrt))
    mclust = run_mclust(n_boot)
    if mclust:
        print()
        print(_table(mclust))


if __name__ == "__main__":
    main()
