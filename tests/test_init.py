"""Tests of the package itself: submodules load lazily as attributes, the docstring lists them."""

import subprocess
import sys

import pytest

import wgf


def test_every_submodule_is_an_attribute():
    for name in wgf.SUBMODULES:
        module = getattr(wgf, name)
        assert module.__name__ == f"wgf.{name}"
    assert set(wgf.SUBMODULES) <= set(dir(wgf))
    assert "zoo" in wgf.SUBMODULES and "ot" in wgf.SUBMODULES


def test_submodules_load_on_first_use_only():
    code = (
        "import sys, wgf\n"
        "assert 'wgf.zoo' not in sys.modules and 'torch' not in sys.modules\n"
        "wgf.zoo\n"
        "assert 'wgf.zoo' in sys.modules\n"
        "print(wgf.ot.w2_gaussian([0.0], [[1.0]], [1.0], [[1.0]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) == pytest.approx(1.0)


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        wgf.nope  # noqa: B018


def test_the_docstring_names_every_submodule():
    missing = [n for n in wgf.SUBMODULES if f"``wgf.{n}``" not in wgf.__doc__]
    assert not missing, f"wgf/__init__.py's docstring does not describe {missing}"
