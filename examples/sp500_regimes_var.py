"""S&P 500: choose K by BIC, backtest VaR and ES out of sample, and read the bands.

Daily log-returns (percent) 1999-2018. The first half (1999-2008) chooses the number
of components by BIC, and compares normal with Student-t components; the second half
(2009-2018) tests the forecasts, two ways:

- static: the mixture fitted on the first half forecasts every later day;
- rolling: a mixture refitted every day on the 1000 days before it (warm-started from
  the previous day's fit, component labels kept stable), forecasting the next day.

Each VaR forecast is backtested with Kupiec's test (the exceedance count) and
Christoffersen's (are exceedances independent?), each ES forecast with Acerbi and
Szekely's Z2. A Bayesian fit on the first half gives VaR and ES with credible
intervals: parameter uncertainty, not the spread of tomorrow's return.

Run: ``python examples/sp500_regimes_var.py [--fast] [--out FOLDER]``
"""

import matplotlib.pyplot as plt
import pandas as pd
from _common import options

from bayesgmm import BayesianGaussianMixture, GaussianMixture, select
from bayesgmm.datasets import load_sp500_returns
from bayesgmm.finance import backtest, es_backtest, rolling_fit
from bayesgmm.plot import plot_regime_probabilities, plot_risk, plot_var_backtest
from bayesgmm.risk import expected_shortfall, value_at_risk

args = options(__doc__)
returns = load_sp500_returns()
window, step = 1000, 1
if args.fast:  # the last 1000 days, refitted every 10 days on 500-day windows
    returns, window, step = returns.iloc[-1000:], 500, 10
half = len(returns) // 2
train, test = returns.iloc[:half], returns.iloc[half:]
years = f"{train.index[0]:%Y}-{train.index[-1]:%Y}"
print(f"train {train.index[0]:%Y-%m-%d}..{train.index[-1]:%Y-%m-%d}, test {len(test)} days")

# 1. The number of components, by BIC on the training half (1-D: every covariance type
#    is the same model, so one is enough).
selection = select(train, n_components=range(1, 6), covariance_types=("full",))
print(selection.table[["n_components", "bic"]].to_string(index=False))
best_k = selection.best_params_["n_components"]
print(f"BIC chooses K={best_k}")


# 1b. Normal or Student-t components: BIC on the first half, the mean log density of a
#     test day, and the static 1 % VaR and ES with their backtest. t mixtures converge
#     slowly under EM (thousands of iterations on overlapping components), hence max_iter.
families = []
for family in ("gaussian", "t"):
    for k in (1, 2, 3):
        fit = GaussianMixture(
            k, family=family, n_init=5, max_iter=300 if args.fast else 5000, random_state=0
        ).fit(train)
        var_test = backtest(test, value_at_risk(fit, 0.01))
        families.append(
            {
                "family": family,
                "K": k,
                "BIC": fit.bic(train),
                "test log score": fit.score(test),
                "VaR 1%": value_at_risk(fit, 0.01),
                "ES 1%": expected_shortfall(fit, 0.01),
                "exceedances": var_test.n_exceedances,
                "Kupiec p": var_test.p_value,
                "dof": "" if family == "gaussian" else ", ".join(f"{v:.1f}" for v in fit.dof_),
            }
        )
with pd.option_context("display.float_format", "{:.4g}".format, "display.width", 120):
    print(pd.DataFrame(families).to_string(index=False))


# 2. Backtests of K=2 and of BIC's choice, static and rolling, at 1 % and 5 %.
def report(name, k, alpha, var_test, es_test):
    return {
        "forecast": name,
        "K": k,
        "alpha": alpha,
        "exceedances": var_test.n_exceedances,
        "expected": round(var_test.expected, 1),
        "Kupiec p": var_test.p_value,
        "independence p": var_test.independence_p_value,
        "cond. coverage p": var_test.coverage_p_value,
        "Z2": es_test.statistic,
        "Z2 p": es_test.p_value,
    }


rows, rolling = [], {}
for k in sorted({2, best_k}):
    static = GaussianMixture(k, random_state=0).fit(train)
    rolling[k] = rolling_fit(
        returns.iloc[half - window :],
        window=window,
        step=step,
        estimator=GaussianMixture(k, random_state=0),
    )
    for alpha in (0.01, 0.05):
        var_test = backtest(test, value_at_risk(static, alpha))
        es_test = es_backtest(test, static, alpha, random_state=0)
        rows.append(report("static", k, alpha, var_test, es_test))
        forecast = rolling[k].forecast(alpha)
        rows.append(
            report("rolling", k, alpha, forecast.backtest(), forecast.es_backtest(random_state=0))
        )
table = pd.DataFrame(rows).sort_values(["alpha", "forecast", "K"])
with pd.option_context("display.float_format", "{:.3g}".format, "display.width", 120):
    print(table.to_string(index=False))
print(
    "Small p-values reject the forecast: Kupiec's when the count is off (too few "
    "exceedances is a rejection too: a VaR that is too cautious), Christoffersen's when "
    "exceedances cluster, Z2's (one-sided) when losses beyond VaR exceed the ES."
)

# 3. The Bayesian fit of BIC's K on the training half: VaR and ES with credible intervals.
sampling = {"draws": 150, "tune": 150, "chains": 2} if args.fast else {"draws": 1000, "chains": 4}
bayes = BayesianGaussianMixture(best_k, method="nuts", random_state=0, **sampling).fit(train)
for alpha in (0.05, 0.01):
    var, es = value_at_risk(bayes, alpha), expected_shortfall(bayes, alpha)
    print(
        f"Bayes K={best_k}, level {alpha:.0%}: VaR {var.value:.3f} "
        f"[{var.lower:.3f}, {var.upper:.3f}], ES {es.value:.3f} [{es.lower:.3f}, {es.upper:.3f}] "
        f"(94% credible intervals: how well {years} pins the tail down)"
    )

fig, axes = plt.subplots(3, 1, figsize=(10, 13), layout="constrained")
plot_regime_probabilities(rolling[best_k], ax=axes[0])
plot_var_backtest(rolling[best_k].forecast(0.01), ax=axes[1])
plot_risk(bayes, train, ax=axes[2])
axes[2].set_title(f"Posterior of the return density and the VaR, {years} (K={best_k})")
fig.savefig(args.out / "sp500_regimes_var.png", dpi=100)
print(f"plot written to {args.out / 'sp500_regimes_var.png'}")
