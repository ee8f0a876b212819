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


def test_sphinx_build_writes_nothing_into_the_source_tree(tmp_path):
    """Generated files (the examples' plots too) go to the build's output folder: no file
    under docs/ is created or changed by a build."""
    import time
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    started = time.time() - 1.0  # file systems round modification times

    def written():
        return [
            str(path.relative_to(docs))
            for path in docs.rglob("*")
            if "__pycache__" not in path.parts and path.stat().st_mtime > started
        ]

    assert written() == []
    sphinx_build.build_main(["-q", "-b", "html", str(docs), str(tmp_path / "html")])
    assert written() == []
