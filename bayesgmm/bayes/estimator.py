"""BayesianGaussianMixture: the PyMC model behind scikit-learn's mixture API."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from .. import gaussian
from ..base import MixtureEstimator
from ..covariance import SKLEARN_TYPES, get_covariance_model
from ..data import (
    check_features,
    check_float,
    check_int,
    check_option,
    check_random_state,
    check_X,
)
from ..exceptions import SamplerWarning
from .density import PosteriorDensity
from .inference import (
    METHODS,
    NUTS_SAMPLERS,
    resolve_nuts_sampler,
    run_inference,
    start_values,
)
from .inference import _jitter as jitter_start
from .model import OBSERVED_NAME, Standardisation, build_model
from .priors import Priors
from .relabel import raw_posterior, relabel

__all__ = ["BayesianGaussianMixture"]

logger = logging.getLogger(__name__)


class BayesianGaussianMixture(MixtureEstimator):
    """Gaussian mixture with a full posterior, from NUTS, ADVI or MAP in PyMC.

    The model (:func:`bayesgmm.bayes.build_model`) runs on standardised data with
    weakly-informative priors (:class:`bayesgmm.bayes.Priors`) and the labels summed
    out; every reported value is in the data's units. Inference starts from the EM
    solution of :class:`bayesgmm.GaussianMixture`; afterwards every draw is
    relabelled (:func:`bayesgmm.bayes.relabel`) so component k means the same in every
    chain and draw, and the diagnostics are computed on the relabelled draws.

    Parameters
    ----------
    n_components : int, default=1
        Number of components K.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    method : {"nuts", "advi", "fullrank_advi", "map"}, default="nuts"
        "nuts": Hamiltonian Monte Carlo; "advi" / "fullrank_advi": mean-field or
        full-rank variational approximation, fitted until a stated convergence
        criterion holds (see ``advi_tol``), then sampled; "map": the posterior mode
        (one draw).
    draws : int, default=1000
        Draws kept per chain (variational methods: ``draws * chains`` draws).
    tune : int, default=1000
        NUTS tuning steps per chain.
    chains : int, default=4
    nuts_sampler : {"auto", "pymc", "nutpie", "numpyro"}, default="auto"
        "auto" takes the fastest installed (nutpie, else PyMC's own); nutpie and
        numpyro come with the ``[nuts]`` extra.
    target_accept : float, default=0.8
    priors : Priors or None, default=None
        ``Priors()`` when None.
    cores : int or None, default=None
        Chains in parallel; None means ``min(chains, cpu count)``.
    jitter : float, default=0.05
        Spread of the chains' starting points around the EM solution (standardised
        units for means, log units for weights and scales).
    advi_max_iter : int, default=50000
    advi_tol : float, default=0.05
        ADVI stops when, from one window of 50 steps to the next, the window-averaged
        variational mean moves by less than this many of the approximation's
        standard deviations and every log standard deviation by less than this, in
        every parameter (:mod:`bayesgmm.bayes.variational`).
    batch_size : int, "auto" or None, default="auto"
        Rows per ADVI step. None: every row; an int: that many random rows, the
        likelihood's gradient estimated with a control variate around the EM solution
        (unbiased, and nearly as precise as all rows); "auto": 20,000 rows when the
        data have more than 40,000, else every row.
    compute_log_likelihood : bool, default=True
        Store the pointwise log-likelihood (chain, draw, observation), which
        ``az.loo`` and ``az.waic`` need; it costs draws x N numbers (8 bytes each:
        1.6 GB for 4000 draws of 50,000 rows). With False, ``log_likelihood_`` is
        estimated from at most 1000 evenly thinned draws, streamed over the rows.
    rhat_max : float, default=1.01
    ess_min : float, default=400
        Thresholds of the sampler warnings (bulk ESS, after relabelling).
    em_kwargs : dict or None, default=None
        Extra parameters of the EM fit that provides the start and the relabelling
        reference.
    random_state : int, numpy Generator or None, default=None
        Seeds the EM start, the chains and :meth:`sample`; an int reproduces the draws.
    progressbar : bool, default=False

    Attributes
    ----------
    weights_, means_, covariances_ : ndarray
        Posterior means after relabelling, shaped as scikit-learn shapes them.
    precisions_, precisions_cholesky_ : ndarray
        From ``covariances_``.
    converged_ : bool
        NUTS: no divergence, R-hat and ESS within thresholds; ADVI: the convergence
        criterion held; MAP: True.
    n_iter_ : int
        Draws per chain (ADVI: optimisation steps).
    lower_bound_ : float
        Mean log posterior-predictive density of the training data (log-likelihood
        averaged over the draws, per observation); plug-in density for MAP.
    n_features_in_, feature_names_in_
    em_ : GaussianMixture
        The EM fit used as start and relabelling reference.
    model_ : pymc.Model
        The model, to inspect or extend.
    inference_info_ : dict
        Sampler, seconds, relabelling counts and diagnostics.
    result_ : MixtureResult
        With ``posterior``, the relabelled arviz.InferenceData (groups posterior,
        sample_stats, log_likelihood, observed_data, constant_data).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (100, 2)), rng.normal(3, 1, (100, 2))])
    >>> bgmm = BayesianGaussianMixture(2, covariance_type="diag", method="map",
    ...                                random_state=0).fit(X)
    >>> np.sort(bgmm.means_[:, 0]).round(0)
    array([-3.,  3.])
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        method: str = "nuts",
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        nuts_sampler: str = "auto",
        target_accept: float = 0.8,
        priors: Priors | None = None,
        cores: int | None = None,
        jitter: float = 0.05,
        advi_max_iter: int = 50_000,
        advi_tol: float = 0.05,
        batch_size: int | str | None = "auto",
        compute_log_likelihood: bool = True,
        rhat_max: float = 1.01,
        ess_min: float = 400,
        em_kwargs: dict | None = None,
        random_state: Any = None,
        progressbar: bool = False,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.method = method
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.nuts_sampler = nuts_sampler
        self.target_accept = target_accept
        self.priors = priors
        self.cores = cores
        self.jitter = jitter
        self.advi_max_iter = advi_max_iter
        self.advi_tol = advi_tol
        self.batch_size = batch_size
        self.compute_log_likelihood = compute_log_likelihood
        self.rhat_max = rhat_max
        self.ess_min = ess_min
        self.em_kwargs = em_kwargs
        self.random_state = random_state
        self.progressbar = progressbar

    # ------------------------------------------------------------------ sklearn API

    def _check_parameters(self) -> dict[str, Any]:
        name = type(self).__name__
        checked = {
            "n_components": check_int(name, "n_components", self.n_components, 1),
            "covariance_type": check_option(
                name, "covariance_type", self.covariance_type, SKLEARN_TYPES
            ),
            "method": check_option(name, "method", self.method, METHODS),
            "draws": check_int(name, "draws", self.draws, 1),
            "tune": check_int(name, "tune", self.tune, 0),
            "chains": check_int(name, "chains", self.chains, 1),
            "nuts_sampler": check_option(name, "nuts_sampler", self.nuts_sampler, NUTS_SAMPLERS),
            "target_accept": check_float(
                name, "target_accept", self.target_accept, 0.0, strict=True
            ),
            "jitter": check_float(name, "jitter", self.jitter, 0.0),
            "advi_max_iter": check_int(name, "advi_max_iter", self.advi_max_iter, 1),
            "advi_tol": check_float(name, "advi_tol", self.advi_tol, 0.0, strict=True),
            "rhat_max": check_float(name, "rhat_max", self.rhat_max, 1.0),
            "ess_min": check_float(name, "ess_min", self.ess_min, 0.0),
        }
        if checked["target_accept"] >= 1.0:
            raise ValueError(
                f"The 'target_accept' parameter of {name} must be a float in the range "
                f"(0, 1). Got {self.target_accept!r} instead."
            )
        if self.cores is not None:
            checked["cores"] = check_int(name, "cores", self.cores, 1)
        checked["batch_size"] = self.batch_size
        if isinstance(self.batch_size, str):
            check_option(name, "batch_size", self.batch_size, ("auto",))
        elif self.batch_size is not None:
            checked["batch_size"] = check_int(name, "batch_size", self.batch_size, 1)
        priors = Priors() if self.priors is None else self.priors
        if not isinstance(priors, Priors):
            raise TypeError(
                f"The 'priors' parameter of {name} must be a bayesgmm.bayes.Priors or None. "
                f"Got {type(self.priors).__name__} instead."
            )
        checked["priors"] = priors
        if self.em_kwargs is not None and not isinstance(self.em_kwargs, dict):
            raise TypeError(
                f"The 'em_kwargs' parameter of {name} must be a dict or None. Got "
                f"{type(self.em_kwargs).__name__} instead."
            )
        if checked["method"] == "nuts":
            checked["nuts_sampler"] = resolve_nuts_sampler(checked["nuts_sampler"])
        return checked

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None) -> BayesianGaussianMixture:
        """Fit EM for a start, sample the posterior, relabel it, check diagnostics.

        Parameters
        ----------
        X : array-like or DataFrame of shape (N, D)
        y : ignored

        Returns
        -------
        self
        """
        from ..em import GaussianMixture
        from ..result import MixtureResult

        options = self._check_parameters()
        name = type(self).__name__
        data = check_X(X, estimator=name, min_samples=2, dtype=np.float64, allow_dask=False)
        X = data.X
        rng = check_random_state(self.random_state)
        k, ct = options["n_components"], options["covariance_type"]
        if X.shape[0] < k:
            raise ValueError(
                f"n_samples={X.shape[0]} should be >= n_components={k}: fewer rows than "
                "components. Use fewer components or more data."
            )
        check_features(
            X,
            np.ones(len(X)),
            X.var(axis=0),
            n_components=k,
            covariance_type=ct,
            feature_names=data.feature_names,
            estimator=name,
        )
        em_options = {"covariance_type": ct, "random_state": int(rng.integers(2**31 - 1))}
        em_options.update(self.em_kwargs or {})
        em = GaussianMixture(k, **em_options).fit(X)
        standard = Standardisation.from_data(X, ct)
        names = None if data.feature_names is None else list(data.feature_names)
        model = build_model(X, k, ct, options["priors"], feature_names=names)
        start = start_values(em.weights_, em.means_, em.covariances_, ct, standard)
        starts = [start] + [
            jitter_start(start, rng, options["jitter"]) for _ in range(options["chains"] - 1)
        ]
        from pymc.exceptions import SamplingError

        try:
            idata, info = run_inference(
                model,
                method=options["method"],
                starts=starts,
                draws=options["draws"],
                tune=options["tune"],
                chains=options["chains"],
                cores=options.get("cores"),
                nuts_sampler=options["nuts_sampler"],
                target_accept=options["target_accept"],
                advi_max_iter=options["advi_max_iter"],
                advi_tol=options["advi_tol"],
                batch_size=options["batch_size"],
                rng=rng,
                progressbar=self.progressbar,
                density=PosteriorDensity(model["z"].get_value(), k, ct, options["priors"]),
            )
        except SamplingError as error:  # failed initialisation: PyMC's text has the numbers
            raise SamplingError(
                f"{name} could not start sampling from the EM solution: {error}\nThe model's "
                "log-density is not finite at the start (see the values above). Try fewer "
                "components or a simpler covariance_type, other priors (bayesgmm.bayes.Priors), "
                "jitter=0, or method='advi'. The estimator is left unfitted."
            ) from None
        idata, relabel_info = relabel(idata, ct, (em.means_, em.covariances_))
        info["relabel"] = relabel_info
        _add_data_groups(idata, X, standard, model)
        kind = get_covariance_model(ct)
        posterior = idata.posterior
        weights = posterior["weights"].mean(("chain", "draw")).values
        means = posterior["means"].mean(("chain", "draw")).values
        covariances = posterior["covariances"].mean(("chain", "draw")).values
        result = MixtureResult(
            weights=weights,
            means=means,
            covariances=covariances,
            covariance_type=ct,
            feature_names=names,
            method=options["method"],
            posterior=idata,
        )
        if self.compute_log_likelihood:
            log_lik = result.log_likelihood_draws(X)
            idata.add_groups(log_likelihood=log_lik.rename(OBSERVED_NAME).to_dataset())
        if options["method"] == "map":
            lower_bound = float(
                gaussian.log_mixture_density(result._weighted_log_prob(X))[0].mean()
            )
        elif self.compute_log_likelihood:
            n_draws = log_lik.sizes["chain"] * log_lik.sizes["draw"]
            flat = log_lik.values.reshape(n_draws, -1)
            lower_bound = float((gaussian.log_mixture_density(flat.T)[0] - np.log(n_draws)).mean())
        else:  # streamed over rows, on at most 1000 evenly thinned draws
            lower_bound = float(result._posterior_log_prob(X, max_draws=1000).mean())
        diagnostics = _diagnostics(idata, options, info)
        info["diagnostics"] = diagnostics
        if options["method"] == "nuts":
            converged = not diagnostics["problems"]
        elif options["method"] in ("advi", "fullrank_advi"):
            converged = bool(info.get("converged"))
        else:
            converged = True
        result.log_likelihood_ = lower_bound
        result.converged = converged
        idata.posterior.attrs.update(
            bayesgmm_method=options["method"],
            bayesgmm_sampler=str(info.get("sampler", options["method"])),
            bayesgmm_seconds=float(info["seconds"]),
        )

        self.weights_ = weights
        self.means_ = means
        self.covariances_ = covariances
        self.precisions_cholesky_ = kind.precision_cholesky(covariances, weights)
        self.precisions_ = kind.precisions(self.precisions_cholesky_)
        self.converged_ = converged
        self.n_iter_ = int(info.get("n_iter", options["draws"]))
        self.lower_bound_ = lower_bound
        self.n_features_in_ = X.shape[1]
        if data.feature_names is not None:
            self.feature_names_in_ = data.feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.em_ = em
        self.model_ = model
        self.inference_info_ = info
        self._rng = rng
        self.result_ = result
        return self

    def raw_posterior(self) -> Any:
        """The sampler's draws before relabelling, as an arviz.InferenceData."""
        self._check_fitted()
        return raw_posterior(self.result_.posterior)

    def summary(self, **kwargs: Any) -> Any:
        """``az.summary`` of the relabelled posterior (see ``MixtureResult.summary``)."""
        self._check_fitted()
        return self.result_.summary(**kwargs)


