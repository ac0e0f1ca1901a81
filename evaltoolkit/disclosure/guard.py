"""The renderers' guard: results reach a renderer only when every count in them is published.

:func:`assert_published` is called at the start of :func:`~evaltoolkit.report.build_report`,
:func:`~evaltoolkit.report.save_figures` and :func:`~evaltoolkit.report.write_outputs`, so the Markdown, HTML
and book pages and the figures never see an exact count the policy would suppress or round.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from evaltoolkit.disclosure.policy import DisclosureError, Policy, get_policy
from evaltoolkit.disclosure.roles import RESULT_COUNT_KEYS

__all__ = ["assert_published", "assert_published_table", "results_policy"]


def results_policy(results: Mapping[str, Any]) -> Policy:
    """The policy a results dictionary was published under (its ``suppression`` block).

    A results dictionary without a ``suppression`` block is taken to follow the default (NHS) rule.

    Examples
    --------
    >>> results_policy({"suppression": {"rule": "ukllc"}}).name
    'ukllc'
    >>> results_policy({"suppression": {"rule": "custom", "low": 1, "high": 4, "round_to": 1}}).suppress
    (1, 4)
    >>> results_policy({}).name
    'nhs'
    """
    sup = results.get("suppression")
    if not isinstance(sup, Mapping):
        return get_policy("nhs")
    rule = sup.get("rule", "nhs")
    if rule == "custom":
        return get_policy({k: sup[k] for k in ("low", "high", "round_to")})
    return get_policy(rule)


def _walk(obj: Any, path: str, keys: frozenset[str]) -> Iterator[tuple[str, int]]:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            here = f"{path}.{k}"
            if k in keys and isinstance(v, int) and not isinstance(v, bool):
                yield here, v
            yield from _walk(v, here, keys)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]", keys)


def assert_published(
    results: Mapping[str, Any],
    policy: Policy | str | Mapping[str, Any] | None = None,
    *,
    count_keys: Iterable[str] | None = None,
) -> None:
    """Raise unless every count in ``results`` is as ``policy`` publishes it.

    Walks the results (any depth) and checks every integer under a count key
    (``evaltoolkit.disclosure.roles.RESULT_COUNT_KEYS`` by default): publishing it again must leave it
    unchanged (``policy.publish_count(v) == v``), so an exact count the policy would suppress or round
    cannot reach a renderer.

    Parameters
    ----------
    results : mapping
        A results dictionary (the content of results.json).
    policy : Policy, str, mapping or None, optional
        The policy; by default the one named in ``results["suppression"]`` (:func:`results_policy`).
    count_keys : iterable of str, optional
        Keys holding counts; default ``evaltoolkit.disclosure.roles.RESULT_COUNT_KEYS``.

    Raises
    ------
    DisclosureError
        Naming the key path and value of the first count that is not published.

    Examples
    --------
    >>> assert_published({"data": {"inputs": [{"rows_read": 355, "rows_excluded": "*"}]}}, "nhs")
    >>> try:
    ...     assert_published({"data": {"inputs": [{"rows_read": 355, "rows_excluded": 3}]}}, "nhs")
    ... except DisclosureError as exc:
    ...     print(exc)
    results.data.inputs[0].rows_excluded = 3 is an exact count: the nhs policy publishes it as '*'
    """
    if count_keys is None:
        count_keys = RESULT_COUNT_KEYS
    pol = results_policy(results) if policy is None else get_policy(policy)
    keys = frozenset(count_keys)
    for path, value in _walk(results, "results", keys):
        try:
            shown = pol.publish_count(value)
        except DisclosureError as exc:
            raise DisclosureError(f"{path} = {value!r} is not a count: {exc}") from None
        if shown != value:
            raise DisclosureError(
                f"{path} = {value} is an exact count: the {pol.name} policy publishes it as {shown!r}"
            )


def _as_int(value: Any) -> int | None:
    """A whole number held as an int, a whole float or a string of digits; ``None`` otherwise."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return int(value) if np.isfinite(value) and float(value).is_integer() else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def assert_published_table(
    table: pd.DataFrame,
    policy: Policy | str | Mapping[str, Any] | None,
    *,
    name: str = "table",
    count_keys: Iterable[str] | None = None,
) -> None:
    """Raise unless every count column of a published table holds only what ``policy`` publishes.

    Count columns are those named in ``count_keys`` (default
    ``evaltoolkit.disclosure.roles.RESULT_COUNT_KEYS``; ``person_years``, a person-time rounded on its
    own scale, is left out). A value is checked when it is a whole number (an int, a whole float or a
    string of digits); ``"*"`` and missing values pass.

    Raises
    ------
    DisclosureError
        Naming the table, column, row and value of the first count that is not published.

    Examples
    --------
    >>> assert_published_table(pd.DataFrame({"site": ["A", "B"], "patients": ["15", "*"]}), "nhs")
    >>> try:
    ...     assert_published_table(pd.DataFrame({"patients": [15, 4]}), "nhs", name="cohort")
    ... except DisclosureError as exc:
    ...     print(exc)
    table cohort, column patients, row 1: 4 is an exact count; the nhs policy publishes it as '*'
    """
    if count_keys is None:
        count_keys = RESULT_COUNT_KEYS - {"person_years"}
    pol = get_policy(policy)
    for col in [c for c in table.columns if c in frozenset(count_keys)]:
        for i, value in enumerate(table[col].tolist()):
            n = _as_int(value)
            if n is None:
                continue
            shown = pol.publish_count(n)
            if shown != n:
                raise DisclosureError(
                    f"table {name}, column {col}, row {i}: {n} is an exact count; the {pol.name} policy "
                    f"publishes it as {shown!r}"
                )
