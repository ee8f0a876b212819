"""BayesianGaussianMixture: the PyMC model behind scikit-learn's mixture API."""

from __future__ import annotations

import logging
import numbers
import sys
from typing import Any

import numpy as np

from ..base import MixtureEstimator
from ..covariance import SKLEARN_TYPES, get_covariance_model
from ..data import (
    check_features,
    check_float,
    check_int,
    check_observed,
    check_option,
    check_random_state,
    check_sample_weight,
    check_X,
    is_dask_array,
)
from ..em import GaussianMixture
from ..em.blocks import Workers
from ..em.missing import MISSING_OPTIONS, check_marginal_input, impute_means, observed_moments
from ..em.statistics import weighted_moments
from ..result import MixtureResult
from .density import PosteriorDensity
from .diagnostics import diagnose, is_converged
from .loo import LooResult, loo
from .marginal import check_missing_method
from .model import (
    DOF_NAME,
    OBSERVED_NAME,
    PARAMETER_NAMES,
    WEIGHT_NAME,
    Standardisation,
    build_model,
)
from .pointwise import lower_bound, pointwise_log_likelihood
from .predictive import PREDICTIVE_AUTO_MAX, add_model_variables, add_posterior_predictive
from .priors import Priors
from .progress import resolve_progress
from .relabel import raw_posterior, relabel
from .samplers import (
    METHODS,
    NUTS_SAMPLERS,
    VARIATIONAL_METHODS,
    RowSource,
    chain_starts,
    resolve_batch_size,
    resolve_nuts_sampler,
    run_inference,
    start_values,
)

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
    family : {"gaussian", "t"}, default="gaussian"
        The components' distribution: Gaussian, or multivariate Student-t (location
        ``means_``, scale matrix ``covariances_``, degrees of freedom ``dof_``), labels
        summed out in both. The t model starts from ``GaussianMixture(family="t")``;
        its likelihood is a PyTensor graph, so nutpie compiles the PyMC model (tens of
        seconds) instead of sampling the compiled density, and dask data are refused.
    dof : float or None, default=None
        ``family="t"`` only: None estimates each component's degrees of freedom under
        the Gamma(``dof_alpha``, ``dof_beta``) prior of ``priors`` (Gamma(2, 0.1) of
        Juarez & Steel 2010 by default); a float fixes them all.
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
        1.6 GB for 4000 draws of 50,000 rows; for dask data the group is a lazy dask
        array, computed when read). With False, ``lower_bound_`` is estimated from
        evenly thinned draws streamed over the rows (at most 1000 draws and
        ``LOWER_BOUND_EVALUATIONS`` row-draw pairs: :mod:`bayesgmm.bayes.pointwise`).
    compute_posterior_predictive : bool or "auto", default="auto"
        Store the ``posterior_predictive`` group (chain, draw, observation, feature):
        one replicate of the data per draw, which ``az.plot_ppc`` and
        ``az.plot_loo_pit`` read. "auto" stores it when it holds at most
        ``PREDICTIVE_AUTO_MAX`` numbers (:mod:`bayesgmm.bayes.predictive`);
        :meth:`sample_posterior_predictive` adds it later.
    rhat_max : float, default=1.01
    ess_min : float, default=400
        Thresholds of the sampler warnings (bulk ESS, after relabelling).
    em_kwargs : dict or None, default=None
        Further parameters of the :class:`~bayesgmm.GaussianMixture` fit that provides
        the start and the relabelling reference (``n_init``, ``reg_covar``, ...). It fits
        this estimator's ``n_components`` and ``covariance_type``, which em_kwargs may
        repeat but not change.
    random_state : int, numpy Generator or None, default=None
        Seeds the EM start, the chains and :meth:`sample`; an int reproduces the draws,
        and the EM start is then ``GaussianMixture(..., random_state=random_state)``, the
        same fit as a user's with that seed.
    progressbar : bool or None, default=None
        The sampler's progress bar (nutpie's or PyMC's; a rich bar of the steps for
        ADVI). None shows it in an interactive terminal or notebook (not in pipes,
        logs or tests); True always; False never.
    missing : {"error", "marginal"}, default="error"
        What NaN in X means, as in :class:`~bayesgmm.GaussianMixture`. "error" refuses
        it (a NaN by accident is not fitted). "marginal" takes NaN as a value missing at
        random: the likelihood is that of each row's observed coordinates, summed over
        the missingness patterns (:mod:`bayesgmm.bayes.marginal`), so the posterior is
        over the full means and covariances; the EM start is
        ``GaussianMixture(missing="marginal")``, and ``predict``, ``predict_proba``,
        ``score_samples`` and the result's per-row methods take rows with NaN. Data
        with NaN are fitted through the PyMC model: nuts_sampler "nutpie" (which then
        compiles it, tens of seconds) or "pymc", ADVI, or MAP; in memory only (not
        dask). Data without NaN give the usual fit. Notes say what LOO and the
        posterior predictive then hold.

    Attributes
    ----------
    weights_, means_, covariances_ : ndarray
        Posterior means after relabelling, shaped as scikit-learn shapes them; the
        components numbered as the EM start (``em_``) numbers them.
    precisions_, precisions_cholesky_ : ndarray
        From ``covariances_``.
    dof_ : ndarray of shape (K,)
        ``family="t"`` only: the degrees of freedom's posterior means (or the fixed
        value); every draw's are ``result_.draws()["dof"]``.
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
        The model, to inspect or extend; built when first read (the default nutpie
        and ADVI fits sample the compiled log posterior and do not need it).
    inference_info_ : dict
        Sampler, seconds, relabelling counts and diagnostics.
    result_ : MixtureResult
        With ``posterior``, the relabelled arviz.InferenceData (groups posterior,
        sample_stats, log_likelihood, posterior_predictive, observed_data,
        constant_data). Its posterior holds ``weights``, ``means`` and ``covariances``
        (data units) and the model's own variables (``z_means``, ``z_chol_k`` or
        ``z_sds``, standardised), so ``with fit.model_:
        pm.sample_posterior_predictive(fit.result_.posterior)`` works.

    Notes
    -----
    ``fit(X, sample_weight=w)`` fits a weighted likelihood: each row's log-likelihood
    times its weight, in the model (:func:`~bayesgmm.bayes.build_model`), the compiled
    log posterior, ADVI's minibatches and the EM start. With integer weights that is
    the posterior of the data with every row repeated w times. Other weights (time
    decay, survey weights) give a pseudo-posterior: not a posterior of any data, and
    as wide as ``sum(w)`` observations make it, so the scale of the weights matters
    (halving all of them widens every interval by sqrt(2)). The stored pointwise
    log-likelihood is unweighted, so LOO compares rows as rows.

    A dask array ``X`` (larger than memory, or on a dask.distributed cluster) is fitted
    by ``method="advi"`` or ``"fullrank_advi"``: the EM start runs on the EM engine's
    dask path, minibatches are drawn from a uniform sample of at most
    ``POOL_ROWS`` rows read once (:mod:`bayesgmm.bayes.samplers.rows`), and the sums
    over every row (the control variate's anchor, the full-data check, the lower bound)
    are dask reductions; ``observed_data`` and the pointwise log-likelihood stay lazy.
    NUTS and MAP need the data in memory.

    With ``missing="marginal"`` on data with NaN, the ``log_likelihood`` group holds
    each row's log-likelihood over its observed coordinates (what was fitted), so
    ``az.loo`` and :meth:`loo` give PSIS-LOO of the rows as observed; mixture-IS LOO
    (which samples the compiled complete-data density) is refused. The
    ``posterior_predictive`` group replicates full rows from the mixture and then
    blanks (NaN) the values missing in the data, so each replicate has the data's
    pattern and ``az.plot_ppc`` compares like with like;
    ``result_.sample(n)`` draws complete rows.

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
        family: str = "gaussian",
        dof: float | None = None,
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
        compute_posterior_predictive: bool | str = "auto",
        rhat_max: float = 1.01,
        ess_min: float = 400,
        em_kwargs: dict | None = None,
        random_state: Any = None,
        progressbar: bool | None = None,
        missing: str = "error",
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.family = family
        self.dof = dof
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
        self.compute_posterior_predictive = compute_posterior_predictive
        self.rhat_max = rhat_max
        self.ess_min = ess_min
        self.em_kwargs = em_kwargs
        self.random_state = random_state
        self.progressbar = progressbar
        self.missing = missing

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
        checked["family"] = check_option(name, "family", self.family, ("gaussian", "t"))
        checked["missing"] = check_option(name, "missing", self.missing, MISSING_OPTIONS)
        checked["dof"] = _checked_dof(name, self.dof, checked["family"])
        checked["em_kwargs"] = check_em_kwargs(name, self.em_kwargs, checked)
        checked["progressbar"], checked["progress_delay"] = resolve_progress(
            self.progressbar, "progressbar"
        )
        if self.compute_posterior_predictive not in (True, False, "auto"):
            raise ValueError(
                f"The 'compute_posterior_predictive' parameter of {name} must be True, False "
                f"or 'auto'. Got {self.compute_posterior_predictive!r} instead."
            )
        if checked["method"] == "nuts":
            checked["nuts_sampler"] = resolve_nuts_sampler(checked["nuts_sampler"])
        return checked

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> BayesianGaussianMixture:
        """Fit EM for a start, sample the posterior, relabel it, check diagnostics.

        Parameters
        ----------
        X : array-like, DataFrame or dask array of shape (N, D)
            A dask array for the variational methods only (Notes). NaN marks a missing
            value with ``missing="marginal"``.
        y : ignored
        sample_weight : array-like or dask array of shape (N,), or None, default=None
            Row weights of a weighted likelihood (Notes): each row's log-likelihood
            times its weight; integer weights count rows.

        Returns
        -------
        self
        """
        options = self._check_parameters()
        marginal = options["missing"] == "marginal"
        data = check_X(
            X, estimator=type(self).__name__, min_samples=2, dtype=np.float64,
            allow_nan=marginal,
        )  # fmt: skip
        X, method, ct = data.X, options["method"], options["covariance_type"]
        lazy = is_dask_array(X)
        options["incomplete"] = marginal and check_marginal_input(X, "auto", type(self).__name__)
        if options["incomplete"]:
            check_missing_method(type(self).__name__, options)
        if lazy:
            self._check_dask_options(options)
        weights = None if sample_weight is None else _row_weights(sample_weight, X)
        names = None if data.feature_names is None else list(data.feature_names)
        rng = check_random_state(self.random_state)
        standard = self._check_data(X, data.feature_names, options, weights)
        em = self._fit_start(X, options, rng, weights)
        density = _density(X, standard, options, weights, names)
        recipe = {"options": options, "names": names, "standard": standard}
        model = _build_model(X, weights, recipe) if _needs_model(options) else None
        starts = chain_starts(
            _start(em, options, standard), options["chains"], options["jitter"], rng
        )
        rows = RowSource(X, weights, rng) if lazy else None
        idata, info = self._infer(model, starts, options, rng, density, rows)
        idata, info["relabel"] = relabel(idata, ct, (em.means_, em.covariances_))
        add_model_variables(idata, ct, standard)
        features = names or [f"x{i}" for i in range(X.shape[1])]
        _add_data_groups(idata, X, standard, features, weights)
        result, point = _posterior_result(idata, ct, names, method, options)
        result.log_likelihood_ = self._add_log_likelihood(result, X, weights)
        if not lazy and _wants_predictive(self.compute_posterior_predictive, idata, X):
            add_posterior_predictive(result, rng)
        info["diagnostics"] = diagnose(
            idata,
            method,
            ess_min=options["ess_min"],
            rhat_max=options["rhat_max"],
            relabelled=info["relabel"],
        )
        result.converged = is_converged(method, info["diagnostics"], info)
        idata.posterior.attrs.update(
            bayesgmm_method=method,
            bayesgmm_sampler=str(info.get("sampler", method)),
            bayesgmm_seconds=float(info["seconds"]),
        )
        self._set_fitted(result, point, data, info, em=em, model=model, rng=rng, recipe=recipe)
        return self

    def _check_dask_options(self, options: dict[str, Any]) -> None:
        """A dask array is fitted by the variational methods, which read it in minibatches."""
        name = type(self).__name__
        if options["family"] == "t":
            raise TypeError(
                f"{name} with family='t' reads every row through its PyMC model, so it "
                "needs the data in memory: pass X.compute() (or a sample of its rows)."
            )
        if options["method"] not in VARIATIONAL_METHODS:
            raise TypeError(
                f"{name} with method={options['method']!r} evaluates every row at every "
                "step, so it needs the data in memory: pass X.compute(), or use "
                "method='advi' (or 'fullrank_advi'), which reads a dask array in minibatches."
            )
        if self.compute_posterior_predictive is True:
            raise ValueError(
                f"compute_posterior_predictive=True would hold draws x N x D numbers of a "
                f"dask array's replicates in memory; {name} leaves the group out for dask "
                "data. Use 'auto' or False."
            )

    def _check_data(
        self, X: Any, feature_names: Any, options: dict[str, Any], weights: Any
    ) -> Standardisation:
        """Check the data as GaussianMixture does; return the model's standardisation."""
        k, ct = options["n_components"], options["covariance_type"]
        if X.shape[0] < k:
            raise ValueError(
                f"n_samples={X.shape[0]} should be >= n_components={k}: fewer rows than "
                "components. Use fewer components or more data."
            )
        if options["method"] in VARIATIONAL_METHODS:  # before the EM start's seconds
            resolve_batch_size(options["batch_size"], X.shape[0])
        if is_dask_array(X):  # one pass of per-chunk moments
            ones = weights if weights is not None else _dask_ones(X)
            with Workers() as workers:
                mean, variance = weighted_moments(X, ones, workers)
            standard = Standardisation.from_moments(mean, variance, ct)
        elif options["incomplete"]:  # each feature's moments over its observed values
            ones = np.ones(len(X)) if weights is None else weights
            check_observed(X, ones, feature_names, type(self).__name__)
            mean, variance = observed_moments(X, ones)
            standard = Standardisation.from_moments(mean, variance, ct)
            X = impute_means(X, mean)  # for the checks of constant and collinear features
        else:
            ones, variance = np.ones(len(X)) if weights is None else weights, X.var(axis=0)
            standard = Standardisation.from_data(X, ct, weights)
        check_features(
            X,
            ones,
            variance,
            n_components=k,
            covariance_type=ct,
            feature_names=feature_names,
            estimator=type(self).__name__,
        )
        return standard

    def _fit_start(
        self, X: Any, options: dict[str, Any], rng: np.random.Generator, weights: Any
    ) -> GaussianMixture:
        """The EM fit that starts the chains and is the relabelling's reference: with an
        int ``random_state``, the same fit as ``GaussianMixture(..., random_state=it)``
        (on a dask array too: through the EM engine's dask path)."""
        seed = self.random_state
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
            seed = int(rng.integers(2**31 - 1))
        em_options = {"covariance_type": options["covariance_type"], "random_state": seed}
        em_options.update(family=options["family"], dof=options["dof"])
        em_options["missing"] = options["missing"]
        em_options.update(options["em_kwargs"])
        em_options["n_components"] = options["n_components"]
        return GaussianMixture(**em_options).fit(X, sample_weight=weights)

    def _infer(
        self,
        model: Any,
        starts: list[dict],
        options: dict[str, Any],
        rng: np.random.Generator,
        density: PosteriorDensity | None,
        rows: RowSource | None,
    ) -> tuple[Any, dict[str, Any]]:
        """Run the sampler; a failed start raises with PyMC's numbers and advice."""
        names = ("method", "draws", "tune", "chains", "nuts_sampler", "target_accept")
        names += ("advi_max_iter", "advi_tol", "batch_size", "progressbar", "progress_delay")
        extra = {} if rows is None else {"rows": rows}
        try:
            return run_inference(
                model,
                starts=starts,
                cores=options.get("cores"),
                rng=rng,
                density=density,
                **{name: options[name] for name in names},
                **extra,
            )
        except Exception as error:
            sampling_error = _pymc_sampling_error()
            if sampling_error is None or not isinstance(error, sampling_error):
                raise
            raise sampling_error(  # failed initialisation: PyMC's text has the numbers
                f"{type(self).__name__} could not start sampling from the EM solution: "
                f"{error}\nThe model's log-density is not finite at the start (see the values "
                "above). Try fewer components or a simpler covariance_type, other priors "
                "(bayesgmm.bayes.Priors), jitter=0, or method='advi'. The estimator is left "
                "unfitted."
            ) from None

    def _add_log_likelihood(self, result: MixtureResult, X: Any, weights: Any) -> float:
        """Store the pointwise log-likelihood (if asked; lazy for dask data); return
        ``lower_bound_``: the mean (weighted, with ``sample_weight``) log
        posterior-predictive density of X (:func:`~bayesgmm.bayes.pointwise.lower_bound`)."""
        log_lik = None
        if self.compute_log_likelihood:
            log_lik = pointwise_log_likelihood(result, X)
            result.posterior.add_groups(log_likelihood=log_lik.rename(OBSERVED_NAME).to_dataset())
        return lower_bound(result, X, weights, log_lik)

    @property
    def model_(self) -> Any:
        """The PyMC model (:func:`~bayesgmm.bayes.build_model`), to inspect or extend.

        Built on first use from the fitted data (``result_.posterior.observed_data``; a
        dask array's rows are computed), the fit's options and standardisation: the fits
        that sample the compiled log posterior (nutpie, ADVI) do not need it.
        """
        self._check_fitted()
        if self._model is None:
            idata, recipe = self.result_.posterior, self._model_recipe
            X = np.asarray(idata.observed_data[OBSERVED_NAME].values, dtype=np.float64)
            constant = idata.constant_data
            weights = constant[WEIGHT_NAME].values if WEIGHT_NAME in constant else None
            self._model = _build_model(X, weights, recipe)
        return self._model

    def sample_posterior_predictive(self, random_state: Any = None) -> Any:
        """Draw the posterior predictive and store it as the ``posterior_predictive`` group.

        One replicate of the training data (as many rows) per posterior draw, from our
        own sampler of the mixture (:func:`~bayesgmm.bayes.predictive.posterior_predictive`).

        Parameters
        ----------
        random_state : int, numpy Generator or None, default=None
            None continues the fit's random stream.

        Returns
        -------
        xarray.Dataset
            ``x`` (chain, draw, observation, feature), in the data's units.
        """
        self._check_fitted()
        rng = self._rng if random_state is None else check_random_state(random_state)
        return add_posterior_predictive(self.result_, rng)

    def _set_fitted(
        self,
        result: MixtureResult,
        point: dict[str, np.ndarray],
        data: Any,
        info: dict[str, Any],
        **fitted: Any,
    ) -> None:
        """Set the fitted attributes at once, after everything that can fail has run."""
        kind = get_covariance_model(result.covariance_type)
        self.weights_, self.means_, self.covariances_ = (point[n] for n in PARAMETER_NAMES)
        self.precisions_cholesky_ = kind.precision_cholesky(self.covariances_, self.weights_)
        self.precisions_ = kind.precisions(self.precisions_cholesky_)
        if result.family == "t":
            self.dof_ = point["dof"]
        elif hasattr(self, "dof_"):
            del self.dof_
        self.converged_ = result.converged
        self.n_iter_ = int(info.get("n_iter", self.draws))
        self.lower_bound_ = result.log_likelihood_
        self.n_features_in_ = data.X.shape[1]
        if data.feature_names is not None:
            self.feature_names_in_ = data.feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.em_, self._model, self._rng = fitted["em"], fitted["model"], fitted["rng"]
        self._model_recipe = fitted["recipe"]
        self.inference_info_ = info
        self.result_ = result

    def loo(self, *, mixture: bool | str = "auto", random_state: Any = None) -> LooResult:
        """PSIS-LOO, and mixture-IS LOO where Pareto k is high (:func:`bayesgmm.bayes.loo`).

        Parameters
        ----------
        mixture : bool or "auto", default="auto"
            Sample the mixture-IS target when a row's Pareto k exceeds 0.7 ("auto"),
            always (True) or never (False).
        random_state : int, numpy Generator or None, default=None

        Returns
        -------
        LooResult
            ``table``: one row per estimator (elpd, se, p_loo, rows with k > 0.7).
        """
        self._check_fitted()
        return loo(self, mixture=mixture, random_state=random_state)

    def raw_posterior(self) -> Any:
        """The sampler's draws before relabelling, as an arviz.InferenceData."""
        self._check_fitted()
        return raw_posterior(self.result_.posterior)

    def summary(self, **kwargs: Any) -> Any:
        """``az.summary`` of the relabelled posterior (see ``MixtureResult.summary``)."""
        self._check_fitted()
        return self.result_.summary(**kwargs)


def _posterior_result(
    idata: Any, covariance_type: str, feature_names: Any, method: str, options: dict
) -> tuple[MixtureResult, dict[str, np.ndarray]]:
    """The result of relabelled draws, and its point estimates: the posterior means
    (covariances in their native shape, as ``covariances_`` has them; a t fit's dof)."""
    dims = ("chain", "draw")
    point = {name: idata.posterior[name].mean(dims).values for name in PARAMETER_NAMES}
    family = {}
    if options["family"] == "t":
        fixed = options["dof"] is not None
        dof = np.full(len(point["weights"]), options["dof"]) if fixed else None
        point["dof"] = dof if fixed else idata.posterior[DOF_NAME].mean(dims).values
        family = {"family": "t", "dof": point["dof"], "estimate_dof": not fixed}
    result = MixtureResult(
        **{name: point[name] for name in PARAMETER_NAMES},
        covariance_type=covariance_type,
        feature_names=feature_names,
        method=method,
        posterior=idata,
        missing=options["missing"],
        **family,
    )
    return result, point


def _density(
    X: Any, standard: Standardisation, options: dict, weights: Any, names: Any
) -> PosteriorDensity | None:
    """The model's compiled log posterior (Gaussian components; None for t)."""
    if options["family"] == "t" or options["incomplete"]:
        return None
    lazy = is_dask_array(X)
    return PosteriorDensity(
        np.empty((0, X.shape[1])) if lazy else standard.transform(X),
        options["n_components"],
        options["covariance_type"],
        options["priors"],
        sample_weight=None if lazy else weights,
        standardisation=standard,
        feature_names=names,
    )


def _start(em: GaussianMixture, options: dict, standard: Standardisation) -> dict:
    """The chains' start: the EM fit's parameters (and estimated dof) as free variables."""
    ct = options["covariance_type"]
    start = start_values(em.weights_, em.means_, em.covariances_, ct, standard)
    if options["family"] == "t" and options["dof"] is None:
        start[DOF_NAME] = np.asarray(em.dof_, dtype=np.float64).copy()
    return start


def _checked_dof(name: str, dof: Any, family: str) -> float | None:
    """None (estimated or Gaussian), or the t components' fixed degrees of freedom."""
    if dof is None:
        return None
    if family != "t":
        raise ValueError(
            f"The 'dof' parameter of {name} is for family='t' (Student-t components); "
            f"with family={family!r} leave it None."
        )
    return check_float(name, "dof", dof, 0.0, strict=True)


def _add_data_groups(
    idata: Any, X: Any, standard: Standardisation, features: list, weights: Any
) -> None:
    """observed_data (the data, lazy for a dask array) and constant_data (standardisation,
    row weights)."""
    import xarray as xr

    coords = {"observation": np.arange(X.shape[0]), "feature": features}
    observed = xr.Dataset({OBSERVED_NAME: (("observation", "feature"), X)}, coords=coords)
    constant = xr.Dataset(
        {
            "center": (("feature",), standard.center),
            "scale": (("feature",), standard.scale),
        },
        coords=coords,
    )
    if weights is not None:
        constant[WEIGHT_NAME] = (("observation",), weights)
    idata.add_groups(observed_data=observed, constant_data=constant)


def _needs_model(options: dict[str, Any]) -> bool:
    """Whether the method samples the PyMC model (else the compiled density alone)."""
    nuts = options["method"] == "nuts"
    pymc_nuts = nuts and options["nuts_sampler"] in ("pymc", "numpyro")
    return (
        options["method"] == "map" or pymc_nuts or options["family"] == "t" or options["incomplete"]
    )


def _build_model(X: np.ndarray, weights: Any, recipe: dict[str, Any]) -> Any:
    """The fit's PyMC model, from its data, options and standardisation."""
    options = recipe["options"]
    return build_model(
        np.asarray(X, dtype=np.float64),
        options["n_components"],
        options["covariance_type"],
        options["priors"],
        feature_names=recipe["names"],
        standardisation=recipe["standard"],
        sample_weight=None if weights is None else np.asarray(weights, dtype=np.float64),
        family=options["family"],
        dof=options["dof"],
        missing="marginal" if options["incomplete"] else "error",
    )


def _pymc_sampling_error() -> type | None:
    """PyMC's SamplingError if PyMC is loaded (a fit that never imported it cannot raise
    it, and importing PyMC for the check would cost the fit its import time)."""
    module = sys.modules.get("pymc.exceptions")
    return None if module is None else module.SamplingError


def _row_weights(sample_weight: Any, X: Any) -> Any:
    """Checked row weights: numpy for numpy data; chunked like the rows for dask data."""
    weights = check_sample_weight(sample_weight, X.shape[0])
    if not is_dask_array(X):
        return weights
    import dask.array as da

    return da.asarray(weights).rechunk((X.chunks[0],))


def _dask_ones(X: Any) -> Any:
    """Unit row weights chunked like a dask array's rows."""
    import dask.array as da

    return da.ones(X.shape[0], chunks=(X.chunks[0],))


def _wants_predictive(option: Any, idata: Any, X: np.ndarray) -> bool:
    if option != "auto":
        return bool(option)
    n_draws = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]
    return n_draws * X.size <= PREDICTIVE_AUTO_MAX


