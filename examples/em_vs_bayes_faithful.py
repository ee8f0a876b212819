"""EM versus Bayes on Old Faithful: the same mixture, a point and a posterior.

EM gives the maximum-likelihood parameters; NUTS gives their posterior. compare()
matches the components, puts the EM estimate beside the posterior mean and HDI of
every parameter, and reports global agreement (log-likelihood, BIC, ELPD-LOO,
adjusted Rand index of hard labels, mean difference of responsibilities).

Run: ``python examples/em_vs_bayes_faithful.py [--fast] [--out FOLDER]``
"""

import matplotlib.pyplot as plt
from _common import options

from bayesgmm import BayesianGaussianMixture, GaussianMixture, compare
from bayesgmm.datasets import load_faithful
from bayesgmm.plot import plot_posterior_ellipses, plot_uncertainty

args = options(__doc__)
X = load_faithful()
K, TYPE = 3, "tied"  # what BIC selects on these data (see `bayesgmm demo`)

em = GaussianMixture(K, covariance_type=TYPE, random_state=0).fit(X)
sampling = {"draws": 150, "tune": 150, "chains": 2} if args.fast else {"draws": 1000, "chains": 4}
bayes = BayesianGaussianMixture(
    K, covariance_type=TYPE, method="nuts", random_state=0, **sampling
).fit(X)

# the Bayesian fit starts from GaussianMixture(K, ..., random_state=0), this very EM fit,
# and keeps its numbering: component k is the same eruption type in both tables
print("EM weights:      ", em.weights_.round(3))
print("posterior means: ", bayes.weights_.round(3))
comparison = compare(em, bayes, X)
print(comparison)

figure = comparison.plot(X)
figure.savefig(args.out / "em_vs_bayes.png", dpi=100)
fig, axes = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
plot_uncertainty(em, X, ax=axes[0])
axes[0].set_title("EM: assignment uncertainty, 1 - max responsibility")
aligned = comparison.bayes_aligned  # the Bayesian fit numbered as EM's components
plot_uncertainty(aligned, X, ax=axes[1])
fig.savefig(args.out / "uncertainty_em_vs_bayes.png", dpi=100)
ax = plot_posterior_ellipses(aligned, X, n_draws=30)
ax.figure.savefig(args.out / "posterior_ellipses.png", dpi=100)
print(f"plots written to {args.out}")
