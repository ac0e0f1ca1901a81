"""Routine outcome measures: scoring, reliable and clinically significant change.

* **Registry** (:mod:`~evaltoolkit.rom.registry`): one YAML definition per instrument in
  ``rom/instruments/``, data only and never item wording. :func:`instruments` lists them,
  :func:`get_instrument` returns one, :func:`register_instrument` adds a user-defined one (e.g. a
  licensed instrument whose key the toolkit must not ship), optionally ``extends:`` a bundled one.
* **Scoring** (:mod:`~evaltoolkit.rom.scoring`): :func:`score` (reverse keys, subscales, prorating,
  bands, MHC-SF categories, HoNOS 9 = not known), :func:`check_responses`, :func:`reverse_score`.
* **Change** (:mod:`~evaltoolkit.rom.change`): :func:`reliable_change` (Jacobson–Truax RCI and
  criteria a/b/c or the clinical cut-off), :func:`change_summary`.
* **NHS Talking Therapies** (:mod:`~evaltoolkit.rom.talking_therapies`):
  :func:`talking_therapies_outcomes`, :func:`talking_therapies_summary`.
* **Reliability** (:mod:`~evaltoolkit.rom.reliability`): :func:`internal_consistency`.
* **Plots** (:mod:`~evaltoolkit.rom.plotting`): :func:`plot_jacobson`, :func:`plot_score_distributions`.

Facts not verified in a published source are marked ``verified: false`` in the definitions (see the
``unverified`` column of :func:`instruments`) and can be replaced through a user definition.
"""

from evaltoolkit.rom.change import CATEGORIES, change_summary, reliable_change
from evaltoolkit.rom.definition import Instrument
from evaltoolkit.rom.errors import InstrumentDefinitionError, RomInputError
from evaltoolkit.rom.plotting import plot_jacobson, plot_score_distributions
from evaltoolkit.rom.registry import (
    BUILTIN_KEYS,
    get_instrument,
    instrument_keys,
    instruments,
    load_definition,
    register_instrument,
    unregister_instrument,
)
from evaltoolkit.rom.reliability import internal_consistency
from evaltoolkit.rom.scoring import check_responses, data_quality, reverse_score, score
from evaltoolkit.rom.talking_therapies import talking_therapies_outcomes, talking_therapies_summary

__all__ = [
    "BUILTIN_KEYS",
    "CATEGORIES",
    "Instrument",
    "InstrumentDefinitionError",
    "RomInputError",
    "change_summary",
    "check_responses",
    "data_quality",
    "get_instrument",
    "instrument_keys",
    "instruments",
    "internal_consistency",
    "load_definition",
    "plot_jacobson",
    "plot_score_distributions",
    "register_instrument",
    "reliable_change",
    "reverse_score",
    "score",
    "talking_therapies_outcomes",
    "talking_therapies_summary",
    "unregister_instrument",
]
