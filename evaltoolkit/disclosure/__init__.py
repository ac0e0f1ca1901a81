"""Statistical disclosure control: one layer from complete exact results to publishable results.

Declare a role for every column (:class:`Role`, :class:`Col`), pick a policy (:func:`get_policy`) and
publish a table (:func:`publish_table`) or a whole output in one pass (:func:`publish`), which adds
secondary suppression across declared margins (:class:`RowSum`, :class:`ColumnSum`, :class:`TableSum`)
and checks the result with a differencing attack (:func:`recoverable`). Prose: :func:`publish_text_counts`
and :class:`Phrase`. The report's counts and estimate tables: :func:`publish_count`, :func:`is_small`,
:func:`blank_small` and :func:`round_published`; the renderers' guard: :func:`assert_published`. Worked
use and sources: the book page ``guide/disclosure``.
"""

from evaltoolkit.disclosure.attack import ATTACK_COLUMNS, recoverable
from evaltoolkit.disclosure.estimates import (
    COUNT_DERIVED_FIELDS,
    EFFECT_SIZE_TERMS,
    ESTIMATE_FIELDS,
    blank_small,
    few_words,
    is_small,
    publish_count,
    publish_count_text,
    round_published,
)
from evaltoolkit.disclosure.guard import assert_published, assert_published_table, results_policy
from evaltoolkit.disclosure.margins import Cell, ColumnSum, Relation, RowSum, TableSum, expand_relations
from evaltoolkit.disclosure.output import Published, Table, publish
from evaltoolkit.disclosure.policy import (
    MODEL_DIGITS,
    NHS,
    NONE,
    OPENSAFELY,
    OPENSAFELY_MIDPOINT6,
    P_VALUE_DIGITS,
    POLICIES,
    PUBLISHED_DECIMALS,
    STD_ERROR_DIGITS,
    SUPPRESSED,
    UKLLC,
    DisclosureError,
    Policy,
    Source,
    get_policy,
)
from evaltoolkit.disclosure.roles import Col, Role
from evaltoolkit.disclosure.secondary import complementary_suppression
from evaltoolkit.disclosure.tables import ACTION_COLUMNS, publish_table, round_person_time
from evaltoolkit.disclosure.text import Count, Mean, Phrase, Share, publish_text_counts

__all__ = [
    "ACTION_COLUMNS",
    "ATTACK_COLUMNS",
    "COUNT_DERIVED_FIELDS",
    "EFFECT_SIZE_TERMS",
    "ESTIMATE_FIELDS",
    "MODEL_DIGITS",
    "NHS",
    "NONE",
    "OPENSAFELY",
    "OPENSAFELY_MIDPOINT6",
    "POLICIES",
    "PUBLISHED_DECIMALS",
    "P_VALUE_DIGITS",
    "STD_ERROR_DIGITS",
    "SUPPRESSED",
    "UKLLC",
    "Cell",
    "Col",
    "ColumnSum",
    "Count",
    "DisclosureError",
    "Mean",
    "Phrase",
    "Policy",
    "Published",
    "Relation",
    "Role",
    "RowSum",
    "Share",
    "Source",
    "Table",
    "TableSum",
    "assert_published",
    "assert_published_table",
    "blank_small",
    "complementary_suppression",
    "expand_relations",
    "few_words",
    "get_policy",
    "is_small",
    "publish",
    "publish_count",
    "publish_count_text",
    "publish_table",
    "publish_text_counts",
    "recoverable",
    "results_policy",
    "round_person_time",
    "round_published",
]
