"""Simulation-based calibration (SBC) of the Bayesian Gaussian mixture: NUTS and ADVI.

For each simulation: draw parameters from the prior, draw a data set of N points from
the mixture they define, fit the posterior as the estimator does (EM start, then NUTS by
nutpie on the compiled log posterior, and mean-field and full-rank ADVI on the same data
set), and record where the true value falls among the posterior draws (its rank) and
whether the central 50 % and 90 % intervals cover it. If model, sampler and relabelling
are right, ranks are uniform and coverage is nominal (Talts et al. 2018,
arXiv:1804.06788). ADVI's intervals are compared with NUTS's on the same data set as the
median ratio of posterior standard deviations.

Mixture components are exchangeable under the prior, so component-wise quantities
are only defined up to a permutation. We therefore check functions of the
parameters that are invariant to the labels: every quantity is taken with the
components ordered by their mean on the first feature, in the truth and in every
draw alike. That is a valid SBC target (a fixed function of the parameters), so no
reference-dependent relabelling can flatter the result. Shared parameters (the tied
covariance) are reported once.

The model is built with the identity standardisation so its priors are stated in
the simulated data's units (``build_model(..., standardisation=...)``).

Run (each case takes a few minutes on one core)::

    .venv/bin/python benchmarks/calibration.py --cases 3:full,3:tied,3:diag,3:spherical --sims 100
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from scipy import stats

from bayesgmm import GaussianMixture
from bayesgmm.bayes import Priors, Standardisation, build_model, run_inference, start_values
from bayesgmm.bayes.density import PosteriorDensity
from bayesgmm.bayes.samplers import chain_starts

METHODS = ("nuts", "advi", "fullrank_advi")


def prior_draw(rng, n_components, n_features, priors, covariance_type):
    """Parameters (weights, means, full covariances) from the model's prior."""
    import pymc as pm

    weights = rng.dirichlet(priors.weights_concentration(n_components))
    means = rng.normal(0.0, priors.means_sigma, size=(n_components, n_features))
    n_sds = {"full": n_features, "diag": n_features, "tied": n_features, "spherical": 1}
    n_blocks = 1 if covariance_type == "tied" else n_components
    sds = rng.gamma(priors.sd_alpha, 1.0 / priors.sd_beta, size=(n_blocks, n_sds[covariance_type]))
    sds = np.broadcast_to(sds, (n_blocks, n_features))
    if covariance_type in ("full", "tied"):
        corr = pm.draw(
            pm.LKJCorr.dist(n=n_features, eta=priors.lkj_eta, return_matrix=True),
            draws=n_blocks,
            random_seed=rng,
        ).reshape(n_blocks, n_features, n_features)
    else:
        corr = np.broadcast_to(np.eye(n_features), (n_blocks, n_features, n_features))
    covariances = sds[:, :, None] * corr * sds[:, None, :]
    return weights, means, np.broadcast_to(covariances, (n_components, n_features, n_features))


def simulate(rng, weights, means, covariances, n_samples):
    labels = rng.choice(len(weights), size=n_samples, p=weights)
    chol = np.linalg.cholesky(covariances)
    noise = rng.standard_normal((n_samples, means.shape[1]))
    return means[labels] + np.einsum("nde,ne->nd", chol[labels], noise)


def ordered_quantities(weights, means, covariances, covariance_type):
    """Label-invariant quantities: components sorted by their first mean coordinate.

    Works on (..., K) / (..., K, D) / (..., K, D, D) arrays; returns a dict of arrays
    (..., K) per component-wise quantity, (..., 1) for a shared (tied) one.
    """
    order = np.argsort(means[..., 0], axis=-1)
    w = np.take_along_axis(weights, order, axis=-1)
    m = np.take_along_axis(means, order[..., None], axis=-2)
    c = np.take_along_axis(covariances, order[..., None, None], axis=-3)
    if covariance_type == "tied":
        c = c[..., :1, :, :]
    out = {"weight": w}
    n_features = means.shape[-1]
    for d in range(n_features):
        out[f"mean[{d}]"] = m[..., d]
    for d in range(1 if covariance_type == "spherical" else n_features):
        out[f"log_sd[{d}]"] = 0.5 * np.log(c[..., d, d])
    if covariance_type in ("full", "tied") and n_features > 1:
        out["corr[0,1]"] = c[..., 0, 1] / np.sqrt(c[..., 0, 0] * c[..., 1, 1])
    return out