def _add_data_groups(idata: Any, X: np.ndarray, standard: Standardisation, model: Any) -> None:
    import xarray as xr

    features = list(model.coords["feature"])
    coords = {"observation": np.arange(len(X)), "feature": features}
    observed = xr.Dataset({OBSERVED_NAME: (("observation", "feature"), X)}, coords=coords)
    constant = xr.Dataset(
        {
            "center": (("feature",), standard.center),
            "scale": (("feature",), standard.scale),
        },
        coords={"feature": features},
    )
    idata.add_groups(observed_data=observed, constant_data=constant)


def _diagnostics(idata: Any, options: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """Divergences, R-hat and bulk ESS after relabelling; warn with the numbers."""
    import arviz as az

    out: dict[str, Any] = {"problems": []}
    if options["method"] != "nuts":
        return out
    names = ["weights", "means", "covariances"]
    stats = idata.sample_stats
    n_divergent = int(stats["diverging"].sum()) if "diverging" in stats else 0
    n_total = int(stats.sizes["chain"] * stats.sizes["draw"])
    out["divergences"] = n_divergent
    if n_divergent:
        out["problems"].append(
            f"{n_divergent} of {n_total} draws ({n_divergent / n_total:.1%}) diverged; raise "
            "target_accept (e.g. 0.95) or check the model"
        )
    ess = az.ess(idata, var_names=names, method="bulk")
    min_ess = float(min(float(ess[name].min()) for name in names))
    out["ess_bulk_min"] = min_ess
    if min_ess < options["ess_min"]:
        out["problems"].append(
            f"the smallest bulk effective sample size is {min_ess:.0f} < {options['ess_min']:g}; "
            "draw more (draws, chains)"
        )
    if idata.posterior.sizes["chain"] > 1:
        rhat = az.rhat(idata, var_names=names)
        max_rhat = float(max(float(rhat[name].max()) for name in names))
        out["rhat_max"] = max_rhat
        if max_rhat > options["rhat_max"]:
            out["problems"].append(
                f"the largest R-hat is {max_rhat:.3f} > {options['rhat_max']:g}; chains have not "
                "mixed: draw more, or check the number of components"
            )
    if out["problems"]:
        relabelled = info.get("relabel", {})
        warnings.warn(
            "Sampler diagnostics after relabelling ("
            f"{relabelled.get('n_permuted', 0)} of {relabelled.get('n_draws', 0)} draws "
            "permuted): " + "; ".join(out["problems"]) + ".",
            SamplerWarning,
            stacklevel=3,
        )
    return out
