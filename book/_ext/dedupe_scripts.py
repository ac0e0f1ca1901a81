"""Drop duplicated inline scripts from every page (a Jupyter Book 1.0.4 quirk).

sphinx-thebe and sphinx-togglebutton register their inline configuration scripts twice (once with an empty
file name and once with none), so every page declares ``const THEBE_JS_URL`` twice and the browser reports a
SyntaxError. Identical scripts (same file, same attributes) are kept once.
"""

from __future__ import annotations

from typing import Any


def _dedupe(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for js in scripts:
        attributes = getattr(js, "attributes", {}) or {}
        key = (str(getattr(js, "filename", "") or ""), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app: Any) -> dict:
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
