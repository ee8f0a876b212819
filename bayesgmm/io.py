"""netCDF files of results, never pickle: the file format, knowing nothing of results.

A file holds a result's parameters (the Dataset of ``MixtureResult.to_dataset``) in
the group ``bayesgmm`` and, for a Bayesian fit, the InferenceData's groups beside it
as ArviZ writes them. :mod:`bayesgmm.result` turns what is read into a
:class:`~bayesgmm.result.MixtureResult` (``bayesgmm.save`` / ``load``).

Reading trusts nothing in the file. It takes only arrays and attributes, so a file can
never run code, and before it reads any value it refuses a file whose data would come
from elsewhere (external links, external raw storage, virtual datasets), whose layout is
not a result's (groups, variables, dims, kinds; sizes that disagree with the header's K,
D, chains, draws and rows), or whose stored bytes could not hold the values it claims
(fill values or compression standing in for data). After reading it checks every value
(:func:`bayesgmm._file_schema.check_values`). Every refusal names the file and the field.

Writing checks the same rules before anything touches the disk, writes a temporary file
in the target's folder, flushes it to the disk and renames it over the target, so an
interrupted or failed save leaves the previous file as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import xarray as xr

from . import _file_schema as schema
from ._version import __version__

__all__ = ["write", "read", "not_a_result", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "bayesgmm-result"
FORMAT_VERSION = 1
_GROUP = schema.PARAMETER_GROUP
_ENGINE = "h5netcdf"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: The most that deflate can expand: 258 bytes from a 2-bit code (zlib's technical notes).
_DEFLATE_MAX_RATIO = 1032
#: HDF5 filters a result may use: deflate (ArviZ compresses the posterior), shuffle, checksum.
_ALLOWED_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32"}
_PHANTOM_DIMENSION = b"This is a netCDF dimension but not a netCDF variable"


def not_a_result(path: Path, why: str) -> ValueError:
    """The error for a file that is not a bayesgmm result, saying why."""
    return ValueError(
        f"{str(path)!r} is not a bayesgmm result file ({why}). Load files written by "
        "MixtureResult.save or `bayesgmm fit --out`."
    )


# ---------------------------------------------------------------------- writing
def write(dataset: xr.Dataset, posterior: Any, path: str | os.PathLike) -> None:
    """Write a result's Dataset (and its InferenceData, if any) to ``path`` as netCDF-4.

    The file is written beside the target under a temporary name, flushed to the disk and
    renamed over the target: a failed or interrupted save leaves the previous file intact.

    Parameters
    ----------
    dataset : xarray.Dataset
        ``MixtureResult.to_dataset()``.
    posterior : arviz.InferenceData or None
        The relabelled posterior of a Bayesian fit.
    path : str or path-like
        Target file; replaced if it exists.

    Raises
    ------
    ValueError
        When the result holds something a result file cannot hold (NaN weights, a
        feature name that is not valid Unicode, an attribute netCDF cannot store, ...);
        nothing is written then.
    OSError
        When the folder cannot be written (the previous file is unchanged).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> parameters = xr.Dataset(
    ...     {"weights": ("component", [1.0]), "means": (("component", "feature"), [[0.0]]),
    ...      "covariances": ("component", [1.0])},
    ...     coords={"component": [0], "feature": ["x"], "feature_bis": ["x"]},
    ...     attrs={"covariance_type": "spherical", "method": "em"})
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.nc"
    >>> write(parameters, None, path)
    >>> read(path)[0].attrs["n_components"]
    np.int64(1)
    """
    path = Path(path)
    groups = (
        {}
        if posterior is None
        else {name: getattr(posterior, name).drop_encoding() for name in posterior.groups()}
    )
    parameters = dataset.drop_encoding()
    parameters.attrs.update(_header_sizes(parameters, groups))
    parameters.attrs.update(
        {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "bayesgmm_version": __version__}
    )
    try:
        header = schema.parse_header(parameters.attrs)
        everything = {_GROUP: parameters, **groups}
        schema.check_layout(
            {name: schema.describe(data) for name, data in everything.items()}, header
        )
        schema.check_values(
            parameters, groups, header.covariance_type, family=header.family,
            missing=header.missing,
        )  # fmt: skip
        for name, data in everything.items():
            _check_storable(name, data)
    except schema.Problem as problem:
        unchanged = "; the existing file is unchanged" if path.exists() else ""
        raise ValueError(
            f"Cannot save the result to {str(path)!r}: {problem}. Nothing was written{unchanged}."
        ) from None
    _write_atomically(path, parameters, groups)


def _header_sizes(parameters: xr.Dataset, groups: dict[str, xr.Dataset]) -> dict[str, int]:
    """K, D and, for a Bayesian fit, chains, draws and rows: what a reader checks against."""
    sizes = {}
    for data in (parameters, *groups.values()):
        for dim, attr in schema.SIZE_ATTRS.items():
            if dim in data.sizes:
                sizes.setdefault(attr, data.sizes[dim])
    return {name: int(size) for name, size in sizes.items()}


def _check_storable(group: str, data: xr.Dataset) -> None:
    """What netCDF-4 cannot store exactly: text that is not Unicode, odd attribute values."""
    prefix = "" if group == _GROUP else f"{group}/"
    for name, variable in data.variables.items():
        if variable.dtype.kind in "UO":
            for value in variable.values.flat:
                _check_text(value, f"a value of '{prefix}{name}'")
        for key, value in variable.attrs.items():
            _check_attribute(key, value, f"'{prefix}{name}'")
    for key, value in data.attrs.items():
        _check_attribute(key, value, f"the group {group!r}")


def _check_text(value: Any, where: str) -> None:
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise schema.Problem(
            f"{where}, {text!r}, is not valid Unicode ({error.reason}: "
            f"{text[error.start : error.end]!r}); rename it"
        ) from None


def _check_attribute(key: Any, value: Any, where: str) -> None:
    _check_text(key, f"an attribute name of {where}")
    if isinstance(value, str):
        _check_text(value, f"the attribute {key!r} of {where}")
        return
    values = np.asarray(value) if isinstance(value, list | tuple | np.ndarray) else None
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    if number and (not isinstance(value, int) or -(2**63) <= value < 2**63):
        return
    if values is not None and values.dtype.kind in "iuf":
        return
    raise schema.Problem(
        f"the attribute {key!r} of {where} is {value!r} ({type(value).__name__}); netCDF "
        "attributes hold text, numbers or lists of numbers only"
    )


def _write_atomically(path: Path, parameters: xr.Dataset, groups: dict[str, xr.Dataset]) -> None:
    """Write to a temporary file in the target's folder, flush it, rename it over the target."""
    folder = path.absolute().parent
    temporary = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # per umask
        _write_groups(temporary, parameters, groups)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            unchanged = "; the existing file is unchanged" if path.exists() else ""
            raise type(error)(
                f"Cannot save the result to {str(path)!r}: {error.strerror or error}{unchanged}."
            ) from None
        raise
    with contextlib.suppress(OSError):  # the rename itself reaches the disk with the folder
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _write_groups(temporary: Path, parameters: xr.Dataset, groups: dict[str, xr.Dataset]) -> None:
    mode = "w"
    for name, data in groups.items():  # compressed, as ArviZ writes an InferenceData
        encoding = {
            var: {"zlib": True}
            for var, values in data.variables.items()
            if values.dtype.kind in "biuf"
        }
        data.to_netcdf(temporary, mode=mode, group=name, engine=_ENGINE, encoding=encoding)
        mode = "a"
    parameters.to_netcdf(temporary, mode=mode, group=_GROUP, engine=_ENGINE)


