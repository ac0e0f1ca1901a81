"""Costs in money with their uncertainty: NHS unit costs, inflation, and money from the effect's draws.

* **Unit costs** (:func:`unit_costs`, :func:`unit_cost`, :func:`unit_cost_range`): a versioned table
  shipped with the toolkit, National Cost Collection 2023/24 and 2024/25 and older NHS and Australian
  figures, each with currency, unit, price year, source and a verified flag. Unverified figures are
  refused unless ``allow_unverified=True``.
* **Inflation** (:func:`inflation_index`, :func:`inflate`): the NHS Cost Inflation Index by manual
  edition (a later manual revises the previous provisional year).
* **Money from draws** (:func:`change_draws`, :func:`cost_of_change`, :func:`net_cost`,
  :func:`return_per_pound`, :func:`cost_draws`, :func:`draw_range`): every figure computed draw by draw
  from the same draws as the change in activity, with a unit-cost range (e.g. the two NCC years) drawn
  uniformly, so the money agrees with the effect on direction and on whether it excludes no change;
  several outcomes summed independently or, as a bracket, perfectly positively dependent
  (:func:`combine_draws`).
* **Capacity** (:func:`beds_equivalent`): bed-days as beds at a target occupancy, labelled *capacity
  released* (not cash unless beds or staff are removed).
* **Cost per person** (:func:`cost_per_person`): for programmes judged on outcome measures, the cost per
  person who started and per person with a reliable improvement (observed, an upper bound; and if those
  without a final score improved at the same rate).
* **Sensitivity** (:func:`tornado`, :func:`plot_tornado`): one-way sensitivity to the unit cost, the
  effect at its confidence limits, the service cost and the horizon, for one outcome or the net cost of
  several.

Example::

    from evaltoolkit.economics import change_draws, net_cost, unit_cost_range
    bed_day = unit_cost_range("mh_acute_adult_bed_day", ("2023/24", "2024/25"))
    net_cost(change_draws(fit, seed=1), bed_day, service_cost=2 * 250_000)
"""

from evaltoolkit.economics.costs import (
    INDEX_EDITIONS,
    TABLE_VERSION,
    UNIT_COST_COLUMNS,
    UnitCostValue,
    format_money,
    inflate,
    inflation_index,
    unit_cost,
    unit_cost_range,
    unit_costs,
)
from evaltoolkit.economics.draws import (
    MONEY_COLUMNS,
    ChangeDraws,
    beds_equivalent,
    change_draws,
    combine_draws,
    cost_draws,
    cost_of_change,
    draw_range,
    net_cost,
    return_per_pound,
)
from evaltoolkit.economics.per_person import COST_PER_PERSON_COLUMNS, cost_per_person
from evaltoolkit.economics.sensitivity import TORNADO_COLUMNS, plot_tornado, tornado
from evaltoolkit.errors import EconomicsInputError

__all__ = [
    "COST_PER_PERSON_COLUMNS",
    "INDEX_EDITIONS",
    "MONEY_COLUMNS",
    "TABLE_VERSION",
    "TORNADO_COLUMNS",
    "UNIT_COST_COLUMNS",
    "ChangeDraws",
    "EconomicsInputError",
    "UnitCostValue",
    "beds_equivalent",
    "change_draws",
    "combine_draws",
    "cost_draws",
    "cost_of_change",
    "cost_per_person",
    "draw_range",
    "format_money",
    "inflate",
    "inflation_index",
    "net_cost",
    "plot_tornado",
    "return_per_pound",
    "tornado",
    "unit_cost",
    "unit_cost_range",
    "unit_costs",
]
