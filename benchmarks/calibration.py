"""Simulation-based calibration (SBC) of the Bayesian Gaussian mixture.

For each simulation: draw parameters from the prior, draw a data set of N points
from the mixture they define, sample the posterior with NUTS, and record where the
true value falls among the posterior draws (its rank) and whether the central 50 %
and 90 % intervals cover it. If model, sampler and relabelling are right, ranks are
uniform and coverage is nominal (Talts et al. 2018, arXiv:1804.06788).

Mixture components are exchangeable under the prior, so component-wise quantities
are only defined up to a permutation. We therefore check functions of the
parameters that are invariant to the labels: every quantity is taken with the
components ordered by their mean on the first feature, in the truth and in every
draw alike. That is a valid SBC target (a fixed function of the parameters), so no
reference-dependent relabelling can flatter the result.

The model is built with the identity standardisation so its priors are stated in
the simulated data's units (``build_model(..., standardisation=...)``), and is
compiled once by nutpie; each simulation only swaps the data (``with_data``).

Run (about 5 minutes on 2 idle cores with the defaults)::

    .venv/bin/python benchmarks/calibration.py --sims 100
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import stats

from bayesgmm.bayes import Priors, Standardisation, build_model, limit_blas_threads
from bayesgmm.bayes.model import PARAMETER_NAMES


def prior_draw(rng, n_components, n_features, priors, covariance_type):
    """Parameters (weights, means, full covariances) from the model's prior."""
    import pymc as pm

    weights = rng.dirichlet(priors.weights_concentration(n_components))
    means = rng.normal(0.0, priors.means_sigma, size=(n_components, n_features))
    sds = rng.gamma(priors.sd_alpha, 1.0 / priors.sd_beta, size=(n_components, n_features))
    if covariance_type == "full":
        corr = pm.draw(
            pm.LKJCorr.dist(n=n_features, eta=priors.lkj_eta, return_matrix=True),
            draws=n_components,
            random_seed=rng,
        ).reshape(n_components, n_features, n_features)
    else:
        corr = np.broadcast_to(np.eye(n_features), (n_components, n_features, n_features))
    covariances = sds[:, :, None] * corr * sds[:, None, :]
    return weights, means, covariances


def simulate(rng, weights, means, covariances, n_samples):
    labels = rng.choice(len(weights), size=n_samples, p=weights)
    chol = np.linalg.cholesky(covariances)
    noise = rng.standard_normal((n_samples, means.shape[1]))
    return means[labels] + np.einsum("nde,ne->nd", chol[labels], noise)


