"""A 4-index portfolio (DAX, SMI, CAC, FTSE): risk, who contributes it, and a backtest.

Daily log-returns (percent) of the four European indices 1991-1998 (R's
``EuStockMarkets``; numbered trading days, the data carry no dates). BIC chooses the
mixture; the equal-weight portfolio's VaR and ES follow in closed form (its return is
again a mixture), split among the indices by Euler allocation, and within each regime;
then a mixture refitted every day on the 500 days before forecasts the portfolio's next
day, and the forecasts are backtested.

Run: ``python examples/eustock_portfolio.py [--fast] [--out FOLDER]``
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _common import options

from bayesgmm import GaussianMixture, select
from bayesgmm.datasets import load_eustockmarkets
from bayesgmm.finance import rolling_fit
from bayesgmm.plot import plot_regime_probabilities, plot_risk_contributions, plot_var_backtest
from bayesgmm.risk import expected_shortfall, risk_contributions, value_at_risk

args = options(__doc__)
returns = load_eustockmarkets()  # log-returns in percent
grid = {"n_components": range(1, 6), "covariance_types": ("full", "tied", "diag", "spherical")}
step = 1
if args.fast:
    grid, step = {"n_components": range(1, 4), "covariance_types": ("full",)}, 25
weights = pd.Series(0.25, index=returns.columns)

# 1. The model, by BIC.
selection = select(returns, **grid)
print(selection.ranking().head(5)[["covariance_type", "n_components", "bic"]].to_string())
fit = selection.best_
k = fit.n_components
print(f"BIC chooses {fit.covariance_type}, K={k}")

# 2. The portfolio's risk, in closed form, and each index's share of it.
for alpha in (0.05, 0.01):
    var = value_at_risk(fit, alpha, portfolio=weights).value
    es = expected_shortfall(fit, alpha, portfolio=weights).value
    print(f"equal weights, level {alpha:.0%}: VaR {var:.3f}, ES {es:.3f} (percent)")
parts = risk_contributions(fit, weights, 0.01)
shares = pd.Series(parts.value, index=parts.features)
print("ES 1% contributions:", shares.round(3).to_dict(), f"sum {shares.sum():.3f}")
for regime in range(k):
    var = value_at_risk(fit, 0.01, portfolio=weights, component=regime).value
    print(f"  regime {regime} (weight {fit.weights_[regime]:.2f}): VaR 1% {var:.3f}")
alone = value_at_risk(fit, 0.01, portfolio=np.eye(4)).value  # each index alone, at once
together = value_at_risk(fit, 0.01, portfolio=weights).value
print(
    "VaR 1% of each index alone:", dict(zip(returns.columns, alone.round(3).tolist(), strict=True))
)
print(f"diversification: {alone.mean():.3f} for the average index, {together:.3f} together")

# 3. Rolling refits of the chosen model, forecasting each next day of the portfolio.
estimator = GaussianMixture(k, covariance_type=fit.covariance_type, random_state=0)
rolling = rolling_fit(returns, window=500, step=step, estimator=estimator)
for alpha in (0.05, 0.01):
    forecast = rolling.forecast(alpha, portfolio=weights)
    print(f"rolling, level {alpha:.0%}: {forecast.backtest()}")
    print(f"  {forecast.es_backtest(random_state=0)}")

fig = plt.figure(figsize=(11, 12), layout="constrained")
top, middle, bottom = fig.subfigures(3, 1, height_ratios=[1, 1, 1])
plot_risk_contributions(fit, weights, 0.01, ax=top.subplots())
plot_var_backtest(rolling.forecast(0.01, portfolio=weights), ax=middle.subplots())
plot_regime_probabilities(rolling, ax=bottom.subplots())
fig.savefig(args.out / "eustock_portfolio.png", dpi=100)
print(f"plot written to {args.out / 'eustock_portfolio.png'}")
