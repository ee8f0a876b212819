"""Plug-in objects that compiled code can call: ``model.estimate(...)`` inside a kernel.

A covariance model (or an engine) is a Python object that carries compiled functions.
Subclasses of :class:`CompiledPlugin` declare them in :meth:`~CompiledPlugin.kernels`;
passed to a numba function, such an object has a numba type (:class:`PluginType`) whose
methods are those functions, resolved when the caller compiles. So one compiled EM
loop serves every covariance model without branching on a name, and compiled code
that takes a plug-in is cached on disk like any other: the plug-in's type is keyed by
its name and by a fingerprint of the sources of :mod:`bayesgmm.kernels` and
:mod:`bayesgmm.covariance`. numba invalidates a cached function only when its own
file changes; the fingerprint makes a change to any plug-in's kernel recompile the
compiled callers too.

The methods compiled code may call are named in :data:`METHOD_NAMES` (the interface of
a covariance model and of an engine).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from numba.core import types
from numba.extending import (
    NativeValue,
    models,
    overload_method,
    register_model,
    typeof_impl,
    unbox,
)

__all__ = ["CompiledPlugin", "PluginType", "METHOD_NAMES", "source_fingerprint"]

#: Methods that compiled code may call on a plug-in.
METHOD_NAMES = (
    # a covariance model: its kernel layout's kernels and its own M-step
    "fill_features",
    "coefficients",
    "likelihood_terms",
    "statistics",
    "estimate",
    "factorise",
    "offsets",
    "row_quadratic",
    # a family
    "transform",
    "update_dof",
    "scaled",
    # an engine
    "e_step",
)

_PACKAGE = Path(__file__).resolve().parents[1]


@functools.cache
def source_fingerprint() -> str:
    """A short hash of the kernel and covariance sources (part of every plug-in's type)."""
    digest = hashlib.sha1()
    for folder in ("kernels", "covariance"):
        for path in sorted((_PACKAGE / folder).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    digest.update((_PACKAGE / "family.py").read_bytes())
    return digest.hexdigest()[:12]


class PluginType(types.Type):
    """numba type of a plug-in: opaque, with the plug-in's compiled functions as methods."""

    def __init__(self, key: str, functions: dict[str, Any]) -> None:
        self.functions = functions  # not part of the type's identity: the key is
        super().__init__(name=f"Plugin({key})")


register_model(PluginType)(models.OpaqueModel)


@unbox(PluginType)
def _unbox(typ, obj, c):  # noqa: ANN001 - numba's signature
    return NativeValue(c.context.get_dummy_value())


class CompiledPlugin:
    """Base of objects whose compiled functions compiled code may call as methods."""

    #: Names this plug-in in its numba type (with the source fingerprint).
    plugin_key: str

    def kernels(self) -> dict[str, Any]:
        """Method name -> numba dispatcher, for the names in :data:`METHOD_NAMES`."""
        raise NotImplementedError

    @functools.cached_property
    def numba_type(self) -> PluginType:
        """The numba type of this object (built once)."""
        functions = self.kernels()
        unknown = set(functions) - set(METHOD_NAMES)
        if unknown:
            raise TypeError(f"{type(self).__name__} declares unknown kernels {sorted(unknown)}")
        return PluginType(f"{self.plugin_key}@{source_fingerprint()}", functions)


@typeof_impl.register(CompiledPlugin)
def _typeof(value: CompiledPlugin, context: Any) -> PluginType:
    return value.numba_type


def _register(name: str) -> None:
    @overload_method(PluginType, name)
    def _method(self, *args):  # noqa: ANN001 - numba's signature
        function = self.functions.get(name)
        if function is None:
            return None

        def call(self, *args):
            return function(*args)

        return call


for _name in METHOD_NAMES:
    _register(_name)