def check_em_kwargs(name: str, em_kwargs: Any, checked: dict[str, Any]) -> dict[str, Any]:
    """The EM start's extra parameters, once they are known and agree with the model.

    The EM fit starts the chains and numbers the components, so it must fit the same
    ``n_components`` and ``covariance_type`` as the Bayesian model (repeating them is
    allowed); an unknown key would otherwise fail deep in PyTensor.

    Examples
    --------
    >>> check_em_kwargs("B", {"n_init": 3}, {"n_components": 2, "covariance_type": "full"})
    {'n_init': 3}
    >>> check_em_kwargs("B", {"covariance_type": "VVV"},
    ...                 {"n_components": 2, "covariance_type": "full"})
    {}
    """
    if em_kwargs is None:
        return {}
    if not isinstance(em_kwargs, dict):
        raise TypeError(
            f"The 'em_kwargs' parameter of {name} must be a dict or None. Got "
            f"{type(em_kwargs).__name__} instead."
        )
    allowed = GaussianMixture._parameter_names()
    unknown = sorted(str(key) for key in set(em_kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"em_kwargs of {name} has unknown keys {unknown}: they must be parameters of "
            f"GaussianMixture, one of {sorted(allowed)}."
        )
    for key in _MODEL_KEYS:
        if key in em_kwargs and not _same_setting(key, em_kwargs[key], checked[key]):
            raise ValueError(
                f"em_kwargs sets {key}={em_kwargs[key]!r}, but this {name} has "
                f"{key}={checked[key]!r}. The EM fit starts the sampler and numbers its "
                f"components, so it fits the same model: remove {key!r} from em_kwargs, "
                f"or set {name}'s own {key}."
            )
    return {key: value for key, value in em_kwargs.items() if key not in _MODEL_KEYS}


_MODEL_KEYS = ("n_components", "covariance_type", "family", "dof", "missing")


def _same_setting(key: str, given: Any, own: Any) -> bool:
    if key == "n_components":
        return isinstance(given, numbers.Integral) and int(given) == own
    if key in ("family", "dof", "missing"):
        return given == own
    try:
        return get_covariance_model(given).name == get_covariance_model(own).name
    except (ValueError, TypeError, KeyError):
        return False
