"""What every sampler shares: its settings, the chains' starts, seeds and the BLAS limit.

Every method starts from the EM solution (:func:`start_values`): chains that start
inside one labelling rarely switch labels, and the sampler spends its tuning on the
posterior instead of on finding it. While a sampler runs, BLAS is held to one thread
(:func:`limit_blas_threads`): a mixture's log-density is many tiny matrix products,
which multi-threaded OpenBLAS runs 10-20 times slower.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..density import PosteriorDensity
from ..model import PARAMETER_NAMES, Standardisation, data_units

__all__ = [
    "RunSettings",
    "chain_starts",
    "density_parameters",
    "limit_blas_threads",
    "posterior_idata",
    "seed",
    "start_values",
]


@dataclass(frozen=True)
class RunSettings:
    """What the estimator asks of a sampler; each sampler reads the fields it uses.

    Parameters
    ----------
    method : {"nuts", "advi", "fullrank_advi", "map"}, default="nuts"
    draws, tune, chains : int, default=1000, 1000, 4
        Draws kept and tuning steps per chain; chains. The variational methods draw
        ``draws * chains`` values from the approximation, as one chain.
    cores : int, default=1
        Chains run in parallel.
    target_accept : float, default=0.8
    progressbar : bool, default=False
    advi_max_iter, advi_tol, advi_window, advi_learning_rate, batch_size
        The variational fit's settings (:func:`~bayesgmm.bayes.samplers.advi.fit_variational`).

    Examples
    --------
    >>> RunSettings(draws=10).draws
    10
    """

    method: str = "nuts"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int = 1
    target_accept: float = 0.8
    progressbar: bool = False
    advi_max_iter: int = 50_000
    advi_tol: float = 0.05
    advi_window: int = 50
    advi_learning_rate: float = 0.2
    batch_size: Any = None


@contextlib.contextmanager
def limit_blas_threads(n_threads: int = 1) -> Iterator[None]:
    """Hold BLAS (and OpenMP) to ``n_threads`` inside the block, here and in workers.

    threadpoolctl limits this process; the environment variables reach worker
    processes that PyMC starts for parallel chains. Both are restored afterwards.

    Examples
    --------
    >>> with limit_blas_threads(1):
    ...     pass
    """
    from threadpoolctl import threadpool_limits

    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ[name] = str(n_threads)
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def seed(rng: np.random.Generator) -> int:
    """A seed for a library that takes an int, drawn from ``rng``.

    Examples
    --------
    >>> seed(np.random.default_rng(0)) == seed(np.random.default_rng(0))
    True
    """
    return int(rng.integers(2**31 - 1))


def _packed_lower(matrix: np.ndarray) -> np.ndarray:
    rows, cols = np.tril_indices(matrix.shape[-1])
    return np.linalg.cholesky(matrix)[..., rows, cols]


def start_values(
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
    standard: Standardisation,
) -> dict[str, np.ndarray]:
    """Initial values of the model's free variables from parameters in data units.

    Parameters
    ----------
    weights, means, covariances : ndarray
        A fitted mixture (for example the EM solution), covariances shaped per type.
    covariance_type : {"full", "tied", "diag", "spherical"}
    standard : Standardisation
        The model's standardisation.

    Returns
    -------
    dict
        Untransformed values keyed by free-variable name, as ``pm.sample``'s
        ``initvals`` takes them.

    Examples
    --------
    >>> s = Standardisation(center=np.zeros(1), scale=np.full(1, 2.0))
    >>> start_values(np.array([1.0]), np.ones((1, 1)), np.full((1, 1), 4.0), "diag", s)["z_sds"]
    array([[1.]])
    """
    scale = standard.scale
    weights = np.clip(np.asarray(weights, dtype=np.float64), 1e-6, None)
    start = {
        "weights": weights / weights.sum(),
        "z_means": (np.asarray(means) - standard.center) / scale,
    }
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        z_cov = covariances / scale[None, :, None] / scale[None, None, :]
        for k, packed in enumerate(_packed_lower(z_cov)):
            start[f"z_chol_{k}"] = packed
    elif covariance_type == "tied":
        start["z_chol"] = _packed_lower(covariances / scale[:, None] / scale[None, :])
    elif covariance_type == "diag":
        start["z_sds"] = np.sqrt(covariances) / scale[None, :]
    else:
        start["z_sds"] = np.sqrt(covariances) / scale[0]
    return start


def _jitter(start: dict[str, np.ndarray], rng: np.random.Generator, size: float) -> dict:
    """A chain's start: means moved by ``size`` standardised units, weights and scales
    multiplied by ``exp(size * noise)``; correlations kept."""
    if size == 0:
        return {name: value.copy() for name, value in start.items()}
    out = {}
    for name, value in start.items():
        if name == "z_means":
            out[name] = value + size * rng.standard_normal(value.shape)
        elif name == "weights" or name == "z_sds":
            moved = value * np.exp(size * rng.standard_normal(value.shape))
            out[name] = moved / moved.sum() if name == "weights" else moved
        else:  # packed Cholesky factors of correlated scales: kept as they are
            out[name] = value.copy()
    return out


def chain_starts(
    start: dict[str, np.ndarray], chains: int, jitter: float, rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """One start per chain: ``start`` itself, then jittered copies of it.

    Parameters
    ----------
    start : dict
        Untransformed values (:func:`start_values`).
    chains : int
    jitter : float
        Spread: means move by ``jitter`` standardised units, weights and scales by a
        factor ``exp(jitter * noise)``; Cholesky factors of correlated scales stay.
    rng : numpy Generator

    Returns
    -------
    list of dict

    Examples
    --------
    >>> starts = chain_starts({"z_means": np.zeros(2)}, 3, 0.1, np.random.default_rng(0))
    >>> len(starts), starts[0]["z_means"].tolist()
    (3, [0.0, 0.0])
    """
    return [start] + [_jitter(start, rng, jitter) for _ in range(chains - 1)]


def posterior_idata(model: Any, draws: dict[str, np.ndarray]) -> Any:
    """An InferenceData of the model's parameters from arrays with (chain, draw) leading.

    Examples
    --------
    >>> from bayesgmm.bayes import build_model
    >>> model = build_model(np.array([[0.0], [1.0]]), 1, "spherical")
    >>> one = {"weights": np.ones((1, 1, 1)), "means": np.zeros((1, 1, 1, 1)),
    ...        "covariances": np.ones((1, 1, 1))}
    >>> posterior_idata(model, one).posterior["means"].dims
    ('chain', 'draw', 'component', 'feature')
    """
    import arviz as az

    dims = {name: list(model.named_vars_to_dims.get(name, ())) for name in PARAMETER_NAMES}
    coords = {name: np.asarray(values) for name, values in model.coords.items()}
    posterior = {name: np.asarray(draws[name]) for name in PARAMETER_NAMES}
    return az.from_dict(posterior=posterior, coords=coords, dims=dims)


def density_parameters(model: Any, density: PosteriorDensity) -> Any:
    """``theta -> {weights, means, covariances}`` in data units, for ``density``'s
    unconstrained vector: what the model's deterministics report at that point.

    Examples
    --------
    >>> from bayesgmm.bayes import build_model
    >>> from bayesgmm.bayes.priors import Priors
    >>> model = build_model(np.array([[0.0], [2.0]]), 1, "spherical")
    >>> density = PosteriorDensity(model["z"].get_value(), 1, "spherical", Priors())
    >>> density_parameters(model, density)(np.zeros(density.n_dim))["covariances"]
    array([1.])
    """
    center = np.asarray(model["center"].get_value(), dtype=np.float64)
    scale = np.asarray(model["scale"].get_value(), dtype=np.float64)

    def parameters(theta: np.ndarray, **_: Any) -> dict[str, np.ndarray]:
        values = density.expand(theta)
        return {
            "weights": values["weights"],
            "means": center + scale * values["z_means"],
            "covariances": data_units(density.covariance_type, values["z_covariances"], scale),
        }

    return parameters