def ordered_quantities(weights, means, covariances):
    """Label-invariant quantities: components sorted by their first mean coordinate.

    Works on (..., K) / (..., K, D) / (..., K, D, D) arrays; returns a dict of
    arrays (..., K) per named quantity.
    """
    order = np.argsort(means[..., 0], axis=-1)
    w = np.take_along_axis(weights, order, axis=-1)
    m = np.take_along_axis(means, order[..., None], axis=-2)
    c = np.take_along_axis(covariances, order[..., None, None], axis=-3)
    out = {"weight": w}
    for d in range(means.shape[-1]):
        out[f"mean[{d}]"] = m[..., d]
        out[f"log_sd[{d}]"] = 0.5 * np.log(c[..., d, d])
    if means.shape[-1] > 1:
        out["corr[0,1]"] = c[..., 0, 1] / np.sqrt(c[..., 0, 0] * c[..., 1, 1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=100)
    parser.add_argument("--n", type=int, default=100, help="observations per data set")
    parser.add_argument("--components", type=int, default=2)
    parser.add_argument("--features", type=int, default=2)
    parser.add_argument("--covariance-type", default="full", choices=["full", "diag"])
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("--tune", type=int, default=400)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import nutpie

    rng = np.random.default_rng(args.seed)
    priors = Priors()
    k, d = args.components, args.features
    identity = Standardisation(center=np.zeros(d), scale=np.ones(d))
    started = time.perf_counter()
    X0 = simulate(rng, *prior_draw(rng, k, d, priors, args.covariance_type), args.n)
    model = build_model(X0, k, args.covariance_type, priors, standardisation=identity)
    with limit_blas_threads(1):
        compiled = nutpie.compile_pymc_model(model, var_names=list(PARAMETER_NAMES))
    compile_seconds = time.perf_counter() - started

    ranks: dict[str, list[int]] = {}
    cover50: dict[str, list[bool]] = {}
    cover90: dict[str, list[bool]] = {}
    n_divergent = 0
    thin = max(1, args.draws * args.chains // 99)  # ranks among L = draws / thin values
    sample_seconds = time.perf_counter()
    for sim in range(args.sims):
        truth = prior_draw(rng, k, d, priors, args.covariance_type)
        X = simulate(rng, *truth, args.n)
        with limit_blas_threads(1):
            idata = nutpie.sample(
                compiled.with_data(z=X),
                draws=args.draws,
                tune=args.tune,
                chains=args.chains,
                cores=args.chains,
                seed=int(rng.integers(2**31 - 1)),
                progress_bar=False,
            )
        n_divergent += int(idata.sample_stats["diverging"].sum())
        post = idata.posterior
        w = post["weights"].values.reshape(-1, k)
        m = post["means"].values.reshape(-1, k, d)
        cov = post["covariances"].values.reshape(-1, k, d, d)
        draws_q = ordered_quantities(w, m, cov)
        truth_q = ordered_quantities(truth[0][None], truth[1][None], truth[2][None])
        for name, values in draws_q.items():
            for j in range(k):
                key = f"{name} (component {j})"
                sample = values[::thin, j]
                true = truth_q[name][0, j]
                ranks.setdefault(key, []).append(int((sample < true).sum()))
                lo50, hi50, lo90, hi90 = np.quantile(values[:, j], [0.25, 0.75, 0.05, 0.95])
                cover50.setdefault(key, []).append(lo50 <= true <= hi50)
                cover90.setdefault(key, []).append(lo90 <= true <= hi90)
        print(f"simulation {sim + 1}/{args.sims} done", flush=True)
    sample_seconds = time.perf_counter() - sample_seconds

    n_ranks = len(range(0, args.draws * args.chains, thin)) + 1
    bins = 10
    print()
    print(
        f"SBC: {args.sims} simulations, N={args.n}, K={k}, D={d}, "
        f"covariance_type={args.covariance_type}, NUTS (nutpie) {args.chains} chains x "
        f"({args.tune} + {args.draws}); compile {compile_seconds:.0f} s, sampling "
        f"{sample_seconds:.0f} s; divergent transitions in total: {n_divergent}"
    )
    print(f"ranks among {n_ranks - 1} thinned draws; uniformity: chi-square over {bins} bins")
    print()
    print("| quantity | 50 % coverage | 90 % coverage | rank chi² p-value |")
    print("|---|---|---|---|")
    for key in ranks:
        r = np.asarray(ranks[key])
        counts = np.histogram(r, bins=bins, range=(0, n_ranks))[0]
        p_value = stats.chisquare(counts).pvalue
        print(
            f"| {key} | {np.mean(cover50[key]):.2f} | {np.mean(cover90[key]):.2f} | {p_value:.3f} |"
        )
    all50 = np.mean([np.mean(v) for v in cover50.values()])
    all90 = np.mean([np.mean(v) for v in cover90.values()])
    se50 = np.sqrt(0.25 / args.sims)
    se90 = np.sqrt(0.09 / args.sims)
    print()
    print(
        f"mean coverage: 50 % intervals {all50:.3f} (nominal 0.50, one simulation-count "
        f"standard error {se50:.3f}); 90 % intervals {all90:.3f} (nominal 0.90, "
        f"s.e. {se90:.3f})"
    )


if __name__ == "__main__":
    main()
