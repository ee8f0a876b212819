"""Bayesian sampling speed (issue 8 part 4): whole fits, ESS/s and the log-density apart.

Cases: ``make_mixture(N, 3, 2, random_state=1)``, full covariances, 4 chains x
(1000 tuning + 1000 draws), 2 cores, BLAS held to one thread. ESS = the minimum bulk
ESS over weights and means (after bayesgmm's relabelling; the baseline starts at the
same EM solution, where no label switches, so its raw draws are used).

Rows printed:

* ``bayesgmm <sampler>``: ``BayesianGaussianMixture(...).fit`` with that NUTS sampler,
  timed whole (EM start, sampling, relabelling, pointwise log-likelihood, diagnostics)
  after ``import pymc`` (whose import time is printed apart, once);
* ``examples model``: the PyMC-examples model (``pm.Mixture`` of K ``pm.MvNormal`` with
  ``LKJCholeskyCov``, same priors, same standardised data, started from the same EM
  solution) under PyMC's NUTS, compilation included;
* ``logp+grad``: one log-density and gradient evaluation of the model at N, through
  PyTensor's C backend (the examples model and bayesgmm's PyMC model) and through
  bayesgmm's compiled log posterior (what nutpie samples).

* ``--first-fit``: in a fresh Python process, ``import bayesgmm`` and then three default
  fits (nutpie, 4 x (1000 + 1000)) one after another, each timed whole: the first
  fit's warm-up is its time less the faster of the later two (issue 17: at most 2 s).

Run:  python benchmarks/bench_bayes.py                 (N=5000, every sampler installed)
      python benchmarks/bench_bayes.py --first-fit     (warm-up of the first fit)
      python benchmarks/bench_bayes.py --n 50000 --no-baseline --samplers nutpie
      python benchmarks/bench_bayes.py --n 5000,1000000 --samplers numpyro --no-baseline \
          --no-log-likelihood --no-logp                   (on a GPU that JAX sees)
      PYTENSOR_FLAGS=blas__ldflags= python benchmarks/bench_bayes.py --samplers "" \
          --no-baseline                                   (logp+grad without a linked BLAS)
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings

import numpy as np

COMPONENTS, FEATURES = 3, 2


def _ess(posterior) -> float:
    import arviz as az

    return min(float(az.ess(posterior, var_names=[v])[v].min()) for v in ("weights", "means"))


def _rhat(posterior) -> float:
    import arviz as az

    return max(float(az.rhat(posterior, var_names=[v])[v].max()) for v in ("weights", "means"))


def _row(label: str, seconds: float, posterior, divergences: int) -> None:
    ess = _ess(posterior)
    print(
        f"| {label} | {seconds:.1f} | {ess:.0f} | {ess / seconds:.0f} | {divergences} "
        f"| {_rhat(posterior):.4f} |",
        flush=True,
    )


def fit_bayesgmm(X: np.ndarray, sampler: str, log_likelihood: bool) -> None:
    from bayesgmm import BayesianGaussianMixture

    start = time.perf_counter()
    fit = BayesianGaussianMixture(
        COMPONENTS,
        covariance_type="full",
        draws=1000,
        tune=1000,
        chains=4,
        nuts_sampler=sampler,
        compute_log_likelihood=log_likelihood,
        random_state=0,
    ).fit(X)
    wall = time.perf_counter() - start
    idata = fit.result_.posterior
    sampling = fit.result_.posterior.posterior.attrs.get("bayesgmm_seconds", float("nan"))
    divergences = int(idata.sample_stats["diverging"].sum())
    _row(f"bayesgmm {sampler} (sampling {sampling:.1f} s)", wall, idata.posterior, divergences)


def examples_model(z: np.ndarray, start) -> object:
    """The PyMC-examples mixture: pm.Mixture of pm.MvNormal, LKJCholeskyCov priors."""
    import pymc as pm

    with pm.Model(coords={"component": range(COMPONENTS), "feature": range(FEATURES)}) as model:
        weights = pm.Dirichlet("weights", a=np.ones(COMPONENTS), dims="component")
        means = pm.Normal("means", 0.0, 2.0, dims=("component", "feature"))
        components = []
        for k in range(COMPONENTS):
            chol, _, _ = pm.LKJCholeskyCov(
                f"chol_{k}",
                n=FEATURES,
                eta=2.0,
                sd_dist=pm.Gamma.dist(2.0, 2.0, shape=FEATURES),
                compute_corr=True,
            )
            components.append(pm.MvNormal.dist(mu=means[k], chol=chol))
        pm.Mixture("x", w=weights, comp_dists=components, observed=z)
    initvals = {"weights": start["weights"], "means": start["z_means"]}
    initvals.update({f"chol_{k}": start[f"z_chol_{k}"] for k in range(COMPONENTS)})
    return model, initvals


def fit_examples(z: np.ndarray, start) -> None:
    import pymc as pm

    from bayesgmm.bayes import limit_blas_threads

    begin = time.perf_counter()
    model, initvals = examples_model(z, start)
    with model, limit_blas_threads(1):
        idata = pm.sample(
            1000,
            tune=1000,
            chains=4,
            cores=2,
            initvals=initvals,
            init="adapt_diag",  # no jitter: all chains start at the EM solution, as ours do
            random_seed=1,
            progressbar=False,
            compute_convergence_checks=False,
        )
    wall = time.perf_counter() - begin
    _row(
        "examples model, PyMC NUTS", wall, idata.posterior, int(idata.sample_stats.diverging.sum())
    )


def _per_call(function, *args, repeat: int = 300) -> float:
    function(*args)
    begin = time.perf_counter()
    for _ in range(repeat):
        function(*args)
    return (time.perf_counter() - begin) / repeat * 1e6


def logp_timings(X: np.ndarray, z: np.ndarray, start) -> None:
    import pytensor

    from bayesgmm.bayes import limit_blas_threads
    from bayesgmm.bayes.density import PosteriorDensity
    from bayesgmm.bayes.model import build_model
    from bayesgmm.bayes.priors import Priors

    with limit_blas_threads(1):
        for label, (model, _) in (
            ("examples model, PyTensor C", examples_model(z, start)),
            ("bayesgmm PyMC model, PyTensor C", (build_model(X, COMPONENTS, "full"), None)),
        ):
            function = pytensor.function(model.value_vars, [model.logp(), model.dlogp()])
            point = model.initial_point()
            args = [point[var.name] for var in model.value_vars]
            print(f"| logp+grad: {label} | {_per_call(function, *args):.0f} µs |", flush=True)
        density = PosteriorDensity(z, COMPONENTS, "full", Priors())
        theta = density.to_unconstrained(start)
        microseconds = _per_call(density.logp_function(), theta, repeat=2000)
        print(f"| logp+grad: bayesgmm compiled log posterior | {microseconds:.0f} µs |")


_FIRST_FIT = """
import time, warnings
warnings.simplefilter("ignore")
begin = time.perf_counter()
from bayesgmm import BayesianGaussianMixture
from bayesgmm.datasets import make_mixture
imported = time.perf_counter() - begin
X = make_mixture({n}, 3, 2, random_state=1).X
seconds = []
for seed in range(3):
    begin = time.perf_counter()
    BayesianGaussianMixture(3, random_state=seed).fit(X)
    seconds.append(time.perf_counter() - begin)
