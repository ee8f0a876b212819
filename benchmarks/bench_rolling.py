"""Rolling refits: what daily refits of ten years of returns cost.

``bayesgmm.finance.rolling_fit`` on the bundled S&P 500 log-returns, one refit per day
for the last 2520 trading days (ten years, each window ending the day before the day it
forecasts), and on the four EU stock indices (one refit per day over 1359 days, a
4-asset full-covariance fit). For each case: seconds for the refits (warm-started from
the previous day's fit), then for the per-date regime probabilities, the out-of-sample
VaR/ES forecast and its backtests; and, on a sample of windows, the milliseconds per
window of a cold fit (the estimator's own starts, as a refit without ``warm_start``
would run), for comparison.

Run ``python benchmarks/bench_rolling.py`` (``--quick`` for a short run).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayesgmm import GaussianMixture, datasets  # noqa: E402
from bayesgmm.finance import rolling_fit  # noqa: E402

TEN_YEARS = 2520


def _seconds(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def _cold_ms_per_window(returns, window: int, n_components: int, n_windows: int) -> float:
    """Milliseconds per window of a cold default fit, on ``n_windows`` evenly spread windows."""
    ends = np.linspace(window, len(returns), n_windows).astype(int)
    start = time.perf_counter()
    for end in ends:
        GaussianMixture(n_components, random_state=0).fit(returns.iloc[end - window : end])
    return 1e3 * (time.perf_counter() - start) / n_windows


def run_case(name, returns, window, n_components, portfolio, cold_windows) -> dict:
    estimator = GaussianMixture(n_components, random_state=0)
    rolling, fit_s = _seconds(rolling_fit, returns, window=window, estimator=estimator)
    _, regimes_s = _seconds(rolling.regime_probabilities)
    forecast, forecast_s = _seconds(rolling.forecast, 0.01, portfolio=portfolio)
    result, backtest_s = _seconds(forecast.backtest)
    shortfall, es_s = _seconds(forecast.es_backtest, n_simulations=1000, random_state=0)
    return {
        "case": name,
        "windows": rolling.n_windows,
        "fit_s": fit_s,
        "ms_per_window": 1e3 * fit_s / rolling.n_windows,
        "cold_ms_per_window": _cold_ms_per_window(returns, window, n_components, cold_windows),
        "regimes_s": regimes_s,
        "forecast_s": forecast_s,
        "backtests_s": backtest_s + es_s,
        "exceedances": f"{result.n_exceedances}/{result.expected:.1f}",
        "kupiec_p": result.p_value,
        "z2_p": shortfall.p_value,
        "warm": int(rolling.warm_starts_.sum()),
        "warned": len(rolling.warnings_),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few hundred windows only")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(
        f"bench_rolling {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    GaussianMixture(2).fit(np.random.default_rng(0).normal(size=(100, 2)))  # compile / load
    days = 300 if args.quick else TEN_YEARS
    sp500 = datasets.load_sp500_returns()
    eustock = datasets.load_eustockmarkets()
    cases = [
        ("S&P 500, window 1000, K=2", sp500.iloc[-(days + 1000) :], 1000, 2, None),
        ("S&P 500, window 1000, K=3", sp500.iloc[-(days + 1000) :], 1000, 3, None),
        ("S&P 500, window 500, K=2", sp500.iloc[-(days + 500) :], 500, 2, None),
        (
            "EU indices, 4 assets, window 500, K=2",
            eustock.iloc[-(days + 500) :],
            500,
            2,
            [0.25] * 4,
        ),
    ]
    rows = [run_case(*case, cold_windows=20 if args.quick else 100) for case in cases]
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        cells = [
            f"{value:.3g}" if isinstance(value, float) else str(value) for value in row.values()
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
