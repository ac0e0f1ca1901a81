"""Build the Jupyter Book with Sphinx's parallel jobs.

Jupyter Book 1.x's ``jupyter-book build`` has no ``-j`` option, although the Sphinx build it wraps takes
one (``jupyter_book.sphinx.build_sphinx(jobs=...)``). Executing the notebook pages is most of the build, and
MyST-NB executes each page while Sphinx reads it, so reading in parallel executes pages in parallel.

Usage (the same arguments as ``jupyter-book build``)::

    python tools/build_book.py book -W -n --keep-going

``BOOK_JOBS`` sets the number of processes (default: the number of CPUs).
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

import jupyter_book.cli.main as cli
import jupyter_book.sphinx

# Extensions loaded by this book that do not say whether they are safe for parallel reading (Sphinx would
# then read serially and warn, an error under -W), with why they are.
_UNDECLARED = {
    "sphinx_multitoc_numbering": "only replaces how section numbers are assigned, which Sphinx does in the "
    "main process after reading",
    "sphinx_jupyterbook_latex": "its transforms act on LaTeX builds only; this is an HTML build",
    "sphinx-mathjax-offline": "copies the MathJax files once, when the build has finished",
}


def _declare_parallel_safe() -> None:
    import importlib

    for name in _UNDECLARED:
        module = importlib.import_module(name)
        setup = module.setup

        def declared(app: Any, _setup: Any = setup) -> dict[str, bool]:
            meta = _setup(app) or {}
            return {**meta, "parallel_read_safe": True, "parallel_write_safe": True}

        module.setup = declared


def main() -> None:
    jobs = int(os.environ.get("BOOK_JOBS") or os.cpu_count() or 1)
    _declare_parallel_safe()
    # the build command imports build_sphinx from jupyter_book.sphinx when it runs: patch it there
    jupyter_book.sphinx.build_sphinx = functools.partial(jupyter_book.sphinx.build_sphinx, jobs=jobs)
    sys.argv = ["jupyter-book", "build", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
