"""netCDF files of results, never pickle: the file format, knowing nothing of results.

A file holds a result's parameters (the Dataset of ``MixtureResult.to_dataset``) in
the group ``bayesgmm`` and, for a Bayesian fit, the InferenceData's groups beside it
as ArviZ writes them. Reading takes only arrays and attributes, so a file can never
run code; a file that is not a bayesgmm result, or one written by another format
version, is refused with a message that says so. :mod:`bayesgmm.result` turns what is
read into a :class:`~bayesgmm.result.MixtureResult` (``bayesgmm.save`` / ``load``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xarray as xr

from ._version import __version__

__all__ = ["write", "read", "not_a_result", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "bayesgmm-result"
FORMAT_VERSION = 1
_GROUP = "bayesgmm"
_ENGINE = "h5netcdf"


def write(dataset: xr.Dataset, posterior: Any, path: str | os.PathLike) -> None:
    """Write a result's Dataset (and its InferenceData, if any) to ``path`` as netCDF-4.

    Parameters
    ----------
    dataset : xarray.Dataset
        ``MixtureResult.to_dataset()``.
    posterior : arviz.InferenceData or None
        The relabelled posterior of a Bayesian fit.
    path : str or path-like
        Target file; overwritten if it exists.
    """
    path = Path(path)
    dataset = dataset.copy()
    dataset.attrs.update(
        {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "bayesgmm_version": __version__}
    )
    if path.exists():
        path.unlink()
    mode = "w"
    if posterior is not None:
        posterior.to_netcdf(str(path), engine=_ENGINE)
        mode = "a"
    dataset.to_netcdf(path, group=_GROUP, mode=mode, engine=_ENGINE)


def not_a_result(path: Path, why: str) -> ValueError:
    """The error for a file that is not a bayesgmm result, saying why."""
    return ValueError(
        f"{str(path)!r} is not a bayesgmm result file ({why}). Load files written by "
        "MixtureResult.save or `bayesgmm fit --out`."
    )


def read(path: str | os.PathLike) -> tuple[xr.Dataset, Any]:
    """Read the result Dataset and the InferenceData (None for an EM fit) of a file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    dataset : xarray.Dataset
    posterior : arviz.InferenceData or None

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
    _check_signature(path)
    try:
        with xr.open_dataset(path, group=_GROUP, engine=_ENGINE) as stored:
            dataset = stored.load()
    except OSError as error:
        raise not_a_result(path, f"no '{_GROUP}' group in a netCDF-4 file: {error}") from None
    except Exception as error:  # h5py raises several types for non-HDF5 input
        raise not_a_result(path, f"cannot be read as netCDF-4: {error}") from None
    if dataset.attrs.get("format") != FORMAT_NAME:
        found = dataset.attrs.get("format")
        raise not_a_result(
            path,
            "it has no 'format' attribute"
            if found is None
            else f"its 'format' attribute is {str(found)!r}, not {FORMAT_NAME!r}",
        )
    version = _format_version(dataset.attrs.get("format_version"))
    if version != FORMAT_VERSION:
        writer = dataset.attrs.get("bayesgmm_version", "unknown")
        raise ValueError(
            f"{str(path)!r} was written in bayesgmm result format version {version}, but this "
            f"bayesgmm ({__version__}) reads version {FORMAT_VERSION}. Load it with "
            f"the bayesgmm version that wrote it ({writer}) "
            "and refit or re-save."
        )
    missing = [name for name in _REQUIRED_VARIABLES if name not in dataset.variables]
    missing += [f"attribute {name!r}" for name in _REQUIRED_ATTRS if name not in dataset.attrs]
    if missing:
        raise not_a_result(path, f"it is damaged or incomplete: {missing} missing")
    posterior = _load_posterior(path) if dataset.attrs.get("method", "em") != "em" else None
    return dataset, posterior


#: What a version-1 file must hold in its ``bayesgmm`` group.
_REQUIRED_VARIABLES = ("weights", "means", "covariances", "feature")
_REQUIRED_ATTRS = ("covariance_type",)
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check_signature(path: Path) -> None:
    """Refuse, by its first bytes, a file that is not HDF5 (netCDF-4) before opening it."""
    with open(path, "rb") as handle:
        head = handle.read(8)
        for offset in (512, 1024, 2048):  # HDF5 allows a user block before the superblock
            if head == _HDF5_SIGNATURE:
                return
            handle.seek(offset)
            if handle.read(8) == _HDF5_SIGNATURE:
                return
    if head[:3] == b"CDF":
        why = "it is a netCDF-3 file; bayesgmm results are netCDF-4 (HDF5)"
    elif head[:1] == b"\x80":
        why = "it looks like a Python pickle, which bayesgmm never loads: it could run code"
    elif not head:
        why = "it is empty"
    else:
        why = f"it is not a netCDF-4 (HDF5) file: it starts with {head!r}"
    raise not_a_result(path, why)


def _format_version(value: Any) -> int | str:
    """The stored format version as an int, or as found when it is not a whole number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return repr(value)


def _load_posterior(path: Path) -> Any:
    import arviz as az

    # ArviZ reads every group of the file, ours included; the posterior is the rest
    idata = az.from_netcdf(str(path), engine=_ENGINE)
    if _GROUP in idata.groups():
        delattr(idata, _GROUP)
    for group in idata.groups():  # read into memory, so the file is not held open
        getattr(idata, group).load()
    return idata
