"""GaussianMixture: scikit-learn's mixture estimator, fitted by the EM engine.

The estimator validates its parameters and the data, computes the fit's constants once
(the data's weighted moments, the variance floor, the grid step of recorded data), runs
its starts (:mod:`bayesgmm.em.starts`) on the engine that
:func:`~bayesgmm.em.engines.select_engine` picks, keeps the best start, and wraps its
arrays in a :class:`~bayesgmm.result.MixtureResult`. Prediction (``predict``,
``score_samples``, ``bic`` ...) is :class:`bayesgmm.base.MixtureEstimator`'s.
"""

from __future__ import annotations

import logging
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base import MixtureEstimator
from ..covariance import COVARIANCE_TYPES, CovarianceModel, get_covariance_model
from ..data import (
    MAX_ABS_VALUE,
    check_features,
    check_float,
    check_int,
    check_observed,
    check_option,
    check_random_state,
    check_resolution,
    check_sample_weight,
    check_X,
    is_dask_array,
    scale_sample_weight,
)
from ..exceptions import (
    ILL_DEFINED_COVARIANCE,
    ConvergenceWarning,
    CovarianceError,
    DegenerateComponentWarning,
    WarmStartWarning,
    sklearn_compatible,
)
from ..family import FAMILIES, get_family
from ..interrupts import reraise_interrupts
from ..noise import NoiseBox, box_of_volume, hypervolume_box
from ..result import MixtureResult
from .blocks import Workers, place_data
from .degenerate import (
    AUTO_REG_COVAR,
    DegeneracyRule,
    FeatureSummary,
    summarise_features,
    variance_floor,
)
from .engines import ENGINES
from .init import INIT_METHODS
from .loop import Parameters, Run
from .missing import (
    MISSING_OPTIONS,
    MarginalProblem,
    check_marginal_input,
    impute_means,
    observed_moments,
    summarise_observed,
)
from .prior import check_prior, with_prior
from .starts import Problem, plan_starts, run_starts
from .statistics import weighted_moments
from .stopping import why_not_converged
from .user_values import check_initial_values

__all__ = ["GaussianMixture", "FitData", "MAX_ITER", "MAX_STARTS", "MAX_REG_COVAR"]

logger = logging.getLogger("bayesgmm.em")

#: Most iterations per start: each start keeps the log-likelihood of every iteration.
MAX_ITER = 10_000_000
#: Most starts (``n_init``).
MAX_STARTS = 100_000
#: Largest ``reg_covar``: the largest variance of accepted data (values up to 1e100).
MAX_REG_COVAR = MAX_ABS_VALUE**2


