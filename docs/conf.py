"""Sphinx configuration of the bayesgmm documentation (pydata-sphinx-theme, numpydoc)."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import bayesgmm  # noqa: E402

# The EM examples run during the build (matplotlib's plot directive) in their fast mode,
# writing their own PNG files into the build's output folder (never the source tree):
# setup() below points them there once the builder knows its folder.
os.environ.setdefault("BAYESGMM_FAST", "1")

project = "bayesgmm"
author = "bayesgmm developers"
copyright = "2026, bayesgmm developers"
version = release = bayesgmm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
]
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 90)]
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_typehints = "none"
autodoc_default_options = {"members": False}

intersphinx_mapping = {}  # no network at build time: references stay plain text
nitpicky = False
templates_path = []
exclude_patterns = ["_build"]
html_theme = "pydata_sphinx_theme"
html_title = "bayesgmm"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = []


def _examples_out(app) -> None:
    os.environ["BAYESGMM_EXAMPLES_OUT"] = os.path.join(app.outdir, "_example-plots")


def setup(app) -> None:
    app.connect("builder-inited", _examples_out)
