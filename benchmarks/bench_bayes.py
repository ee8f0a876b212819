"""Whole-fit time and ESS/s of the default Bayesian fit (nutpie), issue 8 part 4.

N=5000, D=2, K=3, full covariance, 4 chains x (1000 tuning + 1000 draws); ESS is the
minimum bulk ESS over weights and means after relabelling.

Run:  python benchmarks/bench_bayes.py
"""

import time
import warnings

import arviz as az

from bayesgmm import BayesianGaussianMixture
from bayesgmm.datasets import make_mixture


def main() -> None:
    warnings.simplefilter("ignore")
    truth = make_mixture(5000, 3, 2, random_state=1)
    start = time.perf_counter()
    fit = BayesianGaussianMixture(
        3, covariance_type="full", method="nuts", draws=1000, tune=1000, chains=4, random_state=0
    ).fit(truth.X)
    wall = time.perf_counter() - start
    idata = fit.result_.posterior
    ess = min(float(az.ess(idata.posterior, var_names=[v])[v].min()) for v in ("weights", "means"))
    rhat = max(
        float(az.rhat(idata.posterior, var_names=[v])[v].max()) for v in ("weights", "means")
    )
    divergences = int(idata.sample_stats["diverging"].sum())
    print(
        f"N=5000 K=3 D=2 4x(1000+1000): whole fit {wall:.1f} s, min bulk ESS {ess:.0f}, "
        f"ESS/s {ess / wall:.1f}, divergences {divergences}, max R-hat {rhat:.4f}"
    )


if __name__ == "__main__":
    main()
