"""The posterior mode by PyMC's optimiser (``pm.find_MAP``), reported as one draw."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..density import PosteriorDensity
from ..model import reported_names
from .base import RunSettings, model_frame, posterior_idata, seed
from .rows import RowSource

__all__ = ["run"]


def run(
    model: Any,
    starts: list[dict[str, np.ndarray]],
    settings: RunSettings,
    *,
    rng: np.random.Generator,
    density: PosteriorDensity | None = None,
    rows: RowSource | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The mode of the posterior, searched from the first start (``density`` and ``rows`` unused).

    Returns
    -------
    idata : arviz.InferenceData
        One draw (chain 0, draw 0) of ``weights``, ``means``, ``covariances``.
    info : dict
        Empty.
    """
    import pymc as pm

    point = pm.find_MAP(start=starts[0], progressbar=settings.progressbar, seed=seed(rng))
    draws = {name: np.asarray(point[name])[None, None] for name in reported_names(model)}
    return posterior_idata(draws, *model_frame(model)), {}