def fit_all(X, k, covariance_type, priors, args, rng):
    """NUTS and both ADVIs on one data set, from its EM solution: draws per method."""
    d = X.shape[1]
    identity = Standardisation(center=np.zeros(d), scale=np.ones(d))
    em = GaussianMixture(k, covariance_type=covariance_type, random_state=int(rng.integers(1e9)))
    em.fit(X)
    model = build_model(X, k, covariance_type, priors, standardisation=identity)
    density = PosteriorDensity(X, k, covariance_type, priors)
    start = start_values(em.weights_, em.means_, em.covariances_, covariance_type, identity)
    starts = chain_starts(start, args.chains, 0.05, rng)
    out, divergent = {}, 0
    for method in METHODS:
        options = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "cores": 1}
        idata, _ = run_inference(
            model,
            method=method,
            starts=starts,
            nuts_sampler="nutpie",
            rng=rng,
            density=density,
            **options,
        )
        if method == "nuts":
            divergent = int(idata.sample_stats["diverging"].sum())
        post = idata.posterior
        out[method] = (
            post["weights"].values.reshape(-1, k),
            post["means"].values.reshape(-1, k, d),
            _full(post["covariances"].values, covariance_type, k, d),
        )
    return out, divergent


def _full(covariances, covariance_type, k, d):
    from bayesgmm.covariance import get_covariance_model

    flat = covariances.reshape(-1, *covariances.shape[2:])
    return np.asarray(get_covariance_model(covariance_type).to_full(flat, k, d))


