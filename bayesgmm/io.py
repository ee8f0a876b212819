"""Save and load results as netCDF files, never pickle.

A file holds the result's parameters (``MixtureResult.to_dataset``) in the group
``bayesgmm`` and, for a Bayesian fit, the InferenceData's groups beside it as
ArviZ writes them. Loading reads only arrays and attributes, so a file can never
run code; a file that is not a bayesgmm result, or one written by another format
version, is refused with a message that says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xarray as xr

from .result import MixtureResult

__all__ = ["save", "load", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "bayesgmm-result"
FORMAT_VERSION = 1
_GROUP = "bayesgmm"
_ENGINE = "h5netcdf"


def save(result: MixtureResult, path: str | os.PathLike) -> None:
    """Write ``result`` to ``path`` as netCDF-4.

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
    path = Path(path)
    dataset = result.to_dataset()
    dataset.attrs.update({"format": FORMAT_NAME, "format_version": FORMAT_VERSION})
    from . import __version__

    dataset.attrs["bayesgmm_version"] = __version__
    if path.exists():
        path.unlink()
    mode = "w"
    if result.posterior is not None:
        result.posterior.to_netcdf(str(path), engine=_ENGINE)
        mode = "a"
    dataset.to_netcdf(path, group=_GROUP, mode=mode, engine=_ENGINE)


def _not_a_result(path: Path, why: str) -> ValueError:
    return ValueError(
        f"{str(path)!r} is not a bayesgmm result file ({why}). Load files written by "
        "MixtureResult.save or `bayesgmm fit --out`."
    )


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
        When the file is not a bayesgmm result or has another format version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {str(path)!r}.")
    try:
        with xr.open_dataset(path, group=_GROUP, engine=_ENGINE) as stored:
            dataset = stored.load()
    except OSError as error:
        raise _not_a_result(path, f"no '{_GROUP}' group in a netCDF-4 file: {error}") from None
    except Exception as error:  # h5py raises several types for non-HDF5 input
        raise _not_a_result(path, f"cannot be read as netCDF-4: {error}") from None
    if dataset.attrs.get("format") != FORMAT_NAME:
        raise _not_a_result(path, "its 'format' attribute is missing or different")
    version = int(dataset.attrs.get("format_version", -1))
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} was written in bayesgmm result format version {version}, but this "
            f"bayesgmm ({_installed_version()}) reads version {FORMAT_VERSION}. Load it with "
            f"the bayesgmm version that wrote it ({dataset.attrs.get('bayesgmm_version')}) "
            "and refit or re-save."
        )
    posterior = _load_posterior(path) if dataset.attrs.get("method", "em") != "em" else None
    return MixtureResult.from_dataset(dataset, posterior=posterior)


def _installed_version() -> str:
    from . import __version__

    return __version__


def _load_posterior(path: Path) -> Any:
    import arviz as az

    idata = az.from_netcdf(str(path), engine=_ENGINE)
    idata.load() if hasattr(idata, "load") else None
    return idata
