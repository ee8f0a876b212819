"""A stand-in for ``bayesgmm.bayes.run_inference`` with controllable faults.

It returns draws shaped exactly as the real sampler's (raw, data units, the model's
dims) without compiling or sampling, so the rest of ``BayesianGaussianMixture.fit``
(relabelling, diagnostics, log-likelihood, result) runs for real in a fraction of a
second. Faults are dialled in: divergent transitions, a chain stuck away from the
others (R-hat), strongly autocorrelated draws (low ESS), or an exception raised
where the sampler would run (an interrupt, a failed initialisation).
"""

from __future__ import annotations

from typing import Any

import arviz as az
import numpy as np

from bayesgmm import GaussianMixture
from bayesgmm.bayes.model import PARAMETER_NAMES
from bayesgmm.covariance import get_covariance_model


def em_parameters(X: np.ndarray, n_components: int, covariance_type: str) -> dict[str, Any]:
    """The centre of the fake posterior: an EM fit of the same data."""
    em = GaussianMixture(n_components, covariance_type=covariance_type, random_state=0).fit(X)
    return {
        "weights": em.weights_,
        "means": em.means_,
        "covariances": em.covariances_,
        "covariance_type": covariance_type,
    }


def fake_run_inference(
    center: dict[str, np.ndarray],
    *,
    spread: float = 0.01,
    n_divergent: int = 0,
    stuck_chain_shift: float = 0.0,
    autocorrelation: float = 0.0,
    raises: BaseException | None = None,
):
    """Build a ``run_inference`` replacement.

    Parameters
    ----------
    center : dict
        ``weights``, ``means``, ``covariances`` (native shapes) the draws scatter around,
        and their ``covariance_type``.
    spread : float
        Relative scatter of the draws.
    n_divergent : int
        Draws of chain 0 flagged as divergent in ``sample_stats``.
    stuck_chain_shift : float
        Shift of the last chain's means, in units of the draws' standard deviation.
    autocorrelation : float
        AR(1) coefficient of the draws along ``draw`` (0: independent).
    raises : exception or None
        Raised instead of sampling.
    """
    calls: list[dict[str, Any]] = []

    def run_inference(model, *, method, starts, draws, chains, rng, **options):
        calls.append({"method": method, "draws": draws, "chains": chains, **options})
        if raises is not None:
            raise raises
        shape = (chains, draws)

        def noise(extra: tuple[int, ...]) -> np.ndarray:
            values = rng.standard_normal(shape + extra)
            for step in range(1, draws):
                values[:, step] = (
                    autocorrelation * values[:, step - 1]
                    + np.sqrt(1 - autocorrelation**2) * values[:, step]
                )
            return values

        weights = center["weights"] * np.exp(spread * noise(center["weights"].shape))
        weights /= weights.sum(axis=-1, keepdims=True)
        scale = np.sqrt(np.abs(np.diagonal(_full(center), axis1=-2, axis2=-1)))
        means = center["means"] + spread * scale * noise(center["means"].shape)
        means[-1] += stuck_chain_shift * spread * scale
        covariances = center["covariances"] * np.exp(
            spread * noise((1,) * center["covariances"].ndim)
        )
        if model is not None:
            frame_dims, frame_coords = model.named_vars_to_dims, model.coords
        else:  # nutpie and ADVI run on the compiled density alone, which has the frame
            frame_dims, frame_coords = options["density"].dims, options["density"].coords
        dims = {name: list(frame_dims.get(name, ())) for name in PARAMETER_NAMES}
        coords = {name: np.asarray(values) for name, values in frame_coords.items()}
        diverging = np.zeros(shape, dtype=bool)
        diverging[0, :n_divergent] = True
        idata = az.from_dict(
            posterior={"weights": weights, "means": means, "covariances": covariances},
            sample_stats={"diverging": diverging},
            coords=coords,
            dims=dims,
        )
        return idata, {"method": method, "sampler": "fake", "seconds": 0.0}

    run_inference.calls = calls
    return run_inference


def _full(center: dict[str, Any]) -> np.ndarray:
    n_components, n_features = center["means"].shape
    kind = get_covariance_model(center["covariance_type"])
    return kind.to_full(center["covariances"], n_components, n_features)
