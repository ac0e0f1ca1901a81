"""Whether a cleaned extract can be used at all: it has data rows, and not every row was excluded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from evaltoolkit.data.clean import CleanExtract
from evaltoolkit.errors import ExtractValidationError

__all__ = ["check_usable", "unusable_reason"]


def unusable_reason(extract: CleanExtract | None) -> str | None:
    """Why ``extract`` cannot be used (no data rows, or every row excluded, by which rules), else ``None``.

    ``None`` as the argument stands for an extract with no rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from evaltoolkit.data import clean_extract
    >>> spells = pd.DataFrame({"spell_id": ["S1", "S2"], "patient_id": ["P1", "P2"], "site": ["B", "B"],
    ...                        "admitted": ["2024-01-02", "2024-01-05"],
    ...                        "discharged": ["2024-01-09", "2024-01-07"]})
    >>> print(unusable_reason(clean_extract(spells, "spells", sites=["A"])))  # doctest: +NORMALIZE_WHITESPACE
    every one of its 2 rows is excluded: 2 by rule unknown_site (column site: site not among the 1 site
    codes given (A))
    >>> unusable_reason(clean_extract(spells, "spells", sites=["A", "B"])) is None
    True
    """
    n_input = 0 if extract is None else int(extract.n_input)
    if n_input == 0:
        return "the extract is empty (a header and no data rows)"
    assert extract is not None
    if extract.n_output > 0:
        return None
    quality = extract.quality
    reasons = ""
    if len(quality) and "n_excluded" in quality.columns:
        hit = quality[quality["n_excluded"] > 0].sort_values("n_excluded", ascending=False, kind="stable")
        parts = []
        for r in hit.itertuples():
            detail = getattr(r, "detail", None)
            extra = f": {detail}" if isinstance(detail, str) and detail else ""
            parts.append(f"{int(r.n_excluded)} by rule {r.rule} (column {r.column}{extra})")
        reasons = "; ".join(parts)
    return f"every one of its {n_input} rows is excluded" + (f": {reasons}" if reasons else "")


def check_usable(extracts: Mapping[str, CleanExtract], files: Mapping[str, Path] | None = None) -> None:
    """Raise :class:`~evaltoolkit.errors.ExtractValidationError` naming each empty or wholly excluded extract.

    Examples
    --------
    >>> import pandas as pd
    >>> from evaltoolkit.data import clean_extract
    >>> empty = clean_extract(pd.DataFrame(columns=["site", "period", "population"]), "population")
    >>> check_usable({"population": empty})
    Traceback (most recent call last):
    ...
    evaltoolkit.errors.ExtractValidationError: population: the extract is empty (a header and no data rows)
    """
    lines = []
    for kind, extract in extracts.items():
        reason = unusable_reason(extract)
        if reason:
            where = f"{kind} ({files[kind].name})" if files and kind in files else kind
            lines.append(f"{where}: {reason}")
    if lines:
        raise ExtractValidationError("\n".join(lines))
