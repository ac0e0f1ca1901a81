"""evaltoolkit: reproducible evaluation of mental-health service changes.

Subpackages
-----------
- :mod:`evaltoolkit.data`: read extracts, map columns, validate, clean with a data-quality table.
- :mod:`evaltoolkit.series`: event-level extracts to zero-filled period series.
- :mod:`evaltoolkit.its`: interrupted time series (segmented regression), method comparison, power.
- :mod:`evaltoolkit.rom`: routine outcome measures: scoring, reliable and clinically significant change.
- :mod:`evaltoolkit.prepost`: before/after: per-patient mirror image, comparison cohorts, paired change.
- :mod:`evaltoolkit.spc`: Making Data Count SPC charts (XmR, Laney p′/u′), icons and a board-pack table.
- :mod:`evaltoolkit.synth`: seeded synthetic extracts with known truth.
- :mod:`evaltoolkit.protocol`: the pre-specified analysis plan (YAML) and its validation.
- :mod:`evaltoolkit.report`: run a protocol end to end into results.json, figures, tables and a report.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evaltoolkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
