"""S&P 500 regimes, value at risk and its uncertainty.

Daily log-returns (percent) 1999-2018 have fat tails. A two-component mixture
separates a calm regime from a turbulent one; its 1 % and 5 % VaR and expected
shortfall come from EM as points and from the Bayesian posterior as distributions,
and a backtest on the second half checks the exceedance rate (Kupiec's test).

Run: ``python examples/sp500_regimes_var.py [--fast] [--out FOLDER]``
"""

import matplotlib.pyplot as plt
import numpy as np
from _common import options

from bayesgmm import BayesianGaussianMixture, GaussianMixture
from bayesgmm.datasets import load_sp500_returns
from bayesgmm.plot import plot_risk
from bayesgmm.finance import backtest
from bayesgmm.risk import expected_shortfall, value_at_risk

args = options(__doc__)
returns = load_sp500_returns()
if args.fast:
    returns = returns.iloc[-1000:]
train = returns.iloc[: len(returns) // 2]
test = returns.iloc[len(returns) // 2 :]

em = GaussianMixture(2, random_state=0).fit(train)
calm = int(np.argmin(em.covariances_.ravel()))
print(
    f"EM on {train.index[0]:%Y-%m-%d}..{train.index[-1]:%Y-%m-%d}: calm regime weight "
    f"{em.weights_[calm]:.2f}, sd {np.sqrt(em.covariances_.ravel()).round(2)} (percent)"
)

sampling = {"draws": 150, "tune": 150, "chains": 2} if args.fast else {"draws": 1000, "chains": 4}
bayes = BayesianGaussianMixture(2, method="nuts", random_state=0, **sampling).fit(train)

for alpha in (0.05, 0.01):
    var_em, es_em = value_at_risk(em, alpha), expected_shortfall(em, alpha)
    var_b, es_b = value_at_risk(bayes, alpha), expected_shortfall(bayes, alpha)
    print(f"\nlevel {alpha:.0%}:")
    print(f"  EM     VaR {var_em.value:.3f}   ES {es_em.value:.3f}")
    print(
        f"  Bayes  VaR {var_b.value:.3f} [{var_b.lower:.3f}, {var_b.upper:.3f}]   "
        f"ES {es_b.value:.3f} [{es_b.lower:.3f}, {es_b.upper:.3f}]  (94% credible intervals)"
    )
    print(f"  backtest on {len(test)} later days: {backtest(test['logret_pct'], var_em, alpha)}")

fig, axes = plt.subplots(2, 1, figsize=(10, 9), layout="constrained")
turbulent = 1 - em.predict_proba(returns)[:, calm]
axes[0].scatter(
    returns.index, returns["logret_pct"], c=turbulent, s=3, cmap="coolwarm", vmin=0, vmax=1
)
colorbar = fig.colorbar(axes[0].collections[0], ax=axes[0])
colorbar.set_label("probability of the turbulent regime")
axes[0].set_xlabel("date")
axes[0].set_ylabel("daily log-return (%)")
axes[0].set_title("S&P 500 daily returns coloured by regime (EM, 2 components)")
plot_risk(bayes, train, ax=axes[1])
axes[1].set_title("Posterior of the return density and the VaR (training half)")
fig.savefig(args.out / "sp500_regimes_var.png", dpi=100)
print(f"plot written to {args.out / 'sp500_regimes_var.png'}")
