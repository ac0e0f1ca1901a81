"""Column roles: what a column of a results table is, so the disclosure layer knows how to publish it."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from evaltoolkit.disclosure.policy import DisclosureError

__all__ = ["RESULT_COUNT_KEYS", "Col", "Role", "as_col"]


class Role(StrEnum):
    """The role of a column in a table to publish.

    ``count``
        People or events: published by the policy (``"*"``, rounded).
    ``denominator``
        A count used as a denominator: published as a count.
    ``n``
        The number of people behind an estimate: published as a count (its exact value decides blanking).
    ``rate``, ``proportion``, ``percent``
        Recomputed from the *published* numerator and denominator (``Col(numerator=, denominator=)``) as
        ``numerator / denominator * per`` (``per`` 1 for a proportion, 100 for a percent); blank when the
        numerator or denominator is suppressed or small.
    ``mean``
        A mean or SD of ``n`` people: blank when ``n`` is small, else to ``decimals``.
    ``estimate``
        A model estimate (or interval bound) resting on ``n`` people: blank when ``n`` is small, else to
        ``decimals``.
    ``std_error``
        Blank when ``n`` is small, else to ``se_digits`` significant digits.
    ``p_value``
        Blank when ``n`` is small, else to ``p_digits`` significant digits.
    ``statistic``
        A test statistic: blank when ``n`` is small, else to ``decimals``.
    ``df``
        Degrees of freedom computed from exact counts: published blank (they give the exact ``n`` away).
    ``person_time``
        Person-time: rounded so it cannot reveal a count, to 2 significant digits but never finer than the
        nearest 5 units (halves up): 3 → 5, 57 → 55, 1234 → 1200. Blank when ``n`` is known and small.
    ``identifier``
        Never published: the column is dropped (and the drop recorded).
    ``free_text``
        Never published: dropped.
    ``label``, ``date``, ``period``
        Categories, dates and periods: kept as they are.
    ``model``
        A model-based quantity resting on no count (fitted totals, costs): kept at ``model_digits``
        significant digits.
    """

    COUNT = "count"
    DENOMINATOR = "denominator"
    N = "n"
    RATE = "rate"
    PROPORTION = "proportion"
    PERCENT = "percent"
    MEAN = "mean"
    ESTIMATE = "estimate"
    STD_ERROR = "std_error"
    P_VALUE = "p_value"
    STATISTIC = "statistic"
    DF = "df"
    PERSON_TIME = "person_time"
    IDENTIFIER = "identifier"
    FREE_TEXT = "free_text"
    LABEL = "label"
    DATE = "date"
    PERIOD = "period"
    MODEL = "model"


COUNT_ROLES = frozenset({Role.COUNT, Role.DENOMINATOR, Role.N})
RATIO_ROLES = frozenset({Role.RATE, Role.PROPORTION, Role.PERCENT})
RESTING_ROLES = frozenset({Role.MEAN, Role.ESTIMATE, Role.STD_ERROR, Role.P_VALUE, Role.STATISTIC})
DROPPED_ROLES = frozenset({Role.IDENTIFIER, Role.FREE_TEXT})
KEPT_ROLES = frozenset({Role.LABEL, Role.DATE, Role.PERIOD})


@dataclass(frozen=True)
class Col:
    """A column's role with its options.

    Parameters
    ----------
    role : Role or str
        See :class:`Role`.
    numerator, denominator : str, optional
        For ``rate``/``proportion``/``percent``: the count columns (same table) it is recomputed from.
    per : float, optional
        Multiplier of a rate (default 1; a ``percent`` uses 100).
    n : str, optional
        Column holding the number of people behind this column (overrides the table's ``n``).
    blank_where : (str, sequence), optional
        ``(column, values)``: published blank on the rows where ``column`` is one of ``values`` (e.g. the
        standard error of a standardised effect size, ``("term", ("d_z", "d_av", "g_av"))``).

    Examples
    --------
    >>> Col("percent", numerator="improved", denominator="analysed").per
    100.0
    """

    role: Role | str
    numerator: str | None = None
    denominator: str | None = None
    per: float | None = None
    n: str | None = None
    blank_where: tuple[str, Sequence[Hashable]] | None = None

    def __post_init__(self) -> None:
        try:
            role = Role(self.role)
        except ValueError:
            raise DisclosureError(
                f"Col: unknown role {self.role!r}; roles are {[r.value for r in Role]}"
            ) from None
        object.__setattr__(self, "role", role)
        if self.per is None:
            object.__setattr__(self, "per", 100.0 if role is Role.PERCENT else 1.0)
        else:
            object.__setattr__(self, "per", float(self.per))


def as_col(spec: Role | str | Col | Mapping[str, object]) -> Col:
    """A :class:`Col` from a role name, a :class:`Role`, a mapping of :class:`Col` arguments or a ``Col``.

    Examples
    --------
    >>> as_col("count").role is Role.COUNT, as_col({"role": "rate", "numerator": "e"}).numerator
    (True, 'e')
    """
    if isinstance(spec, Col):
        return spec
    if isinstance(spec, Role | str):
        return Col(spec)
    if isinstance(spec, Mapping):
        return Col(**spec)  # type: ignore[arg-type]
    raise DisclosureError(f"as_col: a role is a name, a Role, a Col or a mapping, not {type(spec).__name__}")


RESULT_COUNT_KEYS: frozenset[str] = frozenset(
    {
        "n",
        "n_started",
        "n_valid_pre",
        "n_valid_post",
        "n_analysed",
        "n_completers",
        "n_dropouts",
        "n_classified",
        "n_rows",
        "n_excluded",
        "rows_read",
        "rows_excluded",
        "rows_kept",
        "numerator",
        "denominator",
        "patients",
        "excluded_patients",
        "person_years",
        "observed_n",
        "attendances",
        "admissions",
        "bed_days",
    }
)
"""Keys holding counts of people, events or rows: always published (0, rounded, or ``"*"``) under the
policy; the report's results.json schema uses this set (``evaltoolkit.report.results_schema.COUNT_KEYS``)."""
