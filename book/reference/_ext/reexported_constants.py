"""autodoc: give constants re-exported by evaltoolkit subpackages the comment written where they are defined.

``evaltoolkit.prepost.ESTIMATE_COLUMNS`` is defined (with a ``#:`` or string doc-comment) in
``evaltoolkit/prepost/_common.py`` and only imported into ``evaltoolkit/prepost/__init__.py``. autodoc
documents it under the package name, finds no doc-comment there, and falls back to the docstring of the
value's *type* (``tuple``, ``dict``, ``str``), which is wrong for the reader and not valid reStructuredText.
This handler replaces that fallback with the doc-comment from the module that defines the constant, or with
nothing when there is none. Constants documented where they are defined are left alone. It runs after
napoleon, so the comment is used as written (napoleon would read "Some words: more words" as a type).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer


@cache
def _attr_docs(modname: str) -> dict[str, list[str]]:
    """Module-level doc-comments of ``modname``: ``{name: lines}`` (empty if the source is unavailable)."""
    try:
        docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
    except PycodeError:
        return {}
    return {name: list(lines) for (scope, name), lines in docs.items() if scope == ""}


def _definition_doc(package: str, name: str) -> list[str] | None:
    """Doc-comment of ``name`` in ``package`` itself or in one of its direct submodules."""
    module = importlib.import_module(package)
    candidates = [package]
    if hasattr(module, "__path__"):
        candidates += sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules(module.__path__))
    for modname in candidates:
        lines = _attr_docs(modname).get(name)
        if lines is not None:
            return lines
    return None


def _process(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    if what != "data" or not name.startswith("evaltoolkit."):
        return
    package, _, attr = name.rpartition(".")
    if attr in _attr_docs(package):
        return  # documented where autodoc looked: nothing to fix
    lines[:] = _definition_doc(package, attr) or []


def setup(app: Any) -> dict:
    app.connect("autodoc-process-docstring", _process, priority=600)  # after napoleon (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