# ---------------------------------------------------------------------- reading
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
        When the file is not a bayesgmm result, has another format version, takes data
        from outside itself, or holds values that do not make a mixture.

    Examples
    --------
    >>> read("no-such-file.nc")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No such file: 'no-such-file.nc'.
    """
    path = Path(path)
    with _open_regular_file(path) as handle:
        _check_signature(handle, path)
        kinds = _inspect_storage(handle, path)
        try:
            layout, attrs = _file_layout(handle, kinds)
        except Exception as error:  # h5netcdf raises several types for what is not netCDF-4
            raise not_a_result(path, f"cannot be read as netCDF-4: {error}") from None
        try:
            header = schema.parse_header(attrs)
            schema.check_layout(layout, header)
        except schema.Problem as problem:
            raise not_a_result(path, str(problem)) from None
        groups = {name: _read_group(handle, name, path) for name in layout}
    dataset = groups.pop(_GROUP)
    try:
        schema.check_values(
            dataset, groups, header.covariance_type, family=header.family, missing=header.missing
        )
    except schema.Problem as problem:
        raise not_a_result(path, str(problem)) from None
    return dataset, _inference_data(groups)


@contextlib.contextmanager
def _open_regular_file(path: Path) -> Iterator[IO[bytes]]:
    """Open ``path`` for reading, refusing what is not a regular file without blocking on it."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"No such file: {str(path)!r}.") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe, socket or device)"
        raise not_a_result(path, f"it is {what}")
    if hasattr(os, "set_blocking"):
        os.set_blocking(descriptor, True)
    with os.fdopen(descriptor, "rb") as handle:
        yield handle


