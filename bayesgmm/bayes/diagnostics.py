"""Sampler diagnostics after relabelling: divergences, bulk ESS and R-hat, with warnings.

They are computed on the relabelled draws (:func:`~bayesgmm.bayes.relabel.relabel`):
before it, a label switch between chains inflates R-hat and deflates ESS although
the sampler is fine. The warning carries the numbers and what to do about them.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..exceptions import SamplerWarning
from .model import DOF_NAME, PARAMETER_NAMES

__all__ = ["diagnose", "is_converged"]


def _divergences(idata: Any) -> tuple[int, str | None]:
    stats = idata.sample_stats
    n_divergent = int(stats["diverging"].sum()) if "diverging" in stats else 0
    n_total = int(stats.sizes["chain"] * stats.sizes["draw"])
    if not n_divergent:
        return 0, None
    return n_divergent, (
        f"{n_divergent} of {n_total} draws ({n_divergent / n_total:.1%}) diverged; raise "
        "target_accept (e.g. 0.95) or check the model"
    )


def _checked_names(idata: Any) -> list[str]:
    """The reported parameters: weights, means, covariances, and a t model's dof."""
    extra = [DOF_NAME] if DOF_NAME in idata.posterior else []
    return list(PARAMETER_NAMES) + extra


def _smallest_ess(idata: Any, ess_min: float) -> tuple[float, str | None]:
    import arviz as az

    names = _checked_names(idata)
    ess = az.ess(idata, var_names=names, method="bulk")
    smallest = float(min(float(ess[name].min()) for name in names))
    if not smallest < ess_min:
        return smallest, None
    return smallest, (
        f"the smallest bulk effective sample size is {smallest:.0f} < {ess_min:g}; "
        "draw more (draws, chains)"
    )


def _largest_rhat(idata: Any, rhat_max: float) -> tuple[float, str | None]:
    import arviz as az

    names = _checked_names(idata)
    rhat = az.rhat(idata, var_names=names)
    largest = float(max(float(rhat[name].max()) for name in names))
    if not largest > rhat_max:
        return largest, None
    return largest, (
        f"the largest R-hat is {largest:.3f} > {rhat_max:g}; chains have not mixed: draw "
        "more, or check the number of components"
    )


def diagnose(
    idata: Any,
    method: str,
    *,
    ess_min: float = 400,
    rhat_max: float = 1.01,
    relabelled: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Divergences, smallest bulk ESS and largest R-hat of a NUTS fit; warn if any fails.

    Parameters
    ----------
    idata : arviz.InferenceData
        Relabelled draws with ``sample_stats``.
    method : str
        Only "nuts" is diagnosed; other methods get no numbers and no problems.
    ess_min, rhat_max : float, default=400, 1.01
        Thresholds (R-hat only with more than one chain).
    relabelled : dict or None
        :func:`~bayesgmm.bayes.relabel.relabel`'s info, quoted in the warning.

    Returns
    -------
    dict
        ``problems`` (list of str), and for NUTS ``divergences``, ``ess_bulk_min``,
        ``rhat_max`` (with more than one chain).

    Warns
    -----
    SamplerWarning
        With every problem's numbers and advice.

    Examples
    --------
    >>> diagnose(None, "map")
    {'problems': []}
    """
    out: dict[str, Any] = {"problems": []}
    if method != "nuts":
        return out
    checks = [
        ("divergences", _divergences(idata)),
        ("ess_bulk_min", _smallest_ess(idata, ess_min)),
    ]
    if idata.posterior.sizes["chain"] > 1:
        checks.append(("rhat_max", _largest_rhat(idata, rhat_max)))
    for name, (value, problem) in checks:
        out[name] = value
        if problem is not None:
            out["problems"].append(problem)
    if out["problems"]:
        relabelled = relabelled or {}
        warnings.warn(
            "Sampler diagnostics after relabelling ("
            f"{relabelled.get('n_permuted', 0)} of {relabelled.get('n_draws', 0)} draws "
            "permuted): " + "; ".join(out["problems"]) + ".",
            SamplerWarning,
            stacklevel=3,
        )
    return out


def is_converged(method: str, diagnostics: dict[str, Any], info: dict[str, Any]) -> bool:
    """NUTS: no problem in ``diagnostics``; ADVI: its criterion held; MAP: True.

    Examples
    --------
    >>> is_converged("nuts", {"problems": ["1 of 10 draws diverged"]}, {})
    False
    >>> is_converged("advi", {"problems": []}, {"converged": True})
    True
    """
    if method == "nuts":
        return not diagnostics["problems"]
    if method in ("advi", "fullrank_advi"):
        return bool(info.get("converged"))
    return True
