"""evaltoolkit: reproducible evaluation of mental-health service changes.

Subpackages
-----------
- :mod:`evaltoolkit.data`: read extracts, map columns, validate, clean with a data-quality table.
- :mod:`evaltoolkit.series`: event-level extracts to zero-filled period series.
- :mod:`evaltoolkit.synth`: seeded synthetic extracts with known truth.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evaltoolkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