def _check_signature(handle: IO[bytes], path: Path) -> None:
    """Refuse, by its first bytes, a file that is not HDF5 (netCDF-4) before opening it."""
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


def _inspect_storage(handle: IO[bytes], path: Path) -> dict[tuple[str, str], str]:
    """Check where every variable's bytes live, before any is read; return their kinds.

    Refuses links (external ones reach other files), groups inside groups, external raw
    storage, virtual datasets, filters other than deflate/shuffle/checksum, and variables
    whose stored bytes could not hold the values they claim. Checks the format mark first.
    """
    import h5py

    handle.seek(0)
    try:
        root = h5py.File(handle, "r")
    except Exception as error:  # h5py raises several types for damaged HDF5 input
        raise not_a_result(path, f"cannot be read as netCDF-4: {error}") from None
    with root:
        _hard_link(root, _GROUP, path, missing=f"no '{_GROUP}' group in a netCDF-4 file")
        _check_format(dict(root[_GROUP].attrs), path)
        kinds = {}
        for group_name in root:
            group = _hard_link(root, group_name, path)
            if not isinstance(group, h5py.Group):
                raise not_a_result(path, f"it holds {group_name!r} outside the result's groups")
            for name in group:
                dataset = _hard_link(group, name, path)
                field = name if group_name == _GROUP else f"{group_name}/{name}"
                if not isinstance(dataset, h5py.Dataset):
                    raise not_a_result(path, f"it holds {field!r}, which is not a variable")
                kinds[(group_name, name)] = _check_dataset(dataset, field, path)
    return kinds


def _hard_link(group: Any, name: str, path: Path, missing: str = "") -> Any:
    """The object that ``group[name]`` names, refusing soft, external and other links."""
    import h5py

    link = group.get(name, getlink=True)
    if link is None:
        raise not_a_result(path, missing)
    if not isinstance(link, h5py.HardLink):
        where = f"{group.name.rstrip('/')}/{name}".lstrip("/")
        target = (
            f" to {link.filename!r}:{link.path}"
            if isinstance(link, h5py.ExternalLink)
            else f" to {link.path}"
            if isinstance(link, h5py.SoftLink)
            else ""
        )
        raise not_a_result(
            path, f"{where!r} is a link{target}; a result file holds its data itself"
        )
    return group[name]