print(f"import bayesgmm {{imported:.2f}} s; fits {{', '.join(f'{{t:.2f}}' for t in seconds)}} s; "
      f"first fit's warm-up {{seconds[0] - min(seconds[1:]):.2f}} s")
"""


def first_fit(n: int) -> None:
    """The first fit's warm-up in a fresh process (issue 17)."""
    import subprocess
    import sys

    print(f"N={n}, fresh process:", flush=True)
    subprocess.run([sys.executable, "-c", _FIRST_FIT.format(n=n)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="5000", help="comma-separated sizes")
    parser.add_argument("--samplers", default="nutpie,pymc,numpyro")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--no-log-likelihood",
        action="store_true",
        help="compute_log_likelihood=False (no (draws, N) array: for N in the millions)",
    )
    parser.add_argument("--no-logp", action="store_true", help="skip the logp+grad timings")
    parser.add_argument("--first-fit", action="store_true", help="the first fit's warm-up")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.first_fit:
        for n in (int(value) for value in args.n.split(",")):
            first_fit(n)
        return

    begin = time.perf_counter()
    import pymc  # noqa: F401

    print(f"import pymc: {time.perf_counter() - begin:.1f} s")
    from bayesgmm import GaussianMixture
    from bayesgmm.bayes import start_values
    from bayesgmm.bayes.model import Standardisation
    from bayesgmm.datasets import make_mixture

    if "numpyro" in args.samplers and importlib.util.find_spec("jax") is not None:
        import jax

        print(f"JAX {jax.__version__}, devices {jax.devices()}")
    for n in (int(value) for value in args.n.split(",")):
        X = make_mixture(n, COMPONENTS, FEATURES, random_state=1).X
        standard = Standardisation.from_data(X, "full")
        z = standard.transform(X)
        em = GaussianMixture(COMPONENTS, random_state=0).fit(X)
        start = start_values(em.weights_, em.means_, em.covariances_, "full", standard)

        print(f"\nN={n} K={COMPONENTS} D={FEATURES}, 4 chains x (1000 + 1000)\n")
        print("| fit | whole fit s | min bulk ESS | ESS/s | divergences | max R-hat |")
        print("|---|---|---|---|---|---|")
        for sampler in filter(None, args.samplers.split(",")):
            if sampler != "pymc" and importlib.util.find_spec(sampler) is None:
                print(f"| bayesgmm {sampler} | not installed | | | | |")
                continue
            fit_bayesgmm(X, sampler, not args.no_log_likelihood)
        if not args.no_baseline:
            fit_examples(z, start)
        if not args.no_logp:
            print()
            logp_timings(X, z, start)


if __name__ == "__main__":
    main()