def run_case(k, covariance_type, args, rng):
    priors = Priors()
    d = args.features
    records = {method: {"ranks": {}, "c50": {}, "c90": {}, "sd": {}} for method in METHODS}
    records["simulations"] = []
    n_divergent = 0
    thin = max(1, args.draws * args.chains // 99)
    started = time.perf_counter()
    for sim in range(args.sims):
        truth = prior_draw(rng, k, d, priors, covariance_type)
        X = simulate(rng, *truth, args.n)
        draws, divergent = fit_all(X, k, covariance_type, priors, args, rng)
        n_divergent += divergent
        truth_q = ordered_quantities(
            truth[0][None], truth[1][None], truth[2][None], covariance_type
        )
        for method, parameters in draws.items():
            _record(
                records[method], ordered_quantities(*parameters, covariance_type), truth_q, thin
            )
        records["simulations"].append(_simulation_info(truth, draws["nuts"], args, covariance_type))
        if (sim + 1) % 10 == 0:
            print(f"  {k}:{covariance_type} simulation {sim + 1}/{args.sims}", flush=True)
    return records, n_divergent, time.perf_counter() - started


def _simulation_info(truth, nuts, args, covariance_type):
    """What may explain a miss: how far apart the true components are (the smallest
    Mahalanobis distance between two means under their average covariance), the
    smallest true weight, and the largest R-hat of the ordered quantities."""
    import arviz as az

    weights, means, covariances = truth
    k = len(weights)
    distances = []
    for i in range(k):
        for j in range(i + 1, k):
            diff = means[i] - means[j]
            average = 0.5 * (covariances[i] + covariances[j])
            distances.append(float(np.sqrt(diff @ np.linalg.solve(average, diff))))
    quantities = ordered_quantities(*nuts, covariance_type)
    rhat = max(
        float(az.rhat(values.reshape(args.chains, args.draws, -1)[..., j]))
        for values in quantities.values()
        for j in range(values.shape[-1])
    )
    return {"separation": min(distances), "min_weight": float(weights.min()), "rhat": rhat}


def _record(record, draws_q, truth_q, thin):
    for name, values in draws_q.items():
        for j in range(values.shape[-1]):
            key = f"{name} ({j})" if values.shape[-1] > 1 else f"{name} (shared)"
            sample, true = values[:, j], truth_q[name][0, j]
            record["ranks"].setdefault(key, []).append(int((sample[::thin] < true).sum()))
            lo50, hi50, lo90, hi90 = np.quantile(sample, [0.25, 0.75, 0.05, 0.95])
            record["c50"].setdefault(key, []).append(bool(lo50 <= true <= hi50))
            record["c90"].setdefault(key, []).append(bool(lo90 <= true <= hi90))
            record["sd"].setdefault(key, []).append(float(sample.std()))


def report(case, records, n_divergent, seconds, args):
    nuts = records["nuts"]
    n_ranks = len(range(0, args.draws * args.chains, max(1, args.draws * args.chains // 99))) + 1
    print(
        f"\n### K={case[0]}, {case[1]}: {args.sims} simulations, N={args.n}, D={args.features}; "
        f"NUTS (nutpie) {args.chains} chains x ({args.tune} + {args.draws}), ADVI "
        f"{args.chains * args.draws} draws; {seconds:.0f} s; divergent NUTS transitions: "
        f"{n_divergent} of {args.sims * args.chains * args.draws}\n"
    )
    print(
        "| quantity | NUTS 50 % | NUTS 90 % | NUTS rank p | ADVI 50 % | ADVI 90 % | "
        "ADVI sd / NUTS sd | full-rank 50 % | full-rank 90 % | full-rank sd / NUTS sd |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in nuts["ranks"]:
        counts = np.histogram(nuts["ranks"][key], bins=10, range=(0, n_ranks))[0]
        cells = [
            f"{np.mean(nuts['c50'][key]):.2f}",
            f"{np.mean(nuts['c90'][key]):.2f}",
            f"{stats.chisquare(counts).pvalue:.3f}",
        ]
        for method in ("advi", "fullrank_advi"):
            ratio = np.median(np.divide(records[method]["sd"][key], nuts["sd"][key]))
            cells += [
                f"{np.mean(records[method]['c50'][key]):.2f}",
                f"{np.mean(records[method]['c90'][key]):.2f}",
                f"{ratio:.2f}",
            ]
        print(f"| {key} | " + " | ".join(cells) + " |")
    summary = {}
    for method in METHODS:
        summary[method] = [
            float(np.mean([np.mean(v) for v in records[method][c].values()]))
            for c in ("c50", "c90")
        ]
    print(
        "\nmean coverage 50 % / 90 %: "
        + "; ".join(f"{m} {a:.3f} / {b:.3f}" for m, (a, b) in summary.items())
        + f" (one simulation-count s.e. {np.sqrt(0.25 / args.sims):.3f} / "
        f"{np.sqrt(0.09 / args.sims):.3f})",
        flush=True,
    )
    print(_width_summary(records), flush=True)
    return summary


def _width_summary(records) -> str:
    """ADVI's posterior sds against NUTS's on the same data sets: the median over
    quantities of each quantity's median ratio, and its range."""
    parts = []
    for method in ("advi", "fullrank_advi"):
        ratios = [
            np.median(np.divide(records[method]["sd"][key], records["nuts"]["sd"][key]))
            for key in records["nuts"]["sd"]
        ]
        parts.append(
            f"{method} {np.median(ratios):.2f} ({np.min(ratios):.2f}-{np.max(ratios):.2f})"
        )
    return "sd / NUTS sd, median over quantities (range): " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="2:full", help="K:covariance_type, comma-separated")
    parser.add_argument("--sims", type=int, default=100)
    parser.add_argument("--n", type=int, default=100, help="observations per data set")
    parser.add_argument("--features", type=int, default=2)
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("--tune", type=int, default=400)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--json", default=None, help="write every record to this file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(args.seed)
    results = {}
    for case in args.cases.split(","):
        k, covariance_type = case.split(":")
        records, n_divergent, seconds = run_case(int(k), covariance_type, args, rng)
        results[case] = report((k, covariance_type), records, n_divergent, seconds, args)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps({"case": case, "records": records}) + "\n")


if __name__ == "__main__":
    main()