class GaussianMixture(MixtureEstimator):
    """Gaussian mixture model fitted by expectation-maximisation.

    A drop-in for :class:`sklearn.mixture.GaussianMixture` (same parameters, methods
    and fitted attributes) with defaults that reach the optimum: several starts
    including a deterministic hierarchical one, a stopping rule that does not stop
    early, a variance floor relative to the data's scale, and warnings when a
    component collapses.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components K.
    covariance_type : str, default="full"
        The covariance model (:mod:`bayesgmm.covariance`): scikit-learn's names
        "full" (one full covariance per component, mclust's VVV), "tied" (one full
        covariance shared by all, EEE), "diag" (one diagonal covariance per component,
        VVI), "spherical" (one variance per component, VII), or mclust's names (also
        "EEI": one diagonal covariance shared by all).
    tol : float, default=1e-6
        Convergence threshold on the mean log-likelihood per observation: EM stops
        when both the last gain and the gain still to come (Aitken's projection)
        fall below ``tol``. scikit-learn's ``tol=1e-3`` on the last gain alone
        stops early on slowly converging data.
    reg_covar : "auto" or float, default="auto"
        The variance floor, added to every covariance's diagonal so that each stays
        positive definite. "auto" adds ``1e-6`` times each feature's squared robust
        spread (:func:`~bayesgmm.em.degenerate.summarise_features`: the smaller of the
        standard deviation and the interquartile range / 1.349), so the fit does not
        depend on the data's units and one far outlier does not inflate it; a
        constant feature gets ``1e-6`` in its own units. A float is added as it is, in
        the data's units, as scikit-learn's ``reg_covar`` is (0 adds nothing, and then
        data with a constant feature or collinear features are refused).
    max_iter : int, default=1000
        Most EM iterations per start (at most 10,000,000). 0 returns the initial
        parameters, with ``converged_=False`` and no warning, as scikit-learn does.
    n_init : int or "auto", default="auto"
        Number of starts; the best (non-degenerate first, then highest likelihood)
        is kept. "auto" with ``init_params="kmeans"`` starts from a pool of
        partitions (:mod:`bayesgmm.em.pool`): three deterministic hierarchical trees
        cut at K (a model-based one in mclust's SVD scaling, as mclust starts, and
        Ward's on SVD-whitened and on standardised data), k-means from greedy
        k-means++ seeds in three scalings and random partitions, identical
        partitions once: 27 starts on small problems, falling to 11 as rows x K x D
        grows. Every start runs to convergence, on a uniform sample of 20,000 rows
        when the data are larger, whose best 3 distinct optima then continue on all
        rows. "auto" means one start for
        the other methods or when initial parameters are given. An integer runs
        that many starts to convergence (for "kmeans", the first is Ward's).
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        How starting responsibilities are made.
    weights_init : array-like of shape (K,), default=None
        User-provided initial weights.
    means_init : array-like of shape (K, D), default=None
        User-provided initial means.
    precisions_init : array-like, default=None
        User-provided initial precisions (inverse covariances), shaped as
        ``covariances_`` for the covariance type.
    random_state : int, numpy Generator or None, default=None
        Seed of the starts and of :meth:`sample`.
    warm_start : bool, default=False
        Start the next ``fit`` from the current solution (one start). On the same data it
        continues that fit's history: the stopping rule sees the log-likelihoods of the
        previous fit, so ``while not gm.converged_: gm.fit(X)`` with ``max_iter=1``
        ends. On other data (a rolling window, say) the history starts afresh. When the
        current solution no longer fits (``n_components``, ``covariance_type`` or the
        number of features changed), the fit starts cold with a
        :class:`~bayesgmm.exceptions.WarmStartWarning`.
    dtype : {None, "float32", "float64"}, default=None
        Working precision of the fit. None fits float32 data in float32 and everything
        else in float64. "float32" makes the E-step's arithmetic single precision (faster,
        see ``benchmarks/bench_em.py``; sums, parameters and the lower bound stay
        float64, the lower bound within 1e-6 relative of a float64 fit); "float64" fits
        float32 data in double precision. Prediction always computes in float64. The
        fitted attributes, ``score_samples`` and ``predict_proba`` follow the input's
        dtype, as scikit-learn's do: float32 data give float32 arrays (cast at the end).
    family : {"gaussian", "t"}, default="gaussian"
        The components' distribution (:mod:`bayesgmm.family`): Gaussian, or
        multivariate Student-t (heavy tails: each component has its own degrees of
        freedom; ECM as Peel & McLachlan 2000 and R's teigen), with every covariance
        model.
    dof : float or None, default=None
        ``family="t"`` only: None estimates each component's degrees of freedom (from
        :data:`DOF_START`, within [1, 1000]); a number fixes them all to it.
    noise : None, True, "hypvolume" or float, default=None
        A uniform noise component beside the K components (Banfield & Raftery 1993;
        mclust's ``Vinv``), for outliers and background clutter: None fits none. True
        or "hypvolume" gives it the density ``1 / V`` with V the data's hypervolume as
        mclust's ``hypvol`` computes it (the smaller of the bounding box and the
        principal-component box, :func:`bayesgmm.noise.hypervolume_box`); a float is
        the density ``Vinv`` itself. Its weight ``noise_weight_`` is estimated by EM,
        and the components' ``weights_`` sum to ``1 - noise_weight_``. ``predict``
        labels rows most probably noise ``-1``, ``predict_proba`` has K + 1 columns
        (the noise's last, so ``[:, -1]`` is the noise as the label -1 is), and
        ``score_samples``, ``bic`` and ``sample`` include the noise (BIC counts 2 more
        parameters, as mclust does). Every engine but "jax", every covariance model
        and both families.
    noise_init : array-like of bool, shape (n_samples,), or None, default=None
        With ``noise``: which rows start as noise (mclust's ``initialization =
        list(noise = ...)``); the components start from the other rows. None guesses
        them: rows in sparse regions by a nearest-neighbour rule
        (:func:`bayesgmm.noise.initial_noise`). A mask is used by starts that see every
        row; starts on a sample of the rows (more than 20,000 rows, or dask data) guess
        on the sample.
    engine : {"auto", "compiled", "blocks", "jax"}, default="auto"
        Where EM runs (:mod:`bayesgmm.em.engines`): "compiled" runs each start's
        whole EM in compiled code (small in-memory data), "blocks" runs row blocks on
        threads (and dask chunks), "jax" runs the E-step on JAX's default device (a
        GPU when JAX sees one; needs ``pip install jax``); "auto" picks by the data's
        size, and "jax" for a JAX array. The answer does not depend on it beyond
        rounding.
    verbose : int, default=0
        Log progress at INFO level on the ``bayesgmm`` logger (1: per start,
        2: per iteration).
    verbose_interval : int, default=10
        Iterations between messages at ``verbose=2``.
    missing : {"error", "marginal"}, default="error"
        What NaN in X means. "error" refuses it (a NaN by accident is not fitted).
        "marginal" takes NaN as a missing value (missing at random): EM maximises the
        likelihood of each row's observed coordinates (Ghahramani & Jordan 1994;
        :mod:`bayesgmm.em.missing`), with every covariance model and both families, and
        ``score_samples``, ``predict_proba``, ``predict``, ``score``, ``bic`` and ``aic``
        take rows with NaN the same way (a row with every value missing has density 1
        and the weights as its responsibilities). In-memory data only (not dask); data
        without NaN give the usual fit.
    prior : None, "default", ConjugatePrior or dict, default=None
        A conjugate prior on the components (mclust's ``prior = priorControl()``,
        :mod:`bayesgmm.em.prior`): EM finds the posterior mode (MAP), so a component
        that would collapse onto a few points keeps a proper covariance. "default" is
        mclust's ``defaultPrior`` (shrinkage 0.01 towards the data's mean, dof
        ``D + 2``, a scale from the data's variance); a
        :class:`~bayesgmm.em.prior.ConjugatePrior` (or a dict) of ``shrinkage``,
        ``mean``, ``dof``, ``scale`` sets any of them (None: mclust's default). For the
        Gaussian family, without missing values; ten covariance models (all but VEE,
        EVE, VVE, EVV, as in mclust). ``bic`` is then mclust's with the prior: the
        log-likelihood at the MAP estimate, with the same parameter count. With a
        prior, ``reg_covar="auto"`` adds no floor (mclust has none; the prior keeps the
        covariances proper). With ``sample_weight`` the prior's shrinkage and dof count
        in the weights' units (a frequency weight counts as that many rows), so their
        scale matters, not only their ratios.

    Attributes
    ----------
    weights_ : ndarray of shape (K,)
    means_ : ndarray of shape (K, D)
    covariances_ : ndarray
        Shape per type: full (K, D, D), tied (D, D), diag (K, D), spherical (K,);
        mclust's other models (K, D, D).
    precisions_ : ndarray
        Inverse covariances, shaped as ``covariances_``.
    precisions_cholesky_ : ndarray
        Cholesky factors of the precisions (upper triangular; inverse standard
        deviations for diag and spherical).
    noise_weight_ : float
        ``noise`` only: the noise component's weight.
    noise_vinv_ : float
        ``noise`` only: its density ``1 / V``.
    prior_ : ResolvedPrior
        ``prior`` only: the hyperparameters used (shrinkage, mean, dof, scale).
    dof_ : ndarray of shape (K,)
        ``family="t"`` only: each component's degrees of freedom. ``covariances_`` are
        then the components' scale matrices (a t's covariance is ``dof / (dof - 2)``
        times its scale, for dof > 2).
    converged_ : bool
    n_iter_ : int
        EM iterations of the best start in this ``fit`` (a warm start counts only its
        own).
    lower_bound_ : float
        Weighted mean log-likelihood of the training data at the fitted parameters,
        which is ``score(X)`` of the training data. scikit-learn's ``lower_bound_`` is
        the log-likelihood of the iterate before its last M-step, so it is a little
        lower than its ``score(X)``; compare ``score(X)`` across the two packages.
        With ``max_iter=0``: the log-likelihood of the initial parameters (scikit-learn
        reports -inf).
    lower_bounds_ : list of float
        Mean log-likelihood at each iteration of the best start (scikit-learn's
        ``lower_bounds_``), then at the fitted parameters (``lower_bound_``). With a
        ``prior``: the mean log-likelihood plus the log-prior per observation (MAP
        EM's objective, which never decreases); ``lower_bound_`` stays ``score(X)``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X was a DataFrame with string column names.
    result_ : MixtureResult
        The shared, labelled result object.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (100, 2)), rng.normal(3, 1, (100, 2))])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.sort(gm.means_[:, 0]).round(1)
    array([-3.,  3.])
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-6,
        reg_covar: float | str = "auto",
        max_iter: int = 1000,
        n_init: int | str = "auto",
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        dtype: str | None = None,
        family: str = "gaussian",
        dof: float | None = None,
        noise: Any = None,
        noise_init: Any = None,
        engine: str = "auto",
        verbose: int = 0,
        verbose_interval: int = 10,
        missing: str = "error",
        prior: Any = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.dtype = dtype
        self.family = family
        self.dof = dof
        self.noise = noise
        self.noise_init = noise_init
        self.engine = engine
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.missing = missing
        self.prior = prior

    def __sklearn_tags__(self):  # pragma: no cover - only called by scikit-learn
        from sklearn.base import BaseEstimator, DensityMixin

        class _Tagged(DensityMixin, BaseEstimator):
            pass

        tags = _Tagged().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "marginal"
        return tags

    # ------------------------------------------------------------------ fitting
    def _check_parameters(self) -> dict[str, Any]:
        name = type(self).__name__
        checked = {
            "n_components": check_int(name, "n_components", self.n_components, 1),
            "covariance_type": check_option(
                name, "covariance_type", self.covariance_type, COVARIANCE_TYPES
            ),
            "tol": check_float(name, "tol", self.tol, 0.0),
            "reg_covar": _check_reg_covar(name, self.reg_covar),
            "max_iter": check_int(name, "max_iter", self.max_iter, 0, MAX_ITER),
            "init_params": check_option(name, "init_params", self.init_params, INIT_METHODS),
            "engine": check_option(name, "engine", self.engine, ENGINES),
            "verbose": check_int(name, "verbose", self.verbose, 0),
            "verbose_interval": check_int(name, "verbose_interval", self.verbose_interval, 1),
            "missing": check_option(name, "missing", self.missing, MISSING_OPTIONS),
        }
        checked["dtype"] = None if self.dtype is None else _check_dtype(name, self.dtype)
        checked["family"] = get_family(check_option(name, "family", self.family, FAMILIES))
        checked["dof"] = _check_dof(name, self.dof, checked["family"])
        checked["noise"] = _check_noise(name, self.noise)
        model = get_covariance_model(checked["covariance_type"])
        checked["prior"] = check_prior(name, self.prior, model)
        if self.n_init == "auto":
            checked["n_init"] = "auto"
        elif isinstance(self.n_init, numbers.Integral) and not isinstance(self.n_init, bool):
            checked["n_init"] = check_int(name, "n_init", self.n_init, 1, MAX_STARTS)
        else:
            raise (TypeError if not isinstance(self.n_init, str) else ValueError)(
                f"The 'n_init' parameter of {name} must be an int in the range [1, inf) or "
                f"'auto'. Got {self.n_init!r} instead."
            )
        return checked

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GaussianMixture:
        """Estimate the model parameters with EM.

        Parameters
        ----------
        X : array-like, DataFrame or dask array of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Frequency weights: an integer weight counts a row that many times (the
            same fit as repeating it); zero drops the row. Survey or time-decay
            weights work the same way (they scale each row's log-likelihood). Only
            their ratios matter: weights of any size, 5e-324 or 1e300, are scaled
            exactly by a power of two.

        Returns
        -------
        self : GaussianMixture
        """
        options = self._check_parameters()
        with reraise_interrupts():  # a Ctrl-C that numba's compiler swallowed
            return self._fit_shared(FitData.prepare(X, sample_weight, self, options), options)

    def _fit_shared(
        self, shared: FitData, options: dict[str, Any] | None = None
    ) -> GaussianMixture:
        """Fit the data that ``shared`` prepared (with this estimator's shared options)."""
        options = self._check_parameters() if options is None else options
        if options["engine"] == "auto" and shared.on_jax:
            options["engine"] = "jax"  # data on a JAX device: fit there
        model = get_covariance_model(options["covariance_type"])
        n_components = options["n_components"]
        if shared.X.shape[0] < n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = {n_components}, "
                f"n_samples = {shared.X.shape[0]}. Use at most {shared.X.shape[0]} components "
                "or more data."
            )
        if self.verbose:
            _ensure_log_handler()
        with Workers() as workers:
            problem = self._problem(shared, model, options, workers)
            problem = with_prior(type(self).__name__, problem, options["prior"])
            warm = self._warm_start(problem) if self.warm_start else None
            starts, screen = plan_starts(
                options["init_params"], options["n_init"], problem, warm is not None
            )
            runs = run_starts(problem, starts, screen, *(warm or ()))
        best = self._best(runs, options, problem)
        self._store(best, problem, shared.data, options, warm)
        return self

    def _problem(self, shared: FitData, model, options, workers) -> Problem:
        """The fit's constants: the shared data's, and this model's degeneracy rule."""
        X, weights, summary, reg = shared.X, shared.weights, shared.summary, shared.reg
        user = check_initial_values(
            type(self).__name__,
            self.weights_init,
            self.means_init,
            self.precisions_init,
            options["n_components"],
            X.shape[1],
            model,
        )
        rng = check_random_state(self.random_state)
        incomplete = shared.incomplete  # missing="marginal" on data with NaN
        check_features(
            impute_means(X, shared.shift) if incomplete else X,
            weights,
            shared.variance,
            n_components=options["n_components"],
            covariance_type=options["covariance_type"],
            feature_names=shared.data.feature_names,
            estimator=type(self).__name__,
            reg_covar=options["reg_covar"],
        )
        if incomplete and options["noise"] is not None:
            raise ValueError(
                f"{type(self).__name__}: a noise component is not available with missing "
                "values yet (missing='marginal' on data with NaN). Drop noise=, or fit the "
                "complete rows (X[~np.isnan(X).any(axis=1)]) with the noise component."
            )
        options["noise_box"] = noise_box(options["noise"], X, weights)
        return (MarginalProblem if incomplete else Problem)(
            X=X,
            weights=weights,
            shift=shared.shift,
            reg=reg,
            degeneracy=DegeneracyRule.for_fit(summary, reg, model),
            model=model,
            n_components=options["n_components"],
            dtype=np.dtype(np.float32 if X.dtype == np.float32 else np.float64),
            workers=workers,
            rng=rng,
            user=user,
            max_iter=options["max_iter"],
            tol=options["tol"],
            engine=options["engine"],
            verbose=options["verbose"],
            verbose_interval=options["verbose_interval"],
            scale=np.where(summary.spread > 0, summary.spread, np.sqrt(reg)),
            pool_seed=int(rng.integers(2**63)),
            pools=shared.pools,
            family=options["family"],
            dof=DOF_START if options["dof"] is None else options["dof"],
            estimate_dof=options["dof"] is None,
            log_vinv=None if options["noise_box"] is None else options["noise_box"].log_vinv,
            noise_init=_check_noise_init(type(self).__name__, self.noise_init, X, options),
        )

    def _warm_start(self, problem: Problem) -> tuple[Parameters, list[float]] | None:
        """The previous fit's parameters and history, if they fit this problem."""
        if not hasattr(self, "result_"):
            return None
        model, n_features = problem.model, problem.X.shape[1]
        before = (
            len(self.weights_), self.result_.covariance_type, self.n_features_in_,
            hasattr(self, "noise_weight_"),
        )  # fmt: skip
        now = (problem.n_components, model.name, n_features, problem.log_vinv is not None)
        if before != now:
            changed = [
                f"{what} {old!r} -> {new!r}"
                for what, old, new in zip(
                    ("n_components", "covariance_type", "n_features", "noise"),
                    before,
                    now,
                    strict=True,
                )
                if old != new
            ]
            warnings.warn(
                f"warm_start=True, but the previous fit does not fit this one ({'; '.join(changed)}"
                "), so it starts cold, from the usual starts. Set warm_start=False to start "
                "cold without this warning.",
                WarmStartWarning,
                stacklevel=3,
            )
            return None
        weights = np.asarray(self.weights_, dtype=np.float64)
        if problem.log_vinv is not None:
            weights = np.append(weights, self.noise_weight_)
        params = Parameters(
            weights,
            np.asarray(self.means_, dtype=np.float64) - problem.shift,
            model.to_storage(self.covariances_),
            model.to_storage(self.precisions_cholesky_),
            # a t fit goes on from its degrees of freedom (fixed ones: this fit's)
            np.array(self.dof_, dtype=np.float64)
            if problem.estimate_dof and hasattr(self, "dof_")
            else np.full(problem.n_components, float(problem.dof)),
        )
        return params, list(getattr(self, "_stopping_history", []))

    def _best(self, runs: list[Run], options: dict, problem: Problem) -> Run:
        """The best start (non-degenerate first, then highest likelihood), with warnings."""
        for index, run in enumerate(runs):
            if self.verbose:
                logger.info(
                    "start %d (%s): log-likelihood %.6f after %d iterations%s",
                    index,
                    run.start,
                    run.history[-1],
                    run.n_iter,
                    " (degenerate)" if run.degenerate else "",
                )
        best = max(runs, key=lambda run: (not run.degenerate, run.history[-1]))
        if (
            best.degenerate
            and options["reg_covar"] == 0
            and options["prior"] is None
            and problem.degeneracy.on_tied_values(best.params, problem.model)
        ):
            # no floor under a component on tied values: rounding, not the data, sets
            # its variance and the likelihood (scikit-learn's error, as its exact zero)
            raise CovarianceError(
                f"{ILL_DEFINED_COVARIANCE} Every start ended with a degenerate component, "
                "and reg_covar=0 puts no floor under its covariance: "
                + "; ".join(best.degenerate)
                + ". Use fewer components, a larger reg_covar or a simpler covariance_type."
            )
        if best.degenerate:
            warnings.warn(
                "Every start ended with a degenerate component, so the likelihood of this "
                "fit is unbounded and its BIC is not comparable: "
                + "; ".join(best.degenerate)
                + ". Use fewer components, a simpler covariance_type, or a larger reg_covar.",
                DegenerateComponentWarning,
                stacklevel=3,
            )
        if not best.converged and options["max_iter"] > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data. "
                f"The best of {len(runs)} start(s) stopped at max_iter={options['max_iter']}: "
                + why_not_converged(best.continued + best.history[:-1], options["tol"])
                + "."
                + _rising_dof_note(best.params.dof, options),
                sklearn_compatible(ConvergenceWarning),
                stacklevel=3,
            )
        return best

    def _store(self, run: Run, problem: Problem, data: Any, options: dict, warm: Any) -> None:
        model: CovarianceModel = problem.model
        params, dtype = run.params, data.input_dtype
        covariances = model.from_storage(params.covariances)
        prec = model.from_storage(params.prec)
        n_components = problem.n_components
        noise_weight = None
        if problem.log_vinv is not None:
            noise_weight = float(params.weights[n_components])
            self.noise_weight_ = noise_weight
            self.noise_vinv_ = options["noise_box"].vinv
        else:
            for name in ("noise_weight_", "noise_vinv_"):
                if hasattr(self, name):
                    delattr(self, name)
        self.weights_ = params.weights[:n_components].astype(dtype)
        self.means_ = (params.means + problem.shift).astype(dtype)
        self.covariances_ = covariances.astype(dtype)
        self.precisions_cholesky_ = prec.astype(dtype)
        self.precisions_ = model.precisions(prec).astype(dtype)
        if options["family"].scales:
            self.dof_ = params.dof.copy()
        elif hasattr(self, "dof_"):
            del self.dof_
        self.converged_ = run.converged
        self.n_iter_ = run.n_iter
        self.lower_bound_ = run.history[-1] - run.log_prior
        if getattr(problem, "prior", None) is not None:
            self.prior_ = problem.prior
        elif hasattr(self, "prior_"):
            del self.prior_
        self.lower_bounds_ = run.history
        # what the stopping rule of a warm start continues (it reads three values; the
        # last, at the returned parameters, tells the next fit whether its data are these)
        self._stopping_history = (run.continued + run.history)[-3:]
        self.n_features_in_ = problem.X.shape[1]
        if data.feature_names is not None:
            self.feature_names_in_ = data.feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._rng = problem.rng
        self.result_ = MixtureResult(
            weights=params.weights[:n_components],
            means=params.means + problem.shift,
            covariances=covariances,
            covariance_type=model.name,
            feature_names=data.feature_names,
            history=np.asarray(run.history[:-1]),
            log_likelihood_=run.history[-1] - run.log_prior,
            converged=run.converged,
            degenerate=run.degenerate,
            reg_covar=AUTO_REG_COVAR if options["reg_covar"] == "auto" else options["reg_covar"],
            method="em",
            family=options["family"].name,
            dof=params.dof if options["family"].scales else None,
            estimate_dof=options["dof"] is None,
            missing=options["missing"],
            noise_weight=noise_weight,
            noise_box=options["noise_box"],
            conjugate_prior=getattr(problem, "prior", None),
        )

    def _n_parameters(self) -> int:
        """Free parameters of the fitted model (scikit-learn's private method, kept for
        code that calls it; :attr:`MixtureResult.n_parameters` is the public name)."""
        self._check_fitted()
        return self.result_.n_parameters

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit, then return the labels of X (the same as ``fit(X).predict(X)``)."""
        return self.fit(X, sample_weight=sample_weight).predict(X)


@dataclass
class FitData:
    """What every fit of one data set shares: the checked data and weights, their
    moments and per-feature summary, the variance floor, and the pools of starting
    partitions made so far (by seed). Made once by :meth:`prepare`; ``select`` fits
    every candidate of a grid from one.
    """

    data: Any
    X: Any
    weights: Any
    shift: np.ndarray
    variance: np.ndarray
    summary: FeatureSummary
    reg: np.ndarray
    on_jax: bool
    incomplete: bool = False
    pools: dict = field(default_factory=dict)

    @classmethod
    def prepare(
        cls, X: Any, sample_weight: Any, estimator: GaussianMixture, options: dict[str, Any]
    ) -> FitData:
        """Check X and the weights, and compute what every fit of them needs, with the
        estimator's ``dtype`` and ``reg_covar`` (the options the fits must share)."""
        name = type(estimator).__name__
        on_jax = type(X).__module__.startswith("jax")
        marginal = options["missing"] == "marginal"
        data = check_X(X, estimator=name, min_samples=2, dtype=options["dtype"], allow_nan=marginal)
        engine = "jax" if on_jax and options["engine"] == "auto" else options["engine"]
        incomplete = marginal and check_marginal_input(data.X, engine, name)
        # dask data on a dask.distributed cluster: persisted there once, for every pass
        X, weights = place_data(data.X, scale_sample_weight(_weights_for(data.X, sample_weight)))
        if incomplete:
            check_observed(X, weights, data.feature_names, name)
            shift, variance = observed_moments(X, weights)
        else:
            with Workers() as workers:
                shift, variance = weighted_moments(X, weights, workers)
        if not np.isfinite(variance).all():  # dask data: the first look at their values
            check_features(X, weights, variance, n_components=1, covariance_type="diag",
                           feature_names=data.feature_names, estimator=name)  # fmt: skip
        summary = (summarise_observed if incomplete else summarise_features)(
            X, weights, shift, variance
        )
        precision = np.float32 if np.float32 in (X.dtype, data.input_dtype) else np.float64
        check_resolution(summary.spread, summary.magnitude, precision, data.feature_names)
        if options["prior"] is not None and options["reg_covar"] == "auto":
            options["reg_covar"] = 0.0  # the prior keeps covariances proper, as in mclust
        reg = variance_floor(options["reg_covar"], summary.spread, summary.reach)
        return cls(data, X, weights, shift, variance, summary, reg, on_jax, incomplete)


