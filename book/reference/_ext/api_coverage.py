"""Fail the build (a warning under -W) when a public name of evaltoolkit is missing from the API reference.

The API pages in ``reference/api/`` list functions and classes by topic rather than with one
``automodule :members:``, so a function added to a subpackage's ``__all__`` would not appear by itself. This
check compares every ``__all__`` with the objects the pages document and names the ones left out.
"""

from __future__ import annotations

import importlib
from typing import Any

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Modules whose ``__all__`` the API reference must cover, and the page that documents each.
COVERED = {
    "evaltoolkit.data": "reference/api/data.md",
    "evaltoolkit.series": "reference/api/series.md",
    "evaltoolkit.its": "reference/api/its.md",
    "evaltoolkit.rom": "reference/api/rom.md",
    "evaltoolkit.prepost": "reference/api/prepost.md",
    "evaltoolkit.synth": "reference/api/synth.md",
    "evaltoolkit.privacy": "reference/api/privacy.md",
    "evaltoolkit.disclosure": "reference/api/disclosure.md",
    "evaltoolkit.spc": "reference/api/spc.md",
    "evaltoolkit.economics": "reference/api/economics.md",
    "evaltoolkit.schemas": "reference/api/schemas.md",
    "evaltoolkit.errors": "reference/api/schemas.md",
}


def _check(app: Any, env: Any) -> None:
    documented = set(env.get_domain("py").objects)
    for modname, page in COVERED.items():
        module = importlib.import_module(modname)
        missing = sorted(n for n in getattr(module, "__all__", ()) if f"{modname}.{n}" not in documented)
        if missing:
            logger.warning(
                "API reference: %s exports %s, which %s does not document; add %s to that page",
                modname,
                ", ".join(missing),
                page,
                "it" if len(missing) == 1 else "them",
            )


def setup(app: Any) -> dict:
    app.connect("env-check-consistency", _check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
