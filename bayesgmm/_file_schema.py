"""What a bayesgmm result file holds, and the checks that a file (or a result to save) holds it.

The layout checks run on plain descriptions (:class:`Variable`: dims, shape, kind and
attributes of each variable, by group), so one set of rules judges a file before any of
its data is read and a result before it is written. :func:`check_values` judges the
values once they are in memory. Every failure is a :class:`Problem` whose text names the
field; :mod:`bayesgmm.io` adds the file's name.

Groups: ``bayesgmm`` (the parameters and the header), and for a Bayesian fit the
InferenceData's ``posterior`` (required), ``sample_stats``, ``log_likelihood``,
``observed_data`` and ``constant_data``. Dimensions: ``component`` (K), ``feature`` and
``feature_bis`` (D), ``iteration`` (the EM history), ``chain``, ``draw`` and
``observation`` (the fitted rows).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .covariance import COVARIANCE_TYPES, get_covariance_model

__all__ = [
    "Problem",
    "Variable",
    "Header",
    "PARAMETER_GROUP",
    "POSTERIOR_GROUPS",
    "SIZE_ATTRS",
    "native_dims",
    "describe",
    "value_kind",
    "parse_header",
    "check_layout",
    "check_values",
]

PARAMETER_GROUP = "bayesgmm"
#: The InferenceData groups a Bayesian result may hold, in the order they are written.
POSTERIOR_GROUPS = (
    "posterior",
    "posterior_predictive",
    "sample_stats",
    "log_likelihood",
    "observed_data",
    "constant_data",
)

#: Coarsest unit roundoff of a stored model: EM fits may run in float32 (2**-24).
_UNIT_ROUNDOFF = 2.0**-24
_FLOAT, _INT, _BOOL, _STR = "float", "int", "bool", "str"
_COORDINATE_KINDS = {
    "component": _INT,
    "chain": _INT,
    "draw": _INT,
    "observation": _INT,
    "iteration": _INT,
    "cholesky_entry": _INT,
    "feature": _STR,
    "feature_bis": _STR,
}
#: Variable attributes that may appear; every other one (scale_factor, units, ...) would
#: make the netCDF decoder change the stored numbers, so it is refused.
_VARIABLE_ATTRS = ("_FillValue", "dtype")
#: Component families a file may name (bayesgmm.family.FAMILIES; the t needs ``dof``).
_FAMILIES = ("gaussian", "t")
#: What NaN means to a result (GaussianMixture's ``missing``).
_MISSING = ("error", "marginal")
#: The header's sizes, by dimension.
SIZE_ATTRS = {
    "component": "n_components",
    "feature": "n_features",
    "chain": "n_chains",
    "draw": "n_draws",
    "observation": "n_observations",
}


class Problem(Exception):
    """What is wrong with a result file or a result to save, naming the field."""


@dataclass(frozen=True)
class Variable:
    """A variable as the checks see it, before its values are read."""

    dims: tuple[str, ...]
    shape: tuple[int, ...]
    kind: str  # "float", "int", "bool", "str", or a description of anything else
    attrs: Mapping[str, Any]


@dataclass(frozen=True)
class _Spec:
    dims: tuple[tuple[str, ...], ...]  # the allowed dims
    kinds: tuple[str, ...]
    required: bool = False


def native_dims(covariance_type: str) -> tuple[str, ...]:
    """Dims of a covariance array in its native shape (the covariance model's)."""
    return get_covariance_model(covariance_type).dims


def _schema(covariance_type: str) -> dict[str, dict[str, _Spec]]:
    """Allowed variables per group; ``"*"`` stands for variables of any other name."""
    native, draw = native_dims(covariance_type), ("chain", "draw")
    floats, numbers = (_FLOAT,), (_FLOAT, _INT, _BOOL)
    return {
        PARAMETER_GROUP: {
            "weights": _Spec((("component",),), floats, True),
            "means": _Spec((("component", "feature"),), floats, True),
            "covariances": _Spec((native,), floats, True),
            "history": _Spec((("iteration",),), floats),
            "dof": _Spec((("component",),), floats),
            # a uniform noise component's box (bayesgmm.noise.NoiseBox)
            "noise_centre": _Spec((("feature",),), floats),
            "noise_axes": _Spec((("feature", "feature_bis"),), floats),
            "noise_half_widths": _Spec((("feature",),), floats),
            # a MAP-EM fit's conjugate prior (bayesgmm.conjugate_prior.ResolvedPrior)
            "prior_mean": _Spec((("feature",),), floats),
            "prior_scale": _Spec(((), ("feature", "feature_bis")), floats),
        },
        "posterior": {
            "weights": _Spec(((*draw, "component"),), floats, True),
            "means": _Spec(((*draw, "component", "feature"),), floats, True),
            "covariances": _Spec(((*draw, *native),), floats, True),
            # the model's free variables on its standardised scale (z_means, z_sds, z_chol)
            "*": _Spec(
                (
                    (*draw, "component", "feature"),
                    (*draw, "component"),
                    (*draw, "cholesky_entry"),
                ),
                floats,
            ),
        },
        "posterior_predictive": {"*": _Spec(((*draw, "observation", "feature"),), floats)},
        "sample_stats": {
            "label_permutation": _Spec(((*draw, "component"),), (_INT,)),
            "*": _Spec((draw, (*draw, "component")), numbers),
        },
        "log_likelihood": {"*": _Spec(((*draw, "observation"),), floats)},
        "observed_data": {"*": _Spec((("observation", "feature"),), floats)},
        "constant_data": {"*": _Spec((("feature",),), floats)},
    }


def value_kind(dtype: np.dtype, values: Any = None) -> str:
    """``"float"``, ``"int"``, ``"bool"``, ``"str"`` (object arrays of str), or the dtype."""
    if dtype.kind == "f":
        return _FLOAT
    if dtype.kind in "iu":
        return _INT
    if dtype.kind == "b":
        return _BOOL
    if dtype.kind == "U" or (
        dtype.kind == "O" and values is not None and all(isinstance(v, str) for v in values.flat)
    ):
        return _STR
    return str(dtype)


def describe(data: Any) -> dict[str, Variable]:
    """Every variable (coordinates included) of an in-memory xarray.Dataset, for the checks."""
    return {
        str(name): Variable(
            tuple(variable.dims),
            tuple(variable.shape),
            value_kind(variable.dtype, variable.values if variable.dtype.kind == "O" else None),
            dict(variable.attrs),
        )
        for name, variable in data.variables.items()
    }


# ---------------------------------------------------------------------- the header
@dataclass(frozen=True)
class Header:
    """The parsed attributes of the ``bayesgmm`` group."""

    covariance_type: str
    method: str
    family: str  # "gaussian" or "t" (bayesgmm.family)
    estimate_dof: bool  # whether a t family's degrees of freedom were estimated
    feature_names_given: bool
    degenerate: list[str]
    converged: bool | None
    log_likelihood: float | None
    reg_covar: float | None
    sizes: dict[str, int]  # the sizes the header states, by dimension
    missing: str = "error"  # what NaN means when evaluating ("error" or "marginal")
    noise_weight: float | None = None  # a uniform noise component's weight
    noise_log_vinv: float | None = None  # ... and log-density
    prior_shrinkage: float | None = None  # a MAP-EM fit's conjugate prior's shrinkage
    prior_dof: float | None = None  # ... and degrees of freedom


def parse_header(attrs: Mapping[str, Any]) -> Header:
    """Read the header attributes with their types checked; raises :class:`Problem`."""
    if "covariance_type" not in attrs:
        raise Problem("it is damaged or incomplete: attribute 'covariance_type' missing")
    covariance_type = _text(attrs, "covariance_type")
    if covariance_type not in COVARIANCE_TYPES:
        raise Problem(
            f"its attribute 'covariance_type' is {covariance_type!r}, not one of "
            f"{sorted(COVARIANCE_TYPES)}"
        )
    method = _text(attrs, "method", "em")
    if not (method.isascii() and method.replace("_", "").isalnum() and len(method) <= 32):
        raise Problem(f"its attribute 'method' is {method!r}, not the name of a fitting method")
    family = _text(attrs, "family", "gaussian")
    if family not in _FAMILIES:
        raise Problem(f"its attribute 'family' is {family!r}, not one of {list(_FAMILIES)}")
    sizes = {dim: _integer(attrs, name, 1) for dim, name in SIZE_ATTRS.items() if name in attrs}
    converged = _flag(attrs, "converged") if "converged" in attrs else None
    missing = _text(attrs, "missing", "error")
    if missing not in _MISSING:
        raise Problem(f"its attribute 'missing' is {missing!r}, not one of {list(_MISSING)}")
    return Header(
        covariance_type=covariance_type,
        method=method,
        family=family,
        estimate_dof=_flag(attrs, "estimate_dof") if "estimate_dof" in attrs else True,
        feature_names_given=_flag(attrs, "feature_names_given")
        if "feature_names_given" in attrs
        else True,
        degenerate=_degenerate_notes(attrs),
        converged=converged,
        log_likelihood=_real(attrs, "log_likelihood") if "log_likelihood" in attrs else None,
        reg_covar=_real(attrs, "reg_covar", low=0.0) if "reg_covar" in attrs else None,
        sizes=sizes,
        missing=missing,
        **_noise_header(attrs),
        **_prior_header(attrs),
    )


def _noise_header(attrs: Mapping[str, Any]) -> dict[str, float | None]:
    """A noise component's weight (in [0, 1]) and log-density, both or neither."""
    present = [name for name in ("noise_weight", "noise_log_vinv") if name in attrs]
    if not present:
        return {"noise_weight": None, "noise_log_vinv": None}
    if len(present) == 1:
        raise Problem(f"it is damaged or incomplete: it holds only {present[0]!r} of the noise")
    weight = _real(attrs, "noise_weight", low=0.0)
    if not weight <= 1.0:
        raise Problem(f"its attribute 'noise_weight' is {weight!r}, not in [0, 1]")
    log_vinv = _real(attrs, "noise_log_vinv")
    if not math.isfinite(log_vinv):
        raise Problem("its attribute 'noise_log_vinv' is not finite")
    return {"noise_weight": weight, "noise_log_vinv": log_vinv}


def _prior_header(attrs: Mapping[str, Any]) -> dict[str, float | None]:
    """A conjugate prior's shrinkage and degrees of freedom (finite, >= 0), both or
    neither."""
    present = [name for name in _PRIOR_ATTRS if name in attrs]
    if not present:
        return dict.fromkeys(_PRIOR_ATTRS)
    if len(present) == 1:
        raise Problem(f"it is damaged or incomplete: it holds only {present[0]!r} of the prior")
    return {name: _real(attrs, name, low=0.0) for name in _PRIOR_ATTRS}


_PRIOR_ATTRS = ("prior_shrinkage", "prior_dof")


def _scalar(attrs: Mapping[str, Any], name: str) -> Any:
    value = attrs[name]
    if isinstance(value, np.ndarray | list | tuple):
        values = np.asarray(value, dtype=object).reshape(-1)
        if len(values) != 1:
            raise Problem(f"its attribute {name!r} holds {len(values)} values, not one")
        value = values[0]
    return value.item() if isinstance(value, np.generic) else value


def _text(attrs: Mapping[str, Any], name: str, default: str | None = None) -> str:
    if name not in attrs and default is not None:
        return default
    value = _scalar(attrs, name)
    if not isinstance(value, str):
        raise Problem(f"its attribute {name!r} is {value!r}, not text")
    return value


def _integer(attrs: Mapping[str, Any], name: str, low: int) -> int:
    value = _scalar(attrs, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise Problem(f"its attribute {name!r} is {value!r}, not a whole number >= {low}")
    return value


def _flag(attrs: Mapping[str, Any], name: str) -> bool:
    value = _scalar(attrs, name)
    if isinstance(value, bool) or value not in (0, 1) or not isinstance(value, int):
        raise Problem(f"its attribute {name!r} is {value!r}; it must be 0 or 1")
    return bool(value)


def _real(attrs: Mapping[str, Any], name: str, low: float = -math.inf) -> float:
    value = _scalar(attrs, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(f"its attribute {name!r} is {value!r}, not a number")
    if not (math.isfinite(value) and value >= low):
        bound = "" if low == -math.inf else f" >= {low:g}"
        raise Problem(f"its attribute {name!r} is {value!r}, not a finite number{bound}")
    return float(value)


def _degenerate_notes(attrs: Mapping[str, Any]) -> list[str]:
    """The degenerate-component notes: a JSON list of strings."""
    text = _text(attrs, "degenerate", "[]")
    try:
        notes = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to be a note
        notes = None
    if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise Problem(f"its attribute 'degenerate' is {shown!r}, not a JSON list of strings")
    return notes


# ---------------------------------------------------------------------- layout
def check_layout(
    groups: Mapping[str, Mapping[str, Variable]], header: Header, *, complete: bool = True
) -> dict[str, int]:
    """Check groups, variables, dims, sizes and kinds before any value is read.

    Parameters
    ----------
    groups : mapping of group name to {variable name: Variable}
        Every group of the file, the ``bayesgmm`` group included; variables include
        coordinates.
    header : Header
    complete : bool, default=True
        The groups are a whole file: a Bayesian method needs its ``posterior`` group.

    Returns
    -------
    dict
        The size of every dimension, consistent across all groups.

    Raises
    ------
    Problem
        Naming the first group, variable or dimension that a result does not have.
    """
    schema = _schema(header.covariance_type)
    unknown = [name for name in groups if name not in schema]
    if unknown:
        raise Problem(
            f"it has group(s) {unknown} that a result does not have (allowed: {list(schema)})"
        )
    bayesian = header.method != "em"
    if complete and bayesian and "posterior" not in groups:
        raise Problem(
            f"it is damaged or incomplete: method {header.method!r} needs a "
            "'posterior' group, and there is none"
        )
    extra = [name for name in groups if name != PARAMETER_GROUP and not bayesian]
    if extra:
        raise Problem(f"it holds group(s) {extra}, but method 'em' has no posterior")
    sizes = dict(header.sizes)
    for group, variables in groups.items():
        specs = schema[group]
        missing = [name for name, spec in specs.items() if spec.required and name not in variables]
        if missing:
            raise Problem(
                f"it is damaged or incomplete: {missing} missing"
                if group == PARAMETER_GROUP
                else f"its group {group!r} lacks {missing}"
            )
        for name, variable in variables.items():
            field = name if group == PARAMETER_GROUP else f"{group}/{name}"
            _check_variable(field, name, variable, specs)
            _check_sizes(field, variable, sizes, header)
    if sizes.get("feature_bis", sizes.get("feature")) != sizes.get("feature"):
        raise Problem("its dimensions 'feature' and 'feature_bis' differ in length")
    n_features = sizes.get("feature", 0)
    if sizes.get("cholesky_entry", n_features * (n_features + 1) // 2) != (
        n_features * (n_features + 1) // 2
    ):
        raise Problem("its packed Cholesky factors ('cholesky_entry') are not D (D + 1) / 2 long")
    return sizes


def _check_variable(field: str, name: str, variable: Variable, specs: dict[str, _Spec]) -> None:
    if name in _COORDINATE_KINDS and variable.dims == (name,):
        kinds: tuple[str, ...] = (_COORDINATE_KINDS[name],)
        allowed: tuple[tuple[str, ...], ...] = ((name,),)
    elif name in specs or "*" in specs:
        spec = specs.get(name, specs.get("*"))
        kinds, allowed = spec.kinds, spec.dims
    else:
        raise Problem(f"it has a variable {field!r} that a result does not have")
    if variable.dims not in allowed:
        raise Problem(
            f"its variable {field!r} has dims {variable.dims}, not "
            + " or ".join(str(dims) for dims in allowed)
        )
    if variable.kind not in kinds:
        raise Problem(f"its variable {field!r} holds {variable.kind} values, not {kinds[0]}")
    odd = [key for key in variable.attrs if key not in _VARIABLE_ATTRS]
    if odd:
        raise Problem(
            f"its variable {field!r} has attribute(s) {odd}, which would change its "
            "values as they are read"
        )
    fill = variable.attrs.get("_FillValue")
    if "_FillValue" in variable.attrs and not (variable.kind == _FLOAT and _is_nan(fill)):
        raise Problem(
            f"its variable {field!r} has the fill value {np.asarray(fill).tolist()!r}, not NaN"
        )
    if "dtype" in variable.attrs and not (variable.kind == _BOOL):
        raise Problem(f"its variable {field!r} has the attribute dtype={variable.attrs['dtype']!r}")


def _is_nan(value: Any) -> bool:
    values = np.asarray(value)
    return values.size == 1 and values.dtype.kind == "f" and bool(np.isnan(values).all())


def _check_sizes(field: str, variable: Variable, sizes: dict[str, int], header: Header) -> None:
    for dim, size in zip(variable.dims, variable.shape, strict=True):
        expected = sizes.setdefault(dim, size)
        if size != expected:
            said = (
                f"the header says {SIZE_ATTRS[dim]}={expected}"
                if dim in header.sizes
                else f"other variables have {expected}"
            )
            raise Problem(f"its variable {field!r} has length {size} along {dim!r}, but {said}")
        if size == 0 and dim in ("component", "feature", "chain", "draw"):
            raise Problem(f"its variable {field!r} has no entries along {dim!r}")


# ---------------------------------------------------------------------- values
def check_values(
    parameters: Any,
    groups: Mapping[str, Any],
    covariance_type: str,
    *,
    coordinates: bool = True,
    family: str = "gaussian",
    missing: str = "error",
) -> None:
    """Check the values of a result's parameters and posterior groups.

    Parameters
    ----------
    parameters : xarray.Dataset
        The ``bayesgmm`` group: ``weights``, ``means``, ``covariances``, ``feature``.
    groups : mapping of group name to xarray.Dataset
        The posterior groups (empty for an EM fit).
    covariance_type : str
    coordinates : bool, default=True
        Also check the coordinates (components numbered 0..K-1, the same features in
        every group).
    family : str, default="gaussian"
        The header's family: a Student-t result holds positive ``dof``, a Gaussian none.
    missing : str, default="error"
        The header's ``missing``: "marginal" allows NaN (missing values) in the
        ``observed_data`` group, never infinity.

    Raises
    ------
    Problem
        Naming the field, and the chain, draw or component where it fails.
    """
    noise = _noise_header(parameters.attrs)["noise_weight"]
    _check_mixture(parameters, covariance_type, "", (), noise or 0.0)
    _check_noise_box(parameters, noise)
    _check_prior(parameters, _prior_header(parameters.attrs)["prior_dof"] is not None)
    _check_dof(parameters, groups.get("posterior"), family)
    if coordinates:
        _check_coordinates(parameters, groups)
    if "posterior" in groups:
        _check_mixture(groups["posterior"], covariance_type, "posterior/", ("chain", "draw"))
    stats = groups.get("sample_stats")
    if stats is not None and "label_permutation" in stats:
        perm = np.asarray(stats["label_permutation"].transpose("chain", "draw", ...).values)
        bad = ~(np.sort(perm, axis=-1) == np.arange(perm.shape[-1])).all(axis=-1)
        _refuse_where(
            bad,
            "sample_stats/label_permutation",
            ("chain", "draw"),
            "is not a permutation of the components",
        )
    for group, rule, test in (
        ("log_likelihood", "is NaN or +inf", lambda v: np.isnan(v) | (v == np.inf)),
        ("observed_data", *_OBSERVED_RULES[missing == "marginal"]),
        ("constant_data", "is not finite", lambda v: ~np.isfinite(v)),
    ):
        for name, variable in getattr(groups.get(group), "data_vars", {}).items():
            if test(np.asarray(variable.values)).any():
                raise Problem(f"its variable '{group}/{name}' has a value that {rule}")


_OBSERVED_RULES = {
    False: ("is not finite", lambda v: ~np.isfinite(v)),
    True: ("is infinite", np.isinf),  # NaN marks a missing value
}


def _finite_together(
    parameters: Any, names: tuple[str, ...], stated: bool, attribute: str, what: str
) -> bool:
    """Whether the variables ``names`` of one optional part (``what``) are there: all of
    them, finite, when the header states the part (its ``attribute``), none otherwise."""
    present = [name for name in names if name in parameters]
    if not stated:
        if present:
            raise Problem(f"it holds {present} but no {attribute!r} attribute")
        return False
    if len(present) < len(names):
        raise Problem(f"it is damaged or incomplete: {what} needs {list(names)}")
    for name in names:
        if not np.isfinite(np.asarray(parameters[name].values, dtype=np.float64)).all():
            raise Problem(f"its variable {name!r} is NaN or infinite")
    return True


def _check_noise_box(parameters: Any, noise: float | None) -> None:
    """A noise component's box: all three variables, finite, positive half widths."""
    names = ("noise_centre", "noise_axes", "noise_half_widths")
    if not _finite_together(parameters, names, noise is not None, "noise_weight", "the noise"):
        return
    if not (np.asarray(parameters["noise_half_widths"].values) > 0).all():
        raise Problem("its variable 'noise_half_widths' is not positive")


def _check_prior(parameters: Any, stated: bool) -> None:
    """A conjugate prior's mean (finite) and scale (a positive number, or a symmetric
    positive definite matrix), with its attributes or not at all."""
    names = ("prior_mean", "prior_scale")
    if not _finite_together(parameters, names, stated, "prior_shrinkage", "the prior"):
        return
    scale = np.asarray(parameters["prior_scale"].values, dtype=np.float64)
    if scale.ndim == 0:
        if not scale > 0:
            raise Problem("its variable 'prior_scale' is not positive")
        return
    if not np.allclose(scale, scale.T):  # what GaussianMixture(prior=...) accepts
        raise Problem("its variable 'prior_scale' is not symmetric")
    try:
        np.linalg.cholesky(scale)
    except np.linalg.LinAlgError:
        raise Problem("its variable 'prior_scale' is not positive definite") from None


def _check_mixture(
    dataset: Any, covariance_type: str, prefix: str, lead: tuple, noise: float = 0.0
) -> None:
    """Weights on the simplex (beside a noise weight), finite real means, symmetric
    positive definite covariances."""
    dims = {
        "weights": (*lead, "component"),
        "means": (*lead, "component", "feature"),
        "covariances": (*lead, *native_dims(covariance_type)),
    }
    values = {name: _real_values(dataset, name, prefix, order) for name, order in dims.items()}
    for name, array in values.items():
        _refuse_where(~np.isfinite(array), prefix + name, dims[name], "is NaN or infinite")
    weights = values["weights"]
    _refuse_where(weights < 0, prefix + "weights", dims["weights"], "is negative")
    tolerance = 2 * (weights.shape[-1] + 2) * _UNIT_ROUNDOFF  # K roundings of terms summing to 1
    total = weights.sum(axis=-1) + noise
    off = np.abs(total - 1.0) > tolerance
    if off.any():
        worst = total[np.unravel_index(np.argmax(off), off.shape)] if off.ndim else total
        raise Problem(
            f"its variable '{prefix}weights'{_where(off, lead)} sums to {worst:.17g}, "
            f"not 1 (within {tolerance:.1g})"
        )
    if dims["covariances"][-1] == "feature_bis":
        _check_matrices(values["covariances"], prefix + "covariances", dims["covariances"][:-2])
    else:
        _refuse_where(
            values["covariances"] <= 0,
            prefix + "covariances",
            dims["covariances"],
            "is not positive (a variance)",
        )


def _check_dof(parameters: Any, posterior: Any, family: str) -> None:
    """A t family's degrees of freedom: present, finite and positive (a Gaussian: absent)."""
    if family == "gaussian":
        if "dof" in parameters:
            raise Problem("it holds 'dof' (degrees of freedom), but its family is 'gaussian'")
        return
    if "dof" not in parameters:
        raise Problem(f"it is damaged or incomplete: family {family!r} needs 'dof'")
    for prefix, dataset, lead in (
        ("", parameters, ()),
        ("posterior/", posterior, ("chain", "draw")),
    ):
        if dataset is None or "dof" not in dataset:
            continue
        dims = (*lead, "component")
        values = _real_values(dataset, "dof", prefix, dims)
        _refuse_where(
            ~(np.isfinite(values) & (values > 0)),
            prefix + "dof",
            dims,
            "is not a positive finite number of degrees of freedom",
        )


def _real_values(dataset: Any, name: str, prefix: str, dims: tuple) -> np.ndarray:
    values = np.asarray(dataset[name].transpose(*dims).values)
    if values.dtype.kind not in "fiu":
        raise Problem(f"its variable '{prefix}{name}' holds {values.dtype} values, not reals")
    return values.astype(np.float64, copy=False)


def _check_matrices(matrices: np.ndarray, field: str, dims: tuple) -> None:
    """Symmetric within rounding, and a Cholesky factor exists; ``dims`` lead the matrices."""
    n_features = matrices.shape[-1]
    scale = np.sqrt(np.abs(np.diagonal(matrices, axis1=-2, axis2=-1)))
    bound = 2 * (n_features + 32) * _UNIT_ROUNDOFF * (scale[..., :, None] * scale[..., None, :])
    asymmetric = (np.abs(matrices - np.swapaxes(matrices, -1, -2)) > bound).any(axis=(-2, -1))
    _refuse_where(asymmetric, field, dims, "is not symmetric")
    try:
        np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        flat = matrices.reshape(-1, n_features, n_features)
        failed = np.zeros(len(flat), dtype=bool)
        for index, matrix in enumerate(flat):
            try:
                np.linalg.cholesky(matrix)
            except np.linalg.LinAlgError:
                failed[index] = True
        _refuse_where(failed.reshape(matrices.shape[:-2]), field, dims, "is not positive definite")


def _where(bad: np.ndarray, dims: tuple) -> str:
    """`` (chain 0, draw 3)``: the first index where ``bad`` holds, or ``""`` for a scalar."""
    if bad.ndim == 0:
        return ""
    first = np.argwhere(bad)[0]
    return " (" + ", ".join(f"{dim} {int(i)}" for dim, i in zip(dims, first, strict=False)) + ")"


def _refuse_where(bad: np.ndarray, field: str, dims: tuple, what: str) -> None:
    if np.any(bad):
        raise Problem(f"its variable {field!r}{_where(np.asarray(bad), dims)} {what}")


def _check_coordinates(parameters: Any, groups: Mapping[str, Any]) -> None:
    features = [str(name) for name in parameters["feature"].values]
    n_components = parameters.sizes["component"]
    for group, dataset in {PARAMETER_GROUP: parameters, **groups}.items():
        prefix = "" if group == PARAMETER_GROUP else f"{group}/"
        for name in ("feature", "feature_bis"):
            if name in dataset.coords and [str(v) for v in dataset[name].values] != features:
                raise Problem(
                    f"its coordinate '{prefix}{name}' differs from 'feature' ({features})"
                )
        if "component" in dataset.coords:
            if not np.array_equal(dataset["component"].values, np.arange(n_components)):
                raise Problem(f"its coordinate '{prefix}component' is not 0..{n_components - 1}")