def _check_reg_covar(owner: str, value: Any) -> float | str:
    """``reg_covar``: "auto", or a float in [0, MAX_REG_COVAR]."""
    if isinstance(value, str):
        if value == "auto":
            return value
        raise ValueError(
            f"The 'reg_covar' parameter of {owner} must be 'auto' or a float in the range "
            f"[0.0, inf). Got {value!r} instead."
        )
    value = check_float(owner, "reg_covar", value, 0.0)
    if value > MAX_REG_COVAR:
        raise ValueError(
            f"The 'reg_covar' parameter of {owner} is {value:g}, larger than any variance of "
            f"data it accepts (values above {MAX_ABS_VALUE:g} are refused, so variances stay "
            f"below {MAX_REG_COVAR:g}): the covariances would overflow float64. Use "
            "reg_covar='auto' (1e-6 of each feature's spread, squared) or a float of about "
            "1e-6 times the data's variance."
        )
    return value


def _weights_for(X: Any, sample_weight: Any) -> Any:
    """Checked sample weights: a numpy array, or a dask array chunked like X's rows."""
    if is_dask_array(X):
        import dask.array as da

        if sample_weight is None:
            return da.ones(X.shape[0], chunks=X.chunks[0])
        return da.asarray(check_sample_weight(sample_weight, X.shape[0])).rechunk(X.chunks[0])
    return check_sample_weight(sample_weight, X.shape[0])