def _check_dataset(dataset: Any, field: str, path: Path) -> str:
    """Refuse data stored elsewhere or not at all; return the variable's kind of values."""
    import h5py

    if dataset.external:
        files = sorted({str(name) for name, *_ in dataset.external})
        raise not_a_result(path, f"its variable {field!r} keeps its values in other files {files}")
    if dataset.is_virtual:
        raise not_a_result(path, f"its variable {field!r} is a virtual dataset mapping other data")
    if dataset.shape is None:
        raise not_a_result(path, f"its variable {field!r} has no shape (an empty HDF5 dataspace)")
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(index)[0] for index in range(plist.get_nfilters())]
    odd = [code for code in filters if code not in _ALLOWED_FILTERS]
    if odd:
        raise not_a_result(
            path,
            f"its variable {field!r} uses HDF5 filter(s) {odd}; results "
            f"use only {sorted(_ALLOWED_FILTERS.values())}",
        )
    phantom = bytes(np.asarray(dataset.attrs.get("NAME", b"")).tobytes())
    if not phantom.startswith(_PHANTOM_DIMENSION):  # a dimension's length only: no values
        stored = dataset.id.get_storage_size()
        claimed = dataset.size * dataset.dtype.itemsize
        capacity = stored * (_DEFLATE_MAX_RATIO if 1 in filters else 1)
        if claimed > capacity:
            raise not_a_result(
                path,
                f"its variable {field!r} claims {dataset.shape} values ({claimed} bytes) but the "
                f"file stores {stored} bytes of them (fill values or compression standing in "
                "for data)",
            )
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return "str"
    if h5py.check_vlen_dtype(dataset.dtype) is not None or dataset.dtype.names is not None:
        return f"{dataset.dtype} (HDF5 compound or variable-length)"
    return schema.value_kind(dataset.dtype)


def _check_format(attrs: dict[str, Any], path: Path) -> None:
    """The format mark and version of the ``bayesgmm`` group."""
    found = attrs.get("format")
    found = found.decode("utf-8", "replace") if isinstance(found, bytes) else found
    if found != FORMAT_NAME:
        raise not_a_result(
            path,
            "it has no 'format' attribute"
            if found is None
            else f"its 'format' attribute is {str(found)!r}, not {FORMAT_NAME!r}",
        )
    version = _format_version(attrs.get("format_version"))
    if version != FORMAT_VERSION:
        writer = attrs.get("bayesgmm_version", "unknown")
        raise ValueError(
            f"{str(path)!r} was written in bayesgmm result format version {version}, but this "
            f"bayesgmm ({__version__}) reads version {FORMAT_VERSION}. Load it with "
            f"the bayesgmm version that wrote it ({writer}) "
            "and refit or re-save."
        )


def _format_version(value: Any) -> int | str:
    """The stored format version as an int, or as found when it is not a whole number."""
    values = np.asarray(value)
    if values.size == 1 and values.dtype.kind in "iu":
        return int(values.reshape(-1)[0])
    return repr(value)


def _file_layout(handle: IO[bytes], kinds: dict) -> tuple[dict[str, dict], dict[str, Any]]:
    """Dims, shapes, kinds and attributes of every variable, by group; the header's attributes.

    h5netcdf reads metadata here, no values; netCDF-4 stores booleans as int8 marked
    ``dtype="bool"``.
    """
    import h5netcdf

    handle.seek(0)
    layout: dict[str, dict[str, schema.Variable]] = {}
    with h5netcdf.File(handle, "r") as file:
        for group_name, group in file.groups.items():
            variables = {}
            for name, variable in group.variables.items():
                attrs = dict(variable.attrs)
                kind = kinds[(group_name, name)]
                if kind == "int" and attrs.get("dtype") == "bool" and variable.dtype == np.int8:
                    kind = "bool"
                variables[name] = schema.Variable(
                    tuple(variable.dimensions), tuple(variable.shape), kind, attrs
                )
            layout[group_name] = variables
        attrs = dict(file.groups[_GROUP].attrs)
    return layout, attrs


def _read_group(handle: IO[bytes], name: str, path: Path) -> xr.Dataset:
    handle.seek(0)
    try:
        with xr.open_dataset(handle, group=name, engine=_ENGINE) as stored:
            return stored.load()
    except Exception as error:  # what the netCDF decoder refuses
        raise not_a_result(path, f"its group {name!r} cannot be decoded: {error}") from None


def _inference_data(groups: dict[str, xr.Dataset]) -> Any:
    """The posterior groups as an arviz.InferenceData, in their usual order; None if none."""
    if not groups:
        return None
    import arviz as az

    order = [name for name in schema.POSTERIOR_GROUPS if name in groups]
    return az.InferenceData(**{name: groups[name] for name in order})
