r"""Label switching: relabel every posterior draw so component k means one thing.

A mixture's likelihood is invariant under permutations of its components, so
chains (and draws within a chain) may name the same component differently; R-hat,
ESS and posterior means of component parameters mean nothing until the draws are
relabelled. :func:`relabel` matches every draw's components to a reference by the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) with the
Kullback-Leibler divergence as cost,

.. math::

    c_{jk} = \mathrm{KL}\bigl(\mathcal N(\mu_j, \Sigma_j) \,\|\, \mathcal N(\bar\mu_k,
    \bar\Sigma_k)\bigr) + \text{const}_j
    = \tfrac12\bigl[\operatorname{tr}(\bar\Sigma_k^{-1}\Sigma_j)
    + (\bar\mu_k - \mu_j)^\top \bar\Sigma_k^{-1} (\bar\mu_k - \mu_j)
    + \log|\bar\Sigma_k|\bigr],

first against a given reference (the EM solution), then against the posterior mean
of the relabelled draws, until no draw's permutation changes (Stephens 2000's
fixed-point scheme with a KL cost). KL is invariant under affine maps of the data,
so the matching is the same in data units and on the model's standardised scale.
Finally the components are numbered as the given reference numbers them: the posterior
mean's components are matched to the reference's once more, and every draw permuted
alike, so that the updates of the reference cannot renumber the result.

The permutation of every draw is kept in ``sample_stats["label_permutation"]``
(``perm[c, s, k]`` is the raw component that became component k), so
:func:`raw_posterior` recovers the sampler's output exactly.

References
----------
Stephens, M. (2000). Dealing with label switching in mixture models. JRSS B 62(4).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..covariance import get_covariance_model

__all__ = ["relabel", "raw_posterior", "kl_cost", "PERMUTATION_NAME"]

PERMUTATION_NAME = "label_permutation"


def kl_cost(
    means: np.ndarray,
    covariances: np.ndarray,
    ref_means: np.ndarray,
    ref_covariances: np.ndarray,
) -> np.ndarray:
    """Cost of matching each draw's component j to reference component k.

    Parameters
    ----------
    means : ndarray of shape (..., K, D)
    covariances : ndarray of shape (..., K, D, D)
    ref_means : ndarray of shape (K, D)
    ref_covariances : ndarray of shape (K, D, D)

    Returns
    -------
    ndarray of shape (..., K, K)
        ``cost[..., j, k]``: twice the KL divergence of draw component j from reference
        component k, less terms that depend on j only (they do not change the match).

    Examples
    --------
    >>> eye = np.eye(1)[None].repeat(2, 0)
    >>> kl_cost(np.array([[0.0], [5.0]]), eye, np.array([[5.0], [0.0]]), eye)
    array([[26.,  1.],
           [ 1., 26.]])
    """
    chol = np.linalg.cholesky(ref_covariances)  # (K, D, D)
    identity = np.broadcast_to(np.eye(chol.shape[-1]), chol.shape)
    inverse_chol = np.linalg.solve(chol, identity)  # L^{-1}
    precision = np.swapaxes(inverse_chol, -1, -2) @ inverse_chol
    log_det = 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)
    trace = np.einsum("kde,...jed->...jk", precision, covariances)
    diff = ref_means[None, :, :] - means[..., :, None, :]  # (..., j, k, D)
    maha = np.einsum("...jkd,kde,...jke->...jk", diff, precision, diff)
    return trace + maha + log_det


def _assign(cost: np.ndarray) -> np.ndarray:
    """perm[..., k] = the draw component matched to reference component k."""
    flat = cost.reshape(-1, *cost.shape[-2:])
    perm = np.empty((flat.shape[0], flat.shape[-1]), dtype=np.int64)
    for index, matrix in enumerate(flat):
        rows, cols = linear_sum_assignment(matrix.T)  # rows: reference k, cols: draw j
        perm[index, rows] = cols
    return perm.reshape(*cost.shape[:-2], cost.shape[-1])


def _permute(values: np.ndarray, perm: np.ndarray, axis: int) -> np.ndarray:
    """Reorder ``values`` (chain, draw, ...) along its component ``axis`` by ``perm``."""
    shape = perm.shape[:2] + (1,) * (axis - 2) + perm.shape[2:] + (1,) * (values.ndim - axis - 1)
    return np.take_along_axis(values, perm.reshape(shape), axis=axis)


def _component_families(posterior: Any, n_components: int) -> dict[str, list[str]]:
    """Variables that hold one component each, named ``{stem}_{k}`` for k = 0..K-1
    with equal dims (the model's ``z_chol_k``), by stem."""
    families: dict[str, list[str]] = {}
    for stem in {str(name).rsplit("_", 1)[0] for name in posterior.data_vars if "_" in str(name)}:
        names = [f"{stem}_{k}" for k in range(n_components)]
        if n_components > 1 and all(name in posterior.data_vars for name in names):
            if len({posterior[name].shape for name in names}) == 1:
                families[stem] = names
    return families


def _apply(posterior: Any, perm: np.ndarray) -> Any:
    import xarray as xr

    variables = {}
    for names in _component_families(posterior, perm.shape[-1]).values():
        stacked = np.stack(
            [posterior[name].transpose("chain", "draw", ...).values for name in names], axis=2
        )
        permuted = _permute(stacked, perm, 2)
        for k, name in enumerate(names):
            variable = posterior[name].transpose("chain", "draw", ...)
            variables[name] = variable.copy(data=permuted[:, :, k])
    for name, variable in posterior.data_vars.items():
        if name in variables:
            continue
        if "component" in variable.dims:
            variable = variable.transpose("chain", "draw", ...)
            axis = variable.dims.index("component")
            variables[name] = xr.DataArray(
                _permute(variable.values, perm, axis),
                dims=variable.dims,
                coords=variable.coords,
                attrs=variable.attrs,
            )
        else:
            variables[name] = variable
    return xr.Dataset(variables, coords=posterior.coords, attrs=dict(posterior.attrs))


def relabel(
    idata: Any,
    covariance_type: str,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    max_iter: int = 20,
) -> tuple[Any, dict[str, Any]]:
    """Relabel the draws of ``idata`` so that each component keeps one meaning.

    Parameters
    ----------
    idata : arviz.InferenceData
        Raw draws with ``weights``, ``means`` and ``covariances`` (data units; dims
        ``chain, draw, component, ...``).
    covariance_type : {"full", "tied", "diag", "spherical"}
    reference : tuple (means (K, D), covariances shaped per type) or None
        Start of the iteration, typically the EM solution; None starts from the first
        chain's first draw.
    max_iter : int, default=20
        Most reference updates.

    Returns
    -------
    idata : arviz.InferenceData
        A new InferenceData whose posterior is relabelled (every variable with a
        ``component`` dim), with ``sample_stats["label_permutation"]`` and posterior
        attributes ``relabel_n_permuted``, ``relabel_n_draws``, ``relabel_iterations``,
        ``relabel_method``.
    info : dict
        The same numbers, and ``converged`` (whether the permutations became stable).

    Examples
    --------
    >>> import arviz as az
    >>> means = np.array([[[[0.0], [5.0]], [[5.0], [0.0]]]])  # chain 0: draw 1 swapped
    >>> idata = az.from_dict(posterior={"weights": np.full((1, 2, 2), 0.5), "means": means,
    ...     "covariances": np.ones((1, 2, 2))},
    ...     dims={"weights": ["component"], "means": ["component", "feature"],
    ...           "covariances": ["component"]})
    >>> fixed, info = relabel(idata, "spherical")
    >>> fixed.posterior["means"].values[0, :, :, 0].tolist(), info["n_permuted"]
    ([[0.0, 5.0], [0.0, 5.0]], 1)
    """
    posterior = idata.posterior.transpose("chain", "draw", ...)
    means = posterior["means"].values
    covariances = _as_full(covariance_type, posterior["covariances"].values, means.shape[-2:])
    if reference is None:
        ref_means, ref_cov = means[0, 0], covariances[0, 0]
    else:
        ref_means = np.asarray(reference[0], dtype=np.float64)
        ref_cov = _as_full(covariance_type, reference[1], means.shape[-2:])
    perm, iterations, converged = _fixed_point(means, covariances, ref_means, ref_cov, max_iter)
    if reference is not None:
        perm = perm[..., _reference_order(means, covariances, perm, ref_means, ref_cov)]
    n_permuted = int((perm != np.arange(perm.shape[-1])).any(axis=-1).sum())
    info = {
        "n_permuted": n_permuted,
        "n_draws": int(perm.shape[0] * perm.shape[1]),
        "iterations": iterations,
        "converged": converged,
    }
    relabelled = _apply(posterior, perm)
    relabelled.attrs.update(
        relabel_method="hungarian-kl",
        relabel_n_permuted=n_permuted,
        relabel_n_draws=info["n_draws"],
        relabel_iterations=iterations,
    )
    out = idata.copy()
    out.posterior = relabelled
    _set_permutation(out, perm, posterior)
    return out, info


def _as_full(covariance_type: str, covariances: Any, shape: tuple[int, int]) -> np.ndarray:
    """Covariances shaped per type (leading dims allowed) as full (..., K, D, D) matrices."""
    kind = get_covariance_model(covariance_type)
    return np.asarray(kind.to_full(np.asarray(covariances, dtype=np.float64), *shape))


def _fixed_point(
    means: np.ndarray,
    covariances: np.ndarray,
    ref_means: np.ndarray,
    ref_cov: np.ndarray,
    max_iter: int,
) -> tuple[np.ndarray, int, bool]:
    """Stephens' iteration: match every draw to the reference, make the relabelled
    posterior mean the reference, until no permutation changes (or ``max_iter``).

    Returns the permutations (chain, draw, K), the iterations and whether they settled.
    """
    perm = None
    for iteration in range(1, max_iter + 1):
        new = _assign(kl_cost(means, covariances, ref_means, ref_cov))
        if perm is not None and np.array_equal(new, perm):
            return perm, iteration, True
        perm = new
        ref_means = _permute(means, perm, 2).mean(axis=(0, 1))
        ref_cov = _permute(covariances, perm, 2).mean(axis=(0, 1))
    return perm, max_iter, False


def _reference_order(
    means: np.ndarray,
    covariances: np.ndarray,
    perm: np.ndarray,
    ref_means: np.ndarray,
    ref_cov: np.ndarray,
) -> np.ndarray:
    """``order[k]``: the relabelled component whose posterior mean matches reference
    component k (the identity unless the fixed point renumbered the components)."""
    mean_means = _permute(means, perm, 2).mean(axis=(0, 1))
    mean_cov = _permute(covariances, perm, 2).mean(axis=(0, 1))
    return _assign(kl_cost(mean_means, mean_cov, ref_means, ref_cov)[None])[0]


def _set_permutation(idata: Any, perm: np.ndarray, posterior: Any) -> None:
    import xarray as xr

    array = xr.DataArray(
        perm,
        dims=("chain", "draw", "component"),
        coords={
            "chain": posterior["chain"],
            "draw": posterior["draw"],
            "component": posterior["component"],
        },
    )
    if "sample_stats" in idata.groups():
        stats = idata.sample_stats.copy()
        stats[PERMUTATION_NAME] = array
        idata.sample_stats = stats
    else:
        idata.add_groups(sample_stats=xr.Dataset({PERMUTATION_NAME: array}))


def raw_posterior(idata: Any) -> Any:
    """The sampler's own draws, before relabelling (undoes :func:`relabel` exactly).

    Parameters
    ----------
    idata : arviz.InferenceData
        Relabelled, with ``sample_stats["label_permutation"]``.

    Returns
    -------
    arviz.InferenceData
        A copy whose posterior holds the raw draws (without the relabel attributes).

    Examples
    --------
    >>> import arviz as az
    >>> means = np.array([[[[0.0], [5.0]], [[5.0], [0.0]]]])
    >>> idata = az.from_dict(posterior={"weights": np.full((1, 2, 2), 0.5), "means": means,
    ...     "covariances": np.ones((1, 2, 2))},
    ...     dims={"weights": ["component"], "means": ["component", "feature"],
    ...           "covariances": ["component"]})
    >>> fixed, _ = relabel(idata, "spherical")
    >>> np.array_equal(raw_posterior(fixed).posterior["means"].values, means)
    True
    """
    if "sample_stats" not in idata.groups() or PERMUTATION_NAME not in idata.sample_stats:
        raise ValueError(
            "This InferenceData was not relabelled by bayesgmm (no "
            f"sample_stats['{PERMUTATION_NAME}']); its posterior is already the raw one."
        )
    perm = idata.sample_stats[PERMUTATION_NAME].transpose("chain", "draw", "component").values
    inverse = np.argsort(perm, axis=-1)
    out = idata.copy()
    raw = _apply(idata.posterior.transpose("chain", "draw", ...), inverse)
    for key in [key for key in raw.attrs if key.startswith("relabel_")]:
        del raw.attrs[key]
    out.posterior = raw
    stats = out.sample_stats.drop_vars(PERMUTATION_NAME)
    out.sample_stats = stats
    return out
