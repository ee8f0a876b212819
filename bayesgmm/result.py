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

from . import gaussian, io
from .covariance import COVARIANCE_TYPES, get_covariance_model
from .data import check_int, check_random_state, check_X
from .kernels.draws import log_likelihood_draws

__all__ = ["MixtureResult", "save", "load"]

# Largest number of (draw, row, component) log-densities held at once.
_DRAW_BLOCK_ELEMENTS = 1 << 21


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
        Regularisation used, as a fraction of each feature's variance.
    method : str, default="em"
        How the fit was made ("em", "nuts", "advi", ...).
    posterior : arviz.InferenceData or None, default=None
        The relabelled posterior of a Bayesian fit.

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
        self._prec_chol = self._model.precision_cholesky(self._covariances, self._weights)

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
        """Free parameters: weights (K - 1), means (K D) and covariances."""
        k, d = self.n_components, self.n_features
        return (k - 1) + k * d + self._model.n_parameters(k, d)

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
            feature) and ``covariances`` (chain, draw, component, feature, feature_bis).

        Examples
        --------
        >>> result = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
        ...                        covariances=np.ones(1), covariance_type="spherical")
        >>> result.draws()["covariances"].shape
        (1, 1, 1, 2, 2)
        """
        weights, means, native, (chains, draws) = self._native_draws()
        k, d = self.n_components, self.n_features
        full = np.array(self._model.to_full(native, k, d))
        shape = (len(chains), len(draws))
        coords = {**self._coords(), "chain": chains, "draw": draws}
        return xr.Dataset(
            {
                "weights": (("chain", "draw", "component"), weights.reshape(*shape, k)),
                "means": (("chain", "draw", "component", "feature"), means.reshape(*shape, k, d)),
                "covariances": (
                    ("chain", "draw", "component", "feature", "feature_bis"),
                    full.reshape(*shape, k, d, d),
                ),
            },
            coords=coords,
        )

    def _native_draws(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
        """Weights (S, K), means (S, K, D), native covariances (S, ...), (chain, draw) coords."""
        if self.posterior is None:
            one = np.zeros(1, dtype=int)
            return self._weights[None], self._means[None], self._covariances[None], (one, one)
        post = self.posterior.posterior
        chains, draws = post["chain"].values, post["draw"].values
        n_draws = len(chains) * len(draws)
        weights = post["weights"].transpose("chain", "draw", "component").values
        means = post["means"].transpose("chain", "draw", "component", "feature").values
        native = post["covariances"].transpose("chain", "draw", ...).values
        return (
            weights.reshape(n_draws, -1),
            means.reshape(n_draws, *means.shape[2:]),
            native.reshape(n_draws, *native.shape[2:]),
            (chains, draws),
        )

    # ------------------------------------------------------------------ evaluation
    def _check(self, X: Any) -> tuple[np.ndarray, Any]:
        data = check_X(X, estimator="MixtureResult", n_features=self.n_features, allow_dask=False)
        if data.feature_names is not None and self._has_names:
            if list(data.feature_names) != self.feature_names:
                raise ValueError(
                    f"X has columns {list(data.feature_names)}, but the model was fitted on "
                    f"{self.feature_names}. Pass the same columns in the same order."
                )
        index = getattr(X, "index", None)  # a DataFrame's; a list's is a method
        return data.X, None if callable(index) else index

    def _weighted_log_prob(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            log_weights = np.log(self._weights)
        return self._model.log_density(X, self._means, self._prec_chol) + log_weights

    def _observation_coords(self, n: int, index: Any) -> dict[str, Any]:
        return {"observation": np.asarray(index) if index is not None else np.arange(n)}

    def log_prob(self, X: Any) -> xr.DataArray:
        """Log-density of the mixture at each row of X, dims ``(observation,)``.

        For a Bayesian fit this is the posterior predictive density: the mixture's
        density averaged over the posterior draws, ``log (1/S) sum_s p(x | theta_s)``.
        """
        X, index = self._check(X)
        if self.posterior is not None:
            log_prob = self._posterior_log_prob(X)
        else:
            log_prob, _ = gaussian.log_mixture_density(self._weighted_log_prob(X))
        return xr.DataArray(
            log_prob,
            dims=("observation",),
            coords=self._observation_coords(len(X), index),
            name="log_prob",
        )

    def responsibilities(self, X: Any, *, ci_prob: float = 0.94) -> Any:
        """Probability of each component for each row, dims ``(observation, component)``.

        Parameters
        ----------
        X : array-like of shape (N, D)
        ci_prob : float, default=0.94
            Bayesian fits only: probability mass of the equal-tailed credible
            interval reported per point and component.

        Returns
        -------
        xarray.DataArray or xarray.Dataset
            EM fit: a DataArray of responsibilities. Bayesian fit: a Dataset with
            ``mean`` (the posterior mean responsibility), ``lower`` and ``upper`` (the
            credible bounds over the posterior draws), computed in blocks of rows so
            that N x K x draws never sits in memory at once.
        """
        X, index = self._check(X)
        if self.posterior is not None:
            return self._posterior_responsibilities(X, index, ci_prob)
        _, log_resp = gaussian.log_mixture_density(self._weighted_log_prob(X))
        coords = self._observation_coords(len(X), index)
        coords["component"] = np.arange(self.n_components)
        return xr.DataArray(
            np.exp(log_resp),
            dims=("observation", "component"),
            coords=coords,
            name="responsibilities",
        )

    def _mean_responsibilities(self, X: Any) -> np.ndarray:
        """Responsibilities (N, K) as an array; Bayesian fits: their posterior means."""
        X, index = self._check(X)
        if self.posterior is not None:
            return self._posterior_responsibilities(X, index, None)["mean"].values
        return np.exp(gaussian.log_mixture_density(self._weighted_log_prob(X))[1])

    def predict(self, X: Any) -> xr.DataArray:
        """Most probable component of each row, dims ``(observation,)``.

        For a Bayesian fit: the component of highest posterior mean responsibility.
        """
        X, index = self._check(X)
        if self.posterior is not None:
            labels = self._posterior_responsibilities(X, index, None)["mean"].values.argmax(1)
        else:
            labels = self._weighted_log_prob(X).argmax(axis=1)
        return xr.DataArray(
            labels,
            dims=("observation",),
            coords=self._observation_coords(len(X), index),
            name="label",
        )

    def _total_log_likelihood(self, X: np.ndarray) -> float:
        return float(gaussian.log_mixture_density(self._weighted_log_prob(X))[0].sum())

    def log_likelihood(self, X: Any) -> float:
        """Total log-likelihood of X at the fitted parameters, ``sum_n log p(x_n)``.

        For a Bayesian fit this is the plug-in value at the posterior mean (the value
        behind its BIC and AIC); :meth:`log_prob` gives the posterior predictive density.

        See Also
        --------
        bic, aic, log_prob
        """
        X, _ = self._check(X)
        return self._total_log_likelihood(X)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion ``-2 log L + p log N`` (lower is better).

        See Also
        --------
        aic, icl
        """
        X, _ = self._check(X)
        return -2 * self._total_log_likelihood(X) + self.n_parameters * np.log(len(X))

    def aic(self, X: Any) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` (lower is better).

        See Also
        --------
        bic, icl
        """
        X, _ = self._check(X)
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
        X, _ = self._check(X)
        _, log_resp = gaussian.log_mixture_density(self._weighted_log_prob(X))
        bic = -2 * self._total_log_likelihood(X) + self.n_parameters * np.log(len(X))
        return float(bic - 2 * log_resp.max(axis=1).sum())

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
            as scikit-learn's ``sample`` returns them).

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
        counts = rng.multinomial(n_samples, self._weights / self._weights.sum())
        full = self._model.to_full(self._covariances, self.n_components, self.n_features)
        chol = np.linalg.cholesky(full)
        draws, labels = [], []
        for k, count in enumerate(counts):
            noise = rng.standard_normal((count, self.n_features))
            draws.append(self._means[k] + noise @ chol[k].T)
            labels.append(np.full(count, k))
        X = np.concatenate(draws)
        y = np.concatenate(labels)
        return (X, y) if return_labels else X

    # ------------------------------------------------------------------ posterior draws
    def _posterior_draws(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weights (S, K), means (S, K, D) and precision factors of every draw."""
        cached = getattr(self, "_draw_cache", None)
        if cached is not None and cached[0] is self.posterior:
            return cached[1]
        weights, means, covariances, _ = self._native_draws()
        prec_chol = self._model.precision_cholesky(covariances, weights)
        draws = (weights, means, prec_chol)
        self._draw_cache = (self.posterior, draws)
        return draws

    def _draw_blocks(self, X: np.ndarray) -> Any:
        """Yield (rows, weighted log-densities (S, B, K)) over blocks of rows."""
        weights, means, prec_chol = self._posterior_draws()
        n_draws, n_components = weights.shape
        block = max(1, _DRAW_BLOCK_ELEMENTS // (n_draws * n_components))
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)[:, None, :]
        for start in range(0, len(X), block):
            rows = slice(start, min(start + block, len(X)))
            yield rows, self._model.log_density(X[rows], means, prec_chol) + log_weights

    def _posterior_log_prob(self, X: np.ndarray, max_draws: int | None = None) -> np.ndarray:
        """log of the posterior predictive density of each row: log mean_s p(x | θ_s).

        Streams over blocks of rows, so no (draws, rows) array of the whole data is held.
        ``max_draws`` thins the draws evenly to at most that many (a cheaper estimate).
        """
        out = np.empty(len(X))
        draws = _compiled_draws(self)
        if max_draws is not None and draws[0].shape[0] > max_draws:
            stride = -(-draws[0].shape[0] // max_draws)
            draws = tuple(part[::stride] for part in draws[:4]) + (draws[4],)
        n_draws = draws[0].shape[0]
        block = max(1, _DRAW_BLOCK_ELEMENTS // n_draws)
        for start in range(0, len(X), block):
            rows = slice(start, min(start + block, len(X)))
            per_draw = _kernel_log_likelihood(draws, X[rows])  # (S, B)
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
        n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
        out = _kernel_log_likelihood(_compiled_draws(self), X)
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
        draws = _compiled_draws(self)
        out = np.empty((3, len(X)))
        block = max(1, _DRAW_BLOCK_ELEMENTS // draws[0].shape[0])
        for start in range(0, len(X), block):
            rows = slice(start, min(start + block, len(X)))
            density = np.exp(_kernel_log_likelihood(draws, X[rows]))  # (S, B)
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
        weights, means, prec_chol = self._posterior_draws()
        stride = 1 if max_draws is None else max(1, -(-len(weights) // int(max_draws)))
        chosen = np.arange(0, len(weights), stride)
        n, k = len(X), self.n_components
        total = np.zeros((n, n))
        block = max(1, _DRAW_BLOCK_ELEMENTS // (n * k))
        for start in range(0, len(chosen), block):
            part = chosen[start : start + block]
            with np.errstate(divide="ignore"):
                weighted = self._model.log_density(X, means[part], prec_chol[part])
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

    def _posterior_responsibilities(self, X: np.ndarray, index: Any, ci_prob: Any) -> xr.Dataset:
        n_components = self.n_components
        mean = np.empty((len(X), n_components))
        bounds = None
        if ci_prob is not None:
            ci_prob = float(ci_prob)
            if not 0.0 < ci_prob < 1.0:
                raise ValueError(f"ci_prob must be in the open interval (0, 1); got {ci_prob}.")
            tail = (1.0 - ci_prob) / 2.0
            bounds = np.empty((2, len(X), n_components))
        for rows, weighted in self._draw_blocks(X):
            resp = np.exp(gaussian.log_mixture_density(weighted)[1])  # (S, B, K)
            mean[rows] = resp.mean(axis=0)
            if bounds is not None:
                bounds[:, rows] = np.quantile(resp, [tail, 1.0 - tail], axis=0)
        coords = self._observation_coords(len(X), index)
        coords["component"] = np.arange(n_components)
        dims = ("observation", "component")
        variables = {"mean": (dims, mean)}
        attrs = {"description": "posterior mean responsibilities"}
        if bounds is not None:
            variables["lower"] = (dims, bounds[0])
            variables["upper"] = (dims, bounds[1])
            attrs = {
                "ci_prob": ci_prob,
                "description": f"posterior mean and {ci_prob:.0%} equal-tailed credible "
                "interval of each responsibility over the posterior draws",
            }
        return xr.Dataset(variables, coords=coords, attrs=attrs)

    def _posterior_sample(self, n_samples: int, rng: np.random.Generator) -> tuple:
        weights, means, covariances, _ = self._native_draws()
        full = self._model.to_full(covariances, self.n_components, self.n_features)
        draw = rng.integers(weights.shape[0], size=n_samples)
        cumulative = np.cumsum(weights[draw], axis=1)
        uniform = rng.random(n_samples)[:, None] * cumulative[:, -1:]
        labels = np.minimum((cumulative < uniform).sum(axis=1), self.n_components - 1)
        chol = np.linalg.cholesky(full[draw, labels])  # (n, D, D)
        noise = rng.standard_normal((n_samples, self.n_features))
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
        """
        native_dims = self._model.dims
        variables = {
            "weights": (("component",), self._weights),
            "means": (("component", "feature"), self._means),
            "covariances": (native_dims, self._covariances),
        }
        if self._history is not None:
            variables["history"] = (("iteration",), self._history)
        attrs = {
            "covariance_type": self.covariance_type,
            "method": self.method,
            "feature_names_given": int(self._has_names),
            "degenerate": json.dumps(self.degenerate),
        }
        if self.converged is not None:
            attrs["converged"] = int(self.converged)
        if self.log_likelihood_ is not None:
            attrs["log_likelihood"] = self.log_likelihood_
        if self.reg_covar is not None:
            attrs["reg_covar"] = self.reg_covar
        return xr.Dataset(variables, coords=self._coords(), attrs=attrs)

    @classmethod
    def from_dataset(cls, dataset: xr.Dataset, posterior: Any = None) -> MixtureResult:
        """Rebuild a result from :meth:`to_dataset`'s output."""
        attrs = dataset.attrs
        names = [str(name) for name in dataset["feature"].values]
        return cls(
            weights=dataset["weights"].values,
            means=dataset["means"].values,
            covariances=dataset["covariances"].values,
            covariance_type=str(attrs["covariance_type"]),
            feature_names=names if int(attrs.get("feature_names_given", 1)) else None,
            history=dataset["history"].values if "history" in dataset else None,
            log_likelihood_=attrs.get("log_likelihood"),
            converged=bool(attrs["converged"]) if "converged" in attrs else None,
            degenerate=json.loads(attrs.get("degenerate", "[]")),
            reg_covar=attrs.get("reg_covar"),
            method=str(attrs.get("method", "em")),
            posterior=posterior,
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the result to a netCDF file (never pickle); see :func:`bayesgmm.save`."""
        save(self, path)

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
    weights, means, covariances, _ = result._native_draws()
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


def save(result: MixtureResult, path: str | os.PathLike) -> None:
    """Write ``result`` to ``path`` as netCDF-4 (never pickle).

    Parameters
    ----------
    result : MixtureResult
    path : str or path-like
        Target file; overwritten if it exists.

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
    io.write(result.to_dataset(), result.posterior, path)


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
        When the file is not a bayesgmm result, has another format version, or holds
        values that do not make a mixture.
    """
    dataset, posterior = io.read(path)
    try:
        return MixtureResult.from_dataset(dataset, posterior=posterior)
    except (ValueError, KeyError, IndexError, TypeError, np.linalg.LinAlgError) as error:
        raise io.not_a_result(Path(path), f"its contents are inconsistent: {error}") from None
