"""The documentation builds with warnings as errors (``sphinx-build -W``), as CI requires."""

import pytest

sphinx_build = pytest.importorskip("sphinx.cmd.build")
pytest.importorskip("pydata_sphinx_theme")
pytest.importorskip("numpydoc")


def test_sphinx_build_has_no_warnings(tmp_path):
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    status = sphinx_build.build_main(["-W", "-q", "-b", "html", str(docs), str(tmp_path / "html")])
    assert status == 0
    assert (tmp_path / "html" / "index.html").is_file()
