"""NUTS by numpyro through PyMC's JAX backend: on a GPU when JAX sees one."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..density import PosteriorDensity
from .base import RunSettings
from .pymc import sample
from .rows import RowSource

__all__ = ["run"]


def _chain_method(chains: int) -> str:
    """All chains at once on an accelerator; one per device on CPUs if there are enough
    (``XLA_FLAGS=--xla_force_host_platform_device_count=4``), else one after another."""
    import jax

    if jax.default_backend() != "cpu":
        return "vectorized"
    return "parallel" if jax.local_device_count() >= chains else "sequential"


def run(
    model: Any,
    starts: list[dict[str, np.ndarray]],
    settings: RunSettings,
    *,
    rng: np.random.Generator,
    density: PosteriorDensity | None = None,
    rows: RowSource | None = None,
) -> tuple[Any, dict[str, Any]]:
    """NUTS by numpyro from one start per chain (``density`` and ``rows`` are not used).

    The chains start at the EM solution, jittered by the estimator; PyMC's default
    jitter (uniform +-1 unconstrained) would scatter them across modes, so it is off.

    Returns
    -------
    idata : arviz.InferenceData
        Raw draws of ``weights``, ``means``, ``covariances``; numpyro's ``sample_stats``.
    info : dict
        Empty.
    """
    idata = sample(
        model,
        settings,
        rng,
        nuts_sampler="numpyro",
        initvals=starts,
        nuts_sampler_kwargs={"chain_method": _chain_method(settings.chains), "jitter": False},
    )
    return idata, {}
