"""Compiles the message catalogs (.po -> .mo) whenever the package is built or installed."""

import importlib.util
from pathlib import Path

from setuptools import setup

COMPILER = Path(__file__).resolve().parent / "bot" / "i18n" / "compile.py"


def compile_catalogs() -> None:
    # Loaded by path: the package itself cannot be imported before its dependencies are in.
    spec = importlib.util.spec_from_file_location("tandem_i18n_compile", COMPILER)
    assert spec is not None and spec.loader is not None
    compiler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compiler)
    for language in compiler.sources():
        compiler.compile_language(language)


# Before setup(): its package discovery must see the folders the .mo files are written to,
# or setuptools warns that locale/en (made by the first compile) is not in the package.
compile_catalogs()
setup()