def _ensure_log_handler() -> None:
    package_logger = logging.getLogger("bayesgmm")
    if not package_logger.handlers and not logging.getLogger().handlers:
        package_logger.addHandler(logging.StreamHandler())
    if package_logger.level == logging.NOTSET or package_logger.level > logging.INFO:
        package_logger.setLevel(logging.INFO)


def _check_dtype(owner: str, value: Any) -> np.dtype:
    """The working precision named by ``value`` ("float32", np.float32, "f4", ...)."""
    try:
        value = str(np.dtype(value))  # a dtype's canonical name, or value as it was
    except TypeError:
        pass
    return np.dtype(check_option(owner, "dtype", value, ("float32", "float64")))


#: Degrees of freedom every component of a t fit starts from, when they are estimated.
DOF_START = 30.0
#: Above this, an estimated t component is within about 1e-4 per row of a Gaussian, and
#: ECM raises its degrees of freedom slowly (Peel & McLachlan 2000, section 5).
NEAR_GAUSSIAN_DOF = 100.0


def _rising_dof_note(dof: Any, options: dict) -> str:
    """Why a t fit may still be climbing: components whose dof head for infinity."""
    if not options["family"].scales or options["dof"] is not None or dof is None:
        return ""
    large = [k for k, value in enumerate(dof) if value > NEAR_GAUSSIAN_DOF]
    if not large:
        return ""
    values = ", ".join(f"{dof[k]:.0f}" for k in large)
    return (
        f" Component(s) {large} have estimated degrees of freedom {values}, still rising "
        "slowly (ECM approaches a Gaussian component one small step at a time): their data "
        "look Gaussian. family='gaussian' fits such components directly; or fix the "
        "degrees of freedom with dof=."
    )


