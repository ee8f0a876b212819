"""MixtureResult: the one result object that both fitters return as ``result_``.

It holds plain arrays in the data's own units and presents them as labelled
xarray data (dims ``component``, ``feature``, ``feature_bis``, ``observation``).
It knows nothing of how the fit was made: an EM fit fills the parameters and the
log-likelihood history; a Bayesian fit also attaches its InferenceData.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from . import _file_schema, gaussian, io
from .conjugate_prior import ResolvedPrior
from .covariance import COVARIANCE_TYPES, decompose, get_covariance_model
from .data import check_int, check_option, check_random_state, check_X
from .kernels.draws import log_likelihood_draws
from .noise import NoiseBox
from .observed import observed_log_density

__all__ = ["MixtureResult", "save", "load", "NOISE_LABEL", "NOISE_PARAMETERS"]

# Largest number of (draw, row, component) log-densities held at once.
_DRAW_BLOCK_ELEMENTS = 1 << 21
#: The label and responsibility column of a noise component.
NOISE_LABEL = -1
#: Free parameters a noise component adds (its weight and Vinv, as mclust counts them).
NOISE_PARAMETERS = 2


class MixtureResult:
    """A fitted Gaussian mixture: parameters, criteria, responsibilities, sampling.

    Parameters
    ----------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    covariances : ndarray
        Shaped per ``covariance_type`` as in scikit-learn: full (K, D, D), tied (D, D),
        diag (K, D), spherical (K,).
    covariance_type : str
        A covariance model's name or alias (:mod:`bayesgmm.covariance`).
    feature_names : sequence of str or None, default=None
        Column names; ``x0, x1, ...`` when None.
    history : ndarray of shape (n_iter,) or None, default=None
        Mean log-likelihood per EM iteration.
    log_likelihood_ : float or None, default=None
        Mean (weighted) log-likelihood of the training data at the fitted parameters.
    converged : bool or None, default=None
    degenerate : sequence of str, default=()
        Descriptions of degenerate (collapsed) components.
    reg_covar : float or None, default=None
        ``reg_covar`` of the fit: a float (absolute, added to the variances) or, for
        ``"auto"``, the fraction of each feature's squared robust spread it used.
    method : str, default="em"
        How the fit was made ("em", "nuts", "advi", ...).
    posterior : arviz.InferenceData or None, default=None
        The relabelled posterior of a Bayesian fit.
    family : {"gaussian", "t"}, default="gaussian"
        The components' family (:mod:`bayesgmm.family`).
    dof : ndarray of shape (K,) or None, default=None
        Degrees of freedom of Student-t components.
    estimate_dof : bool, default=True
        Whether they were estimated (then counted as parameters).
    missing : {"error", "marginal"}, default="error"
        What NaN in X means when evaluating: refused, or a missing value ("marginal":
        densities and responsibilities over each row's observed coordinates,
        :mod:`bayesgmm.observed`, under the fit's parameters or every posterior draw).
    noise_weight : float or None, default=None
        The weight of a uniform noise component (EM fits; None: none). The components'
        weights then sum to ``1 - noise_weight``.
    noise_box : NoiseBox or None, default=None
        The noise's box and density (:mod:`bayesgmm.noise`), with ``noise_weight``.
    conjugate_prior : ResolvedPrior or None, default=None
        The conjugate prior of a MAP-EM fit (``GaussianMixture(prior=...)``): its
        hyperparameters, in data coordinates (:mod:`bayesgmm.conjugate_prior`). Saved
        files keep it.

    Examples
    --------
    >>> result = MixtureResult(
    ...     weights=np.array([0.5, 0.5]), means=np.array([[-1.0], [1.0]]),
    ...     covariances=np.array([1.0, 1.0]), covariance_type="spherical")
    >>> result.means.dims
    ('component', 'feature')
    >>> result.predict([[-2.0], [2.0]]).values
    array([0, 1])
    """

    def __init__(
        self,
        *,
        weights: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        covariance_type: str,
        feature_names: Any = None,
        history: np.ndarray | None = None,
        log_likelihood_: float | None = None,
        converged: bool | None = None,
        degenerate: Any = (),
        reg_covar: float | None = None,
        method: str = "em",
        posterior: Any = None,
        family: str = "gaussian",
        dof: Any = None,
        estimate_dof: bool = True,
        missing: str = "error",
        noise_weight: float | None = None,
        noise_box: NoiseBox | None = None,
        conjugate_prior: ResolvedPrior | None = None,
    ) -> None:
        if covariance_type not in COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {sorted(COVARIANCE_TYPES)}; got "
                f"{covariance_type!r}."
            )
        self._weights = np.asarray(weights, dtype=np.float64)
        self._means = np.asarray(means, dtype=np.float64)
        self._covariances = np.asarray(covariances, dtype=np.float64)
        self._model = get_covariance_model(covariance_type)
        self.covariance_type = self._model.name
        n_features = self._means.shape[1]
        self._has_names = feature_names is not None
        self.feature_names = (
            [str(name) for name in feature_names]
            if feature_names is not None
            else [f"x{i}" for i in range(n_features)]
        )
        self._history = None if history is None else np.asarray(history, dtype=np.float64)
        self.log_likelihood_ = None if log_likelihood_ is None else float(log_likelihood_)
        self.converged = converged
        self.degenerate = list(degenerate)
        self.reg_covar = reg_covar
        self.method = method
        self.posterior = posterior
        self._family = _checked_family(family, dof, self.n_components)
        self.family = self._family.name
        self._dof = None if dof is None else np.asarray(dof, dtype=np.float64).reshape(-1)
        self.estimate_dof = bool(estimate_dof)
        self._prec_chol = self._model.precision_cholesky(self._covariances, self._weights)
        self.missing = check_option("MixtureResult", "missing", missing, ("error", "marginal"))
        self.noise_weight, self.noise_box = _checked_noise(noise_weight, noise_box, posterior)
        self.conjugate_prior = _checked_prior(conjugate_prior, n_features, posterior)

    # ------------------------------------------------------------------ shape
    @property
    def n_components(self) -> int:
        """Number of components K."""
        return self._weights.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features D."""
        return self._means.shape[1]

    @property
    def n_parameters(self) -> int:
        """Free parameters: weights (K - 1), means (K D), covariances (as mclust counts
        them), for Student-t components with estimated degrees of freedom K more, and
        with a noise component 2 more (its weight and its density ``Vinv``, as mclust's
        ``nMclustParams(..., noise = TRUE)`` counts them)."""
        k, d = self.n_components, self.n_features
        family = self._family.n_parameters(k, self.estimate_dof)
        noise = 0 if self.noise_weight is None else NOISE_PARAMETERS
        return (k - 1) + k * d + self._model.n_parameters(k, d) + family + noise

    @property
    def dof(self) -> xr.DataArray | None:
        """Degrees of freedom of Student-t components, dims ``(component,)`` (None for
        Gaussian components)."""
        if self._dof is None:
            return None
        return xr.DataArray(
            self._dof, dims=("component",), coords={"component": np.arange(self.n_components)},
            name="dof",
        )  # fmt: skip

    # ------------------------------------------------------------------ labelled parameters
    def _coords(self) -> dict[str, Any]:
        return {
            "component": np.arange(self.n_components),
            "feature": self.feature_names,
            "feature_bis": self.feature_names,
        }

    @property
    def weights(self) -> xr.DataArray:
        """Mixture weights, dims ``(component,)``."""
        return xr.DataArray(
            self._weights,
            dims=("component",),
            coords={"component": self._coords()["component"]},
            name="weights",
        )

    @property
    def means(self) -> xr.DataArray:
        """Component means, dims ``(component, feature)``."""
        coords = self._coords()
        return xr.DataArray(
            self._means,
            dims=("component", "feature"),
            coords={"component": coords["component"], "feature": coords["feature"]},
            name="means",
        )

    @property
    def covariances(self) -> xr.DataArray:
        """Component covariances as full matrices, dims ``(component, feature, feature_bis)``.

        Tied, diagonal and spherical covariances are expanded; the native arrays are
        the estimator's ``covariances_``.
        """
        full = self._model.to_full(self._covariances, self.n_components, self.n_features)
        return xr.DataArray(
            np.array(full),
            dims=("component", "feature", "feature_bis"),
            coords=self._coords(),
            name="covariances",
        )

    def _decomposition(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        full = self._model.to_full(self._covariances, self.n_components, self.n_features)
        return decompose(np.asarray(full))

    @property
    def volumes(self) -> xr.DataArray:
        """Volumes :math:`\\lambda_k = |\\Sigma_k|^{1/D}`, dims ``(component,)``.

        With :attr:`shapes` and :attr:`orientations`, mclust's decomposition
        :math:`\\Sigma_k = \\lambda_k D_k A_k D_k^T`
        (:func:`bayesgmm.covariance.decompose`); a model's first letter says whether
        the volumes are equal (E) or vary (V).

        Examples
        --------
        >>> result = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
        ...                        covariances=np.array([[4.0, 1.0]]), covariance_type="diag")
        >>> result.volumes.values
        array([2.])
        """
        return xr.DataArray(
            self._decomposition()[0],
            dims=("component",),
            coords={"component": self._coords()["component"]},
            name="volumes",
        )

    @property
    def shapes(self) -> xr.DataArray:
        """Shapes: the diagonal of :math:`A_k` (determinant 1), dims ``(component, feature)``.

        Entry ``j`` along ``feature`` belongs to the ``j``-th principal axis (column ``j``
        of :attr:`orientations`), in decreasing order, not to the ``j``-th feature.

        Examples
        --------
        >>> result = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
        ...                        covariances=np.array([[1.0, 4.0]]), covariance_type="diag")
        >>> result.shapes.values
        array([[2. , 0.5]])
        """
        coords = self._coords()
        return xr.DataArray(
            self._decomposition()[1],
            dims=("component", "feature"),
            coords={"component": coords["component"], "feature": coords["feature"]},
            name="shapes",
        )

    @property
    def orientations(self) -> xr.DataArray:
        """Orientations :math:`D_k`, dims ``(component, feature, feature_bis)``.

        Column ``j`` (``feature_bis`` position ``j``) is the unit principal axis of
        ``shapes[k, j]`` in the features' coordinates, its largest entry positive.

        Examples
        --------
        >>> result = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
        ...                        covariances=np.array([[1.0, 4.0]]), covariance_type="diag")
        >>> result.orientations.values[0]
        array([[0., 1.],
               [1., 0.]])
        """
        return xr.DataArray(
            self._decomposition()[2],
            dims=("component", "feature", "feature_bis"),
            coords=self._coords(),
            name="orientations",
        )

    @property
    def history(self) -> xr.DataArray | None:
        """Mean log-likelihood at each EM iteration, dims ``(iteration,)``."""
        if self._history is None:
            return None
        return xr.DataArray(
            self._history,
            dims=("iteration",),
            coords={"iteration": np.arange(1, len(self._history) + 1)},
            name="log_likelihood",
        )

    def draws(self) -> xr.Dataset:
        """Parameter draws with every covariance as a full matrix.

        The one way tools reach a fit's parameters: a Bayesian fit gives its relabelled
        posterior draws, an EM fit its estimate as a single draw (chain 0, draw 0), so
        code written for one works for the other.

        Returns
        -------
        xarray.Dataset
            ``weights`` (chain, draw, component), ``means`` (chain, draw, component,
            feature) and ``covariances`` (chain, draw, component, feature, feature_bis);
            for Student-t components also ``dof`` (chain, draw, component), and the
            covariances are then the components' scale matrices; with a noise
            component also ``noise_weight`` (chain, draw), and the weights sum to one
            less that.

        Examples
        --------
        >>> result = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
        ...                        covariances=np.ones(1), covariance_type="spherical")
        >>> result.draws()["covariances"].shape
        (1, 1, 1, 2, 2)
        """
        weights, means, full, dof = self.draw_arrays()
        chains, draws = self._native_draws()[-1]
        k, d = self.n_components, self.n_features
        shape = (len(chains), len(draws))
        coords = {**self._coords(), "chain": chains, "draw": draws}
        variables = {
            "weights": (("chain", "draw", "component"), weights.reshape(*shape, k)),
            "means": (("chain", "draw", "component", "feature"), means.reshape(*shape, k, d)),
            "covariances": (
                ("chain", "draw", "component", "feature", "feature_bis"),
                full.reshape(*shape, k, d, d),
            ),
        }
        if dof is not None:
            variables["dof"] = (("chain", "draw", "component"), np.array(dof).reshape(*shape, k))
        if self.noise_weight is not None:
            variables["noise_weight"] = (("chain", "draw"), np.full(shape, self.noise_weight))
        return xr.Dataset(variables, coords=coords)

    def draw_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """The draws of :meth:`draws` as plain arrays, chains and draws flattened: for
        loops over many fits, where building the labelled Dataset would cost more than
        the numbers.

        Returns
        -------
        weights : ndarray of shape (n_draws, n_components)
        means : ndarray of shape (n_draws, n_components, n_features)
        covariances : ndarray of shape (n_draws, n_components, n_features, n_features)
        dof : ndarray of shape (n_draws, n_components) or None (Gaussian components)

        Examples
        --------
        >>> result = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
        ...                        covariances=np.ones(1), covariance_type="spherical")
        >>> result.draw_arrays()[2].shape
        (1, 1, 2, 2)
        """
        weights, means, native, dof, _ = self._native_draws()
        k, d = self.n_components, self.n_features
        full = np.array(self._model.to_full(native, k, d)).reshape(-1, k, d, d)
        return weights, means, full, None if dof is None else np.asarray(dof)

    def _native_draws(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any, tuple]:
        """Weights (S, K), means (S, K, D), native covariances (S, ...), degrees of
        freedom (S, K) (None for Gaussian components), (chain, draw) coords."""
        if self.posterior is None:
            one = np.zeros(1, dtype=int)
            dof = None if self._dof is None else self._dof[None]
            return (
                self._weights[None], self._means[None], self._covariances[None], dof, (one, one),
            )  # fmt: skip
        post = self.posterior.posterior
        chains, draws = post["chain"].values, post["draw"].values
        n_draws = len(chains) * len(draws)
        weights = post["weights"].transpose("chain", "draw", "component").values
        means = post["means"].transpose("chain", "draw", "component", "feature").values
        native = post["covariances"].transpose("chain", "draw", ...).values
        dof = None
        if "dof" in post:  # estimated: one value per draw; fixed: the result's own
            dof = post["dof"].transpose("chain", "draw", "component").values.reshape(n_draws, -1)
        elif self._dof is not None:
            dof = np.broadcast_to(self._dof, (n_draws, self.n_components))
        return (
            weights.reshape(n_draws, -1),
            means.reshape(n_draws, *means.shape[2:]),
            native.reshape(n_draws, *native.shape[2:]),
            dof,
            (chains, draws),
        )

    # ------------------------------------------------------------------ evaluation
    def _check(self, X: Any) -> tuple[Any, Any]:
        """X validated (numpy, or dask kept lazy) and its row labels (a DataFrame's index)."""
        data = check_X(
            X, estimator="MixtureResult", n_features=self.n_features,
            allow_nan=self.missing == "marginal",
        )  # fmt: skip
        if data.feature_names is not None and self._has_names:
            if list(data.feature_names) != self.feature_names:
                raise ValueError(
                    f"X has columns {list(data.feature_names)}, but the model was fitted on "
                    f"{self.feature_names}. Pass the same columns in the same order."
                )
        index = getattr(X, "index", None)  # a DataFrame's; a list's is a method
        return data.X, None if callable(index) else index

    def _weighted_log_prob(self, X: np.ndarray) -> np.ndarray:
        """(N, K) weighted log-densities; (N, K + 1) with the noise's last."""
        with np.errstate(divide="ignore"):
            log_weights = np.log(self._weights)
        if self.missing == "marginal" and np.isnan(X).any():  # over observed coordinates
            full = self._model.to_full(self._covariances, self.n_components, self.n_features)
            density = observed_log_density(X, self._means, full, self._family, self._dof)
        else:
            density = self._model.log_density(
                X, self._means, self._prec_chol, self._family, self._dof
            )
        log_vinv = None if self.noise_weight is None else self.noise_box.log_vinv
        return gaussian.with_noise_column(density + log_weights, self.noise_weight, log_vinv)

    def _component_coords(self) -> np.ndarray:
        """The responsibilities' component labels: 0 .. K-1, and -1 for the noise."""
        labels = np.arange(self.n_components)
        return labels if self.noise_weight is None else np.append(labels, NOISE_LABEL)

    def _observation_coords(self, n: int, index: Any) -> dict[str, Any]:
        return {"observation": np.asarray(index) if index is not None else np.arange(n)}

    def _per_row(
        self, X: Any, function: Any, out_dims: tuple[str, ...] = (), sizes: Any = None,
        dtype: Any = np.float64,
    ) -> xr.DataArray:  # fmt: skip
        """``function`` of the rows (an (N, D) array -> (N, *out_dims)) as labelled data.

        A dask array in gives a lazy DataArray out, chunked like its rows (each chunk
        through ``function``, by :func:`xarray.apply_ufunc`).
        """
        X, index = self._check(X)
        rows = xr.DataArray(
            X, dims=("observation", "feature"), coords=self._observation_coords(len(X), index)
        )
        return xr.apply_ufunc(
            function,
            rows,
            input_core_dims=[["feature"]],
            output_core_dims=[list(out_dims)],
            dask="parallelized",
            output_dtypes=[dtype],
            dask_gufunc_kwargs={"output_sizes": dict(sizes or {})},
        )

    def _log_prob_rows(self, X: np.ndarray) -> np.ndarray:
        if self.posterior is not None:
            return self._posterior_log_prob(X)
        return gaussian.log_mixture_density(self._weighted_log_prob(X))[0]

    def log_prob(self, X: Any) -> xr.DataArray:
        """Log-density of the mixture at each row of X, dims ``(observation,)``.

        For a Bayesian fit this is the posterior predictive density: the mixture's
        density averaged over the posterior draws, ``log (1/S) sum_s p(x | theta_s)``.
        A dask array in gives a lazy (dask-backed) DataArray out.
        """
        return self._per_row(X, self._log_prob_rows).rename("log_prob")

    def responsibilities(self, X: Any, *, ci_prob: float | None = 0.94) -> Any:
        """Probability of each component for each row, dims ``(observation, component)``.

        Parameters
        ----------
        X : array-like or dask array of shape (N, D)
            A dask array gives lazy (dask-backed) results, chunked like its rows.
        ci_prob : float or None, default=0.94
            Bayesian fits only: probability mass of the equal-tailed credible
            interval reported per point and component (None: the means only).

        Returns
        -------
        xarray.DataArray or xarray.Dataset
            EM fit: a DataArray of responsibilities (with a noise component, one more
        column, the noise's, last, at ``component=-1``). Bayesian fit: a Dataset with
            ``mean`` (the posterior mean responsibility), ``lower`` and ``upper`` (the
            credible bounds over the posterior draws), computed in blocks of rows so
            that N x K x draws never sits in memory at once.
        """
        components = {"component": len(self._component_coords())}
        if self.posterior is None:
            resp = self._per_row(X, self._plug_in_responsibilities, ("component",), components)
            return resp.assign_coords(component=self._component_coords()).rename("responsibilities")
        tail = _tail_probability(ci_prob)
        summaries = ("mean",) if tail is None else ("mean", "lower", "upper")
        stacked = self._per_row(
            X,
            lambda rows: self._posterior_summary(rows, tail),
            ("summary", "component"),
            {"summary": len(summaries), **components},
        ).assign_coords(component=np.arange(self.n_components))
        variables = {name: stacked.isel(summary=i, drop=True) for i, name in enumerate(summaries)}
        attrs = {"description": "posterior mean responsibilities"}
        if tail is not None:
            attrs = {
                "ci_prob": float(ci_prob),
                "description": f"posterior mean and {ci_prob:.0%} equal-tailed credible "
                "interval of each responsibility over the posterior draws",
            }
        return xr.Dataset(variables, attrs=attrs)

    def _plug_in_responsibilities(self, X: np.ndarray) -> np.ndarray:
        return np.exp(gaussian.log_mixture_density(self._weighted_log_prob(X))[1])

    def _mean_responsibilities(self, X: Any) -> Any:
        """Responsibilities (N, K) as an array (dask in, dask out); Bayesian fits: means."""
        if self.posterior is None:
            return self.responsibilities(X).data
        return self.responsibilities(X, ci_prob=None)["mean"].data

    def predict(self, X: Any) -> xr.DataArray:
        """Most probable component of each row, dims ``(observation,)``; ``-1`` for rows
        most probably noise (with a noise component).

        For a Bayesian fit: the component of highest posterior mean responsibility.
        """

        def labels(rows: np.ndarray) -> np.ndarray:
            if self.posterior is not None:
                return self._posterior_summary(rows, None)[:, 0].argmax(axis=1)
            return self._component_coords()[self._weighted_log_prob(rows).argmax(axis=1)]

        return self._per_row(X, labels, dtype=np.intp).rename("label")

    def _total_log_likelihood(self, X: Any) -> float:
        """Total plug-in log-likelihood; dask data are reduced lazily and computed once."""

        def rows(chunk: np.ndarray) -> np.ndarray:
            return gaussian.log_mixture_density(self._weighted_log_prob(chunk))[0]

        total = self._per_row(X, rows).sum()
        return float(total.compute() if total.chunks else total)

    def log_likelihood(self, X: Any) -> float:
        """Total log-likelihood of X at the fitted parameters, ``sum_n log p(x_n)``.

        For a Bayesian fit this is the plug-in value at the posterior mean (the value
        behind its BIC and AIC); :meth:`log_prob` gives the posterior predictive density.

        See Also
        --------
        bic, aic, log_prob
        """
        return self._total_log_likelihood(X)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion ``-2 log L + p log N`` (lower is better).

        See Also
        --------
        aic, icl
        """
        n_rows = len(self._check(X)[0])
        return -2 * self._total_log_likelihood(X) + self.n_parameters * np.log(n_rows)

    def aic(self, X: Any) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` (lower is better).

        See Also
        --------
        bic, icl
        """
        return -2 * self._total_log_likelihood(X) + 2 * self.n_parameters

    def icl(self, X: Any) -> float:
        """Integrated completed likelihood, BIC plus twice the classification entropy.

        ``ICL = BIC - 2 sum_n log max_k r_nk`` (Biernacki, Celeux & Govaert 2000, as
        mclust computes it): it penalises components that overlap, so it favours
        well-separated clusters. Lower is better.

        See Also
        --------
        aic, bic
        """

        def largest(rows: np.ndarray) -> np.ndarray:
            return gaussian.log_mixture_density(self._weighted_log_prob(rows))[1].max(axis=1)

        entropy = self._per_row(X, largest).sum()
        entropy = float(entropy.compute() if entropy.chunks else entropy)
        return float(self.bic(X) - 2 * entropy)

    # ------------------------------------------------------------------ sampling
    def sample(
        self, n_samples: int, random_state: Any = None, *, return_labels: bool = False
    ) -> Any:
        """Draw ``n_samples`` rows from the mixture.

        Parameters
        ----------
        n_samples : int
        random_state : int, Generator or None, default=None
        return_labels : bool, default=False
            Also return each row's component (rows are then grouped by component,
            as scikit-learn's ``sample`` returns them). Noise rows, drawn uniformly in
            the noise's box, come last, labelled -1.

        Returns
        -------
        ndarray of shape (n_samples, D), or a tuple (X, labels)

        Notes
        -----
        For a Bayesian fit the rows come from the posterior predictive distribution:
        each row takes a posterior draw at random, then a component and a point from
        that draw's mixture.
        """
        check_int("MixtureResult", "n_samples", n_samples, 1)
        rng = check_random_state(random_state)
        if self.posterior is not None:
            X, y = self._posterior_sample(n_samples, rng)
            return (X, y) if return_labels else X
        weights = self._weights
        if self.noise_weight is not None:
            weights = np.append(weights, self.noise_weight)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        full = self._model.to_full(self._covariances, self.n_components, self.n_features)
        chol = np.linalg.cholesky(full)
        draws, labels = [], []
        for k, count in enumerate(counts[: self.n_components]):
            noise = rng.standard_normal((count, self.n_features))
            if self._dof is not None:
                noise *= _t_scales(rng, np.full(count, self._dof[k]))[:, None]
            draws.append(self._means[k] + noise @ chol[k].T)
            labels.append(np.full(count, k))
        if self.noise_weight is not None:
            draws.append(self.noise_box.sample(rng, counts[-1]))
            labels.append(np.full(counts[-1], NOISE_LABEL))
        X = np.concatenate(draws)
        y = np.concatenate(labels)
        return (X, y) if return_labels else X

    # ------------------------------------------------------------------ posterior draws
    def _posterior_draws(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
        """Weights (S, K), means (S, K, D), precision factors and degrees of freedom
        (S, K; None for Gaussian components) of every draw."""
        cached = getattr(self, "_draw_cache", None)
        if cached is not None and cached[0] is self.posterior:
            return cached[1]
        weights, means, covariances, dof, _ = self._native_draws()
        prec_chol = self._model.precision_cholesky(covariances, weights)
        draws = (weights, means, prec_chol, dof)
        self._draw_cache = (self.posterior, draws)
        return draws

    def _draw_blocks(self, X: np.ndarray) -> Any:
        """Yield (rows, weighted log-densities (S, B, K)) over blocks of rows."""
        weights, means, prec_chol, dof = self._posterior_draws()
        n_draws, n_components = weights.shape
        block = max(1, _DRAW_BLOCK_ELEMENTS // (n_draws * n_components))
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)[:, None, :]
        for start in range(0, len(X), block):
            rows = slice(start, min(start + block, len(X)))
            if self._incomplete(X[rows]):
                density = self._observed_draws_density(X[rows])
            else:
                density = self._model.log_density(X[rows], means, prec_chol, self._family, dof)
            yield rows, density + log_weights

    def _incomplete(self, X: np.ndarray) -> bool:
        """Whether rows hold missing values to integrate out (``missing="marginal"``)."""
        return self.missing == "marginal" and bool(np.isnan(X).any())

    def _observed_draws_density(self, X: np.ndarray, chosen: Any = slice(None)) -> np.ndarray:
        """Log-densities (S, N, K) of each row's observed coordinates under the chosen
        posterior draws (:func:`~bayesgmm.observed.observed_log_density`)."""
        _, means, native, dof, _ = self._native_draws()
        k, d = self.n_components, self.n_features
        full = np.asarray(self._model.to_full(native[chosen], k, d)).reshape(-1, k, d, d)
        n_draws = len(full)
        flat_dof = None if dof is None else np.asarray(dof)[chosen].reshape(-1)
        density = observed_log_density(
            X, means[chosen].reshape(-1, d), full.reshape(-1, d, d), self._family, flat_dof
        )
        return density.reshape(len(X), n_draws, k).transpose(1, 0, 2)

    @property
    def _n_draws(self) -> int:
        """Posterior draws (chains times draws); an EM fit is one."""
        if self.posterior is None:
            return 1
        return int(self.posterior.posterior.sizes["chain"] * self.posterior.posterior.sizes["draw"])

    def _draw_block_rows(self, n_draws: int) -> int:
        """Rows per block of :meth:`_draws_log_likelihood` ((S, B) kernel output; numpy's
        families hold (S, B, K))."""
        per_row = n_draws * (self.n_components if self._family.scales else 1)
        if self.missing == "marginal":  # (S, B, K) by numpy for rows with NaN
            per_row = n_draws * self.n_components
        return max(1, _DRAW_BLOCK_ELEMENTS // per_row)

    def _draws_log_likelihood(self, X: np.ndarray, stride: int = 1) -> np.ndarray:
        """Row log-likelihoods (S, N) of X under every ``stride``-th posterior draw:
        the compiled kernel for Gaussian components, numpy for the others (and for
        rows with missing values, over their observed coordinates)."""
        if self._incomplete(X):
            weights = self._native_draws()[0][::stride]
            with np.errstate(divide="ignore"):
                weighted = self._observed_draws_density(X, slice(None, None, stride))
                weighted = weighted + np.log(weights)[:, None, :]
            return gaussian.log_mixture_density(weighted)[0]
        if not self._family.scales:
            draws = _compiled_draws(self)
            if stride > 1:
                draws = tuple(part[::stride] for part in draws[:4]) + (draws[4],)
            return _kernel_log_likelihood(draws, X)
        weights, means, prec_chol, dof = self._posterior_draws()
        chosen = slice(None, None, stride)
        with np.errstate(divide="ignore"):
            weighted = (
                self._model.log_density(
                    X, means[chosen], prec_chol[chosen], self._family, dof[chosen]
                )
                + np.log(weights[chosen])[:, None, :]
            )
        return gaussian.log_mixture_density(weighted)[0]

    def _posterior_log_prob(self, X: np.ndarray, max_draws: int | None = None) -> np.ndarray:
        """log of the posterior predictive density of each row: log mean_s p(x | θ_s).

        Streams over blocks of rows, so no (draws, rows) array of the whole data is held.
        ``max_draws`` thins the draws evenly to at most that many (a cheaper estimate).
        """
        out = np.empty(len(X))
        total = self._n_draws
        stride = 1 if max_draws is None or total <= max_draws else -(-total // max_draws)
        n_draws = len(range(0, total, stride))
        block = self._draw_block_rows(n_draws)
        for start in range(0, len(X), block):
            rows = slice(start, min(start + block, len(X)))
            per_draw = self._draws_log_likelihood(X[rows], stride)  # (S, B)
            out[rows] = gaussian.log_mixture_density(per_draw.T)[0] - np.log(n_draws)
        return out

    def log_likelihood_draws(self, X: Any) -> xr.DataArray:
        """Pointwise log-likelihood of X under every posterior draw (Bayesian fits).

        Returns
        -------
        xarray.DataArray
            dims ``(chain, draw, observation)``, in the data's units: the
            ``log_likelihood`` group of the InferenceData that ``az.loo`` reads.
        """
        posterior = self._require_posterior("log_likelihood_draws")
        X, index = self._check(X)
        X = np.asarray(X)  # (draws x rows) of numbers: a dask array is computed here
        n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
        out = self._draws_log_likelihood(X).reshape(n_chains * n_draws, len(X))
        # a row with nothing observed has likelihood 1 under every draw: exactly 0, not
        # log(sum of the weights) = 0 +- rounding (PSIS cannot fit a tail to noise)
        out[:, np.isnan(X).all(axis=1)] = 0.0
        coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values}
        coords.update(self._observation_coords(len(X), index))
        return xr.DataArray(
            out.reshape(n_chains, n_draws, len(X)),
            dims=("chain", "draw", "observation"),
            coords=coords,
            name="log_likelihood",
        )

    # ------------------------------------------------------------------ label-invariant
    def predictive_density(self, X: Any, *, ci_prob: float = 0.94) -> xr.Dataset:
        """Density of the fitted mixture at each row of X, with a credible band.

        The mixture density ``p(x | theta) = sum_k w_k N(x | mu_k, Sigma_k)`` does not
        depend on how the components are numbered, so its band needs no relabelling.

        Parameters
        ----------
        X : array-like of shape (N, D)
        ci_prob : float, default=0.94
            Probability mass of the equal-tailed credible interval over the draws.

        Returns
        -------
        xarray.Dataset
            dims ``(observation,)``: ``mean`` (the posterior predictive density, the
            mean of ``p(x | theta_s)`` over the draws: ``exp(log_prob(X))``), ``lower``
            and ``upper`` (its ``ci_prob`` band over the draws). An EM fit is one draw:
            the three are its plug-in density.

        Examples
        --------
        >>> result = MixtureResult(weights=np.ones(1), means=np.zeros((1, 1)),
        ...                        covariances=np.ones(1), covariance_type="spherical")
        >>> float(result.predictive_density([[0.0]])["mean"][0]).__round__(4)
        0.3989
        """
        X, index = self._check(X)
        tail = (1.0 - _checked_ci_prob(ci_prob)) / 2.0
        out = np.empty((3, len(X)))
        block = self._draw_block_rows(self._n_draws)
        for start in range(0, len(X), block):
            rows = slice(start, min(start + block, len(X)))
            density = np.exp(self._draws_log_likelihood(X[rows]))  # (S, B)
            out[0, rows] = density.mean(axis=0)
            out[1:, rows] = np.quantile(density, [tail, 1.0 - tail], axis=0)
        coords = self._observation_coords(len(X), index)
        dims = ("observation",)
        return xr.Dataset(
            {"mean": (dims, out[0]), "lower": (dims, out[1]), "upper": (dims, out[2])},
            coords=coords,
            attrs={
                "ci_prob": float(ci_prob),
                "description": f"posterior mean and {ci_prob:.0%} equal-tailed credible "
                "interval of the mixture density over the posterior draws",
            },
        )

    def co_clustering(
        self, X: Any, *, rows: Any = None, max_draws: int | None = 1000
    ) -> xr.DataArray:
        """Posterior probability that two rows belong to the same component.

        ``P(z_i = z_j | data) = E[sum_k r_ik(theta) r_jk(theta)]`` over the posterior
        (given theta the two labels are independent), 1 on the diagonal. It does not
        depend on how the components are numbered, so it needs no relabelling; with an
        overfitted K (a sparse mixture) it shows the clusters whatever their number.

        Parameters
        ----------
        X : array-like of shape (N, D)
        rows : array-like of int or bool, or None, default=None
            The rows to compare (all when None): the matrix is ``len(rows)`` squared.
        max_draws : int or None, default=1000
            Draws used, thinned evenly (None: every draw); the Monte Carlo error of an
            entry is at most ``0.5 / sqrt(max_draws)``.

        Returns
        -------
        xarray.DataArray
            dims ``(observation, observation_bis)``.

        Examples
        --------
        >>> result = MixtureResult(weights=np.full(2, 0.5), means=np.array([[-5.0], [5.0]]),
        ...                        covariances=np.ones(2), covariance_type="spherical")
        >>> result.co_clustering([[-5.0], [-4.0], [5.0]]).values.round(3)
        array([[1., 1., 0.],
               [1., 1., 0.],
               [0., 0., 1.]])
        """
        X, index = self._check(X)
        positions = np.arange(len(X)) if rows is None else np.arange(len(X))[np.asarray(rows)]
        X = X[positions]
        weights, means, prec_chol, dof = self._posterior_draws()
        stride = 1 if max_draws is None else max(1, -(-len(weights) // int(max_draws)))
        chosen = np.arange(0, len(weights), stride)
        n, k = len(X), self.n_components
        total = np.zeros((n, n))
        block = max(1, _DRAW_BLOCK_ELEMENTS // (n * k))
        for start in range(0, len(chosen), block):
            part = chosen[start : start + block]
            with np.errstate(divide="ignore"):
                if self._incomplete(X):
                    weighted = self._observed_draws_density(X, part)
                else:
                    weighted = self._model.log_density(
                        X, means[part], prec_chol[part], self._family,
                        None if dof is None else dof[part],
                    )  # fmt: skip
                weighted = weighted + np.log(weights[part])[:, None, :]
            resp = np.exp(gaussian.log_mixture_density(weighted)[1])  # (S, n, K)
            flat = resp.transpose(1, 0, 2).reshape(n, -1)
            total += flat @ flat.T
        total /= len(chosen)
        total[positions[:, None] == positions[None, :]] = 1.0
        labels = np.asarray(index)[positions] if index is not None else positions
        return xr.DataArray(
            total,
            dims=("observation", "observation_bis"),
            coords={"observation": labels, "observation_bis": labels},
            name="co_clustering",
            attrs={"n_draws": len(chosen)},
        )

    def _posterior_summary(self, X: np.ndarray, tail: float | None) -> np.ndarray:
        """(N, S, K): posterior mean responsibilities, and with ``tail`` the equal-tailed
        bounds ``tail`` and ``1 - tail`` (S = 3), over blocks of rows."""
        n_components = self.n_components
        out = np.empty((len(X), 1 if tail is None else 3, n_components))
        for rows, weighted in self._draw_blocks(X):
            resp = np.exp(gaussian.log_mixture_density(weighted)[1])  # (S, B, K)
            out[rows, 0] = resp.mean(axis=0)
            if tail is not None:
                out[rows, 1:] = np.moveaxis(np.quantile(resp, [tail, 1.0 - tail], axis=0), 0, 1)
        return out

    def _posterior_sample(self, n_samples: int, rng: np.random.Generator) -> tuple:
        weights, means, covariances, dof, _ = self._native_draws()
        full = self._model.to_full(covariances, self.n_components, self.n_features)
        draw = rng.integers(weights.shape[0], size=n_samples)
        cumulative = np.cumsum(weights[draw], axis=1)
        uniform = rng.random(n_samples)[:, None] * cumulative[:, -1:]
        labels = np.minimum((cumulative < uniform).sum(axis=1), self.n_components - 1)
        chol = np.linalg.cholesky(full[draw, labels])  # (n, D, D)
        noise = rng.standard_normal((n_samples, self.n_features))
        if dof is not None:
            noise *= _t_scales(rng, dof[draw, labels])[:, None]
        X = means[draw, labels] + np.einsum("nde,ne->nd", chol, noise)
        order = np.argsort(labels, kind="stable")
        return X[order], labels[order]

    def _require_posterior(self, what: str) -> Any:
        if self.posterior is None:
            raise ValueError(
                f"{what} needs a Bayesian fit (a result with a posterior); this result was "
                f"made by method={self.method!r}. Fit BayesianGaussianMixture instead."
            )
        return self.posterior.posterior

    def summary(self, var_names: Any = ("weights", "means", "covariances"), **kwargs: Any) -> Any:
        """ArviZ summary of the relabelled posterior (Bayesian fits).

        Parameters
        ----------
        var_names : sequence of str, default=("weights", "means", "covariances")
        **kwargs
            Passed to :func:`arviz.summary` (``hdi_prob``, ``kind``, ...).

        Returns
        -------
        pandas.DataFrame
            Mean, sd, HDI, MCSE, bulk and tail ESS and R-hat per parameter, computed on
            the relabelled draws.
        """
        import arviz as az

        self._require_posterior("summary")
        return az.summary(self.posterior, var_names=list(var_names), **kwargs)

    # ------------------------------------------------------------------ conversion
    def to_dataset(self) -> xr.Dataset:
        """Parameters and metadata as an :class:`xarray.Dataset` (the saved form).

        Covariances are stored in their native shape for the covariance type.

        Examples
        --------
        >>> result = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
        ...                        covariances=np.ones(1), covariance_type="spherical")
        >>> MixtureResult.from_dataset(result.to_dataset()).covariance_type
        'spherical'
        """
        variables = {  # copies: changing the Dataset leaves the result as it is
            "weights": (("component",), self._weights.copy()),
            "means": (("component", "feature"), self._means.copy()),
            "covariances": (self._model.dims, self._covariances.copy()),
        }
        if self._history is not None:
            variables["history"] = (("iteration",), self._history.copy())
        if self._dof is not None:
            variables["dof"] = (("component",), self._dof.copy())
        if self.noise_weight is not None:
            box = self.noise_box
            variables["noise_centre"] = (("feature",), box.centre.copy())
            variables["noise_axes"] = (("feature", "feature_bis"), box.axes.copy())
            variables["noise_half_widths"] = (("feature",), box.half_widths.copy())
        if self.conjugate_prior is not None:
            scale = np.array(self.conjugate_prior.scale, dtype=np.float64)
            variables["prior_mean"] = (
                ("feature",),
                np.array(self.conjugate_prior.mean, dtype=np.float64),
            )
            variables["prior_scale"] = (("feature", "feature_bis")[: scale.ndim], scale)
        attrs = {
            "covariance_type": self.covariance_type,
            "method": self.method,
            "family": self.family,
            "estimate_dof": int(self.estimate_dof),
            "missing": self.missing,
            "feature_names_given": int(self._has_names),
            "degenerate": json.dumps(self.degenerate),
        }
        if self.converged is not None:
            attrs["converged"] = int(self.converged)
        if self.log_likelihood_ is not None:
            attrs["log_likelihood"] = self.log_likelihood_
        if self.reg_covar is not None:
            attrs["reg_covar"] = self.reg_covar
        if self.noise_weight is not None:
            attrs["noise_weight"] = self.noise_weight
            attrs["noise_log_vinv"] = self.noise_box.log_vinv
        if self.conjugate_prior is not None:
            attrs["prior_shrinkage"] = float(self.conjugate_prior.shrinkage)
            attrs["prior_dof"] = float(self.conjugate_prior.dof)
        return xr.Dataset(variables, coords=self._coords(), attrs=attrs)

    @classmethod
    def from_dataset(cls, dataset: xr.Dataset, posterior: Any = None) -> MixtureResult:
        """Rebuild a result from :meth:`to_dataset`'s output.

        The attributes, dims, shapes and values are checked first (weights on the
        simplex, finite means, positive definite covariances), as :func:`load` checks a
        file; ``posterior`` is taken as it is.

        Raises
        ------
        ValueError
            Naming the attribute or variable that a result's Dataset cannot hold.
        """
        try:
            header = _file_schema.parse_header(dataset.attrs)
            layout = {_file_schema.PARAMETER_GROUP: _file_schema.describe(dataset)}
            _file_schema.check_layout(layout, header, complete=False)
            _file_schema.check_values(dataset, {}, header.covariance_type, family=header.family)
        except _file_schema.Problem as problem:
            raise ValueError(f"The Dataset is not a result's (to_dataset): {problem}.") from None
        return cls(
            weights=dataset["weights"].values,
            means=dataset["means"].values,
            covariances=dataset["covariances"].values,
            covariance_type=header.covariance_type,
            feature_names=[str(name) for name in dataset["feature"].values]
            if header.feature_names_given
            else None,
            history=dataset["history"].values if "history" in dataset else None,
            log_likelihood_=header.log_likelihood,
            converged=header.converged,
            degenerate=header.degenerate,
            reg_covar=header.reg_covar,
            method=header.method,
            posterior=posterior,
            family=header.family,
            dof=dataset["dof"].values if "dof" in dataset else None,
            estimate_dof=header.estimate_dof,
            missing=header.missing,
            noise_weight=header.noise_weight,
            noise_box=None
            if header.noise_weight is None
            else NoiseBox(
                dataset["noise_centre"].values,
                dataset["noise_axes"].values,
                dataset["noise_half_widths"].values,
                header.noise_log_vinv,
            ),
            conjugate_prior=None
            if header.prior_dof is None
            else ResolvedPrior(
                header.prior_shrinkage,
                dataset["prior_mean"].values.copy(),
                header.prior_dof,
                _prior_scale(dataset["prior_scale"].values),
            ),
        )

    def save(self, path: str | os.PathLike, *, log_likelihood: str = "keep") -> None:
        """Write the result to a netCDF file (never pickle); see :func:`bayesgmm.save`."""
        save(self, path, log_likelihood=log_likelihood)

    def restore_log_likelihood(self) -> None:
        """Recompute the pointwise log-likelihood group from the posterior and the data.

        For a Bayesian result saved with ``log_likelihood="drop"``: the data are in its
        ``observed_data`` group, so ``az.loo`` and ``az.waic`` work again afterwards.
        """
        posterior = self._require_posterior("restore_log_likelihood")
        del posterior  # only checks there is one
        idata = self.posterior
        if "observed_data" not in idata.groups():
            raise ValueError(
                "This posterior has no observed_data group, so the data behind it are not "
                "known: add them with result.posterior.add_groups(log_likelihood=..."
                "result.log_likelihood_draws(X)...)."
            )
        name = next(iter(idata.observed_data.data_vars))
        X = idata.observed_data[name].transpose("observation", ...).values
        values = self.log_likelihood_draws(X).rename(name).to_dataset()
        if "log_likelihood" in idata.groups():
            del idata.log_likelihood
        idata.add_groups(log_likelihood=values)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MixtureResult:
        """Read a result written by :meth:`save`; see :func:`bayesgmm.load`."""
        return load(path)

    def __repr__(self) -> str:
        lines = [
            f"MixtureResult(method={self.method!r}, covariance_type={self.covariance_type!r}, "
            f"n_components={self.n_components}, n_features={self.n_features})",
        ]
        if self.log_likelihood_ is not None:
            lines.append(f"  mean log-likelihood: {self.log_likelihood_:.6g}")
        header = "  component  weight  " + "  ".join(
            f"{name:>10.10}" for name in self.feature_names
        )
        lines.append(header + "   (means)")
        for k in range(self.n_components):
            values = "  ".join(f"{value:10.4g}" for value in self._means[k])
            lines.append(f"  {k:9d}  {self._weights[k]:6.3f}  {values}")
        if self.noise_weight is not None:
            vinv = self.noise_box.vinv
            lines.append(f"  {'noise':>9}  {self.noise_weight:6.3f}  (uniform, Vinv {vinv:.4g})")
        if self.conjugate_prior is not None:
            lines.append(
                f"  conjugate prior (MAP): shrinkage {self.conjugate_prior.shrinkage:.4g}, "
                f"dof {self.conjugate_prior.dof:.4g}"
            )
        if self.degenerate:
            lines.append("  degenerate: " + "; ".join(self.degenerate))
        return "\n".join(lines)


def _checked_ci_prob(ci_prob: Any) -> float:
    ci_prob = float(ci_prob)
    if not 0.0 < ci_prob < 1.0:
        raise ValueError(f"ci_prob must be in the open interval (0, 1); got {ci_prob}.")
    return ci_prob


def _compiled_draws(result: MixtureResult) -> tuple:
    """Every posterior draw as the compiled kernel takes it (cached per posterior).

    Returns log weights (S, K), means (S, K, D), lower inverse Cholesky factors of the
    covariances (S, K, D, D), their ``log|L|`` (S, K) and whether they are diagonal.
    """
    cached = getattr(result, "_kernel_draw_cache", None)
    if cached is not None and cached[0] is result.posterior:
        return cached[1]
    weights, means, covariances, _, _ = result._native_draws()
    n_draws = weights.shape[0]
    k, d = result.n_components, result.n_features
    full = np.broadcast_to(result._model.to_full(covariances, k, d), (n_draws, k, d, d))
    chol = np.linalg.cholesky(full)
    eye = np.broadcast_to(np.eye(d), chol.shape)
    inverses = np.ascontiguousarray(np.linalg.solve(chol, eye))  # lower, as L is
    log_dets = np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    means = np.ascontiguousarray(means)
    diagonal = result._model.layout.diagonal
    draws = (log_weights, means, inverses, log_dets, diagonal)
    result._kernel_draw_cache = (result.posterior, draws)
    return draws


def _kernel_log_likelihood(draws: tuple, X: np.ndarray) -> np.ndarray:
    """Row log-likelihoods of X under every draw, (S, N), by the compiled kernel.

    The draws are split among threads (the kernel releases the GIL); BLAS is not used.
    """
    from concurrent.futures import ThreadPoolExecutor

    log_weights, means, inverses, log_dets, diagonal = draws
    n_draws = log_weights.shape[0]
    zt = np.ascontiguousarray(X.T, dtype=np.float64)
    out = np.empty((n_draws, len(X)))
    workers = max(1, min(os.cpu_count() or 1, n_draws))

    def run(part: slice) -> None:
        log_likelihood_draws(
            zt, log_weights[part], means[part], inverses[part], log_dets[part], diagonal, out[part]
        )

    bounds = np.linspace(0, n_draws, workers + 1).astype(int)
    parts = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]
    with ThreadPoolExecutor(len(parts)) as pool:
        list(pool.map(run, parts))
    return out


#: How :func:`save` stores a Bayesian fit's pointwise log-likelihood.
LOG_LIKELIHOOD_STORAGE = ("keep", "float32", "drop")


def save(result: MixtureResult, path: str | os.PathLike, *, log_likelihood: str = "keep") -> None:
    """Write ``result`` to ``path`` as netCDF-4 (never pickle).

    Parameters
    ----------
    result : MixtureResult
    path : str or path-like
        Target file; replaced if it exists. The new file is written beside it under a
        temporary name and renamed over it once complete, so a save that fails or is
        interrupted leaves the previous file as it was.
    log_likelihood : {"keep", "float32", "drop"}, default="keep"
        A Bayesian fit's pointwise log-likelihood (chain x draw x observation: 8 bytes
        each, about 150 MB for 4000 draws of 5000 rows) is most of its file. "float32"
        stores it in half the space (log-densities to 7 digits, enough for LOO and
        WAIC); "drop" leaves it out, and
        :meth:`MixtureResult.restore_log_likelihood` recomputes it after loading, from
        the posterior and the data the file keeps.

    Raises
    ------
    ValueError
        When the result holds what a file cannot (NaN weights, a feature name that is
        not valid Unicode, an attribute netCDF cannot store); nothing is written.
    OSError
        When the folder cannot be written or the disk is full.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> result = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
    ...                        covariances=np.ones(1), covariance_type="spherical")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.nc"
    >>> save(result, path)
    >>> load(path).covariance_type
    'spherical'
    """
    if not isinstance(result, MixtureResult):
        raise TypeError(
            f"save expects a MixtureResult (an estimator's result_), got {type(result).__name__}."
        )
    check_option("save", "log_likelihood", log_likelihood, LOG_LIKELIHOOD_STORAGE)
    io.write(result.to_dataset(), _stored_posterior(result.posterior, log_likelihood), path)


def _stored_posterior(posterior: Any, log_likelihood: str) -> Any:
    """The InferenceData to write: its log-likelihood group kept, in float32, or left out."""
    if posterior is None or log_likelihood == "keep" or "log_likelihood" not in posterior.groups():
        return posterior
    stored = posterior.copy()  # the result in memory keeps its group as it was
    if log_likelihood == "drop":
        del stored.log_likelihood
    else:
        stored.log_likelihood = stored.log_likelihood.astype(np.float32)
    return stored


def load(path: str | os.PathLike) -> MixtureResult:
    """Read a result written by :func:`save`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    MixtureResult

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    ValueError
        Naming the field, when the file is not a result that this bayesgmm reads (the
        checks are listed in :mod:`bayesgmm.io`): data taken from other files, sizes
        the stored bytes cannot hold, values that do not make a mixture, ...
    """
    dataset, posterior = io.read(path)  # checks the file's layout and every value
    try:
        return MixtureResult.from_dataset(dataset, posterior=posterior)
    except (ValueError, KeyError, IndexError, TypeError, np.linalg.LinAlgError) as error:
        raise io.not_a_result(Path(path), f"its contents are inconsistent: {error}") from None


def _t_scales(rng: np.random.Generator, dof: np.ndarray) -> np.ndarray:
    """Student-t draws as scaled normals: ``z sqrt(nu / chi2_nu)`` has ``t_nu`` margins."""
    return np.sqrt(dof / rng.chisquare(dof))


def _tail_probability(ci_prob: float | None) -> float | None:
    """The lower tail ``(1 - ci_prob) / 2`` of an equal-tailed interval (None: no interval)."""
    return None if ci_prob is None else (1.0 - _checked_ci_prob(ci_prob)) / 2.0


def _checked_noise(weight: Any, box: Any, posterior: Any) -> tuple:
    """A noise component's weight in [0, 1] and its box, both or neither (EM fits only)."""
    if weight is None and box is None:
        return None, None
    if weight is None or not isinstance(box, NoiseBox):
        raise ValueError(
            "A noise component needs both noise_weight (a number in [0, 1]) and noise_box "
            f"(a bayesgmm.noise.NoiseBox); got noise_weight={weight!r}, noise_box={box!r}."
        )
    if posterior is not None:
        raise ValueError("A noise component is an EM fit's; a Bayesian result has none.")
    weight = float(weight)
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"noise_weight must be in [0, 1]; got {weight!r}.")
    return weight, box


def _checked_prior(prior: Any, n_features: int, posterior: Any) -> ResolvedPrior | None:
    """A MAP-EM fit's prior: a ResolvedPrior with one mean per feature (EM fits only)."""
    if prior is None:
        return None
    if not isinstance(prior, ResolvedPrior):
        raise ValueError(
            "conjugate_prior must be a bayesgmm.conjugate_prior.ResolvedPrior or None; got "
            f"{prior!r}."
        )
    if np.shape(prior.mean) != (n_features,):
        raise ValueError(
            f"conjugate_prior.mean must hold one value per feature ({n_features}); got shape "
            f"{np.shape(prior.mean)}."
        )
    if posterior is not None:
        raise ValueError(
            "A conjugate prior's MAP estimate is an EM fit's; a Bayesian result has none."
        )
    return prior


def _prior_scale(values: np.ndarray) -> np.ndarray | float:
    """A stored prior scale: a number (diagonal and spherical models) or a matrix."""
    values = np.array(values, dtype=np.float64)
    return float(values) if values.ndim == 0 else values


def _checked_family(family: str, dof: Any, n_components: int) -> Any:
    """The family object, with degrees of freedom exactly when it needs them."""
    from .family import FAMILIES

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}; got {family!r}.")
    chosen = FAMILIES[family]
    if chosen.scales:
        values = None if dof is None else np.asarray(dof, dtype=np.float64).reshape(-1)
        if values is None or values.shape != (n_components,) or not (values > 0).all():
            raise ValueError(
                f"family={family!r} needs dof: {n_components} positive degrees of freedom, "
                f"one per component; got {dof!r}."
            )
    elif dof is not None:
        raise ValueError(f"dof is for family='t' only; family={family!r} takes dof=None.")
    return chosen