def _check_noise(owner: str, value: Any) -> float | str | None:
    """``noise``: None (none), "hypvolume" (True), or a positive finite density Vinv."""
    if value is None or value is False:
        return None
    if value is True or value == "hypvolume":
        return "hypvolume"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if np.isfinite(value) and value > 0:
            return float(value)
    raise ValueError(
        f"The 'noise' parameter of {owner} must be None, True, 'hypvolume' or a positive "
        f"finite float (the noise density Vinv, 1 / the volume of the region). Got {value!r} "
        "instead."
    )


def noise_box(noise: float | str | None, X: Any, weights: Any) -> NoiseBox | None:
    """The noise component's box: mclust's hypervolume, or the bounding box scaled to
    the density the user gave (None: no noise)."""
    if noise is None:
        return None
    if noise == "hypvolume":
        return hypervolume_box(X, weights)
    return box_of_volume(X, noise, weights)


def _check_noise_init(owner: str, value: Any, X: Any, options: dict) -> np.ndarray | None:
    """``noise_init``: None, or one bool per row of in-memory data (with ``noise``)."""
    if value is None:
        return None
    if options["noise"] is None:
        raise ValueError(
            f"The 'noise_init' parameter of {owner} is for a noise component: set noise=True "
            "(or a density), or leave noise_init=None."
        )
    if is_dask_array(X):
        raise ValueError(
            f"noise_init of {owner} takes in-memory data; with a dask array leave it None "
            "(the starts guess the noise rows on a sample)."
        )
    mask = np.asarray(value)
    if mask.dtype != bool or mask.shape != (X.shape[0],):
        raise ValueError(
            f"noise_init must be a boolean array with one entry per row ({X.shape[0]},); got "
            f"dtype {mask.dtype} and shape {mask.shape}."
        )
    return mask


def _check_dof(owner: str, value: Any, family: Any) -> float | None:
    """None (estimate), or a fixed number of degrees of freedom for the t family."""
    if value is None:
        return None
    if not family.scales:
        raise ValueError(
            f"The 'dof' parameter of {owner} is for family='t' (Student-t components); "
            f"with family={family.name!r} leave it None."
        )
    dof = check_float(owner, "dof", value, 0.0, strict=True)
    return dof
