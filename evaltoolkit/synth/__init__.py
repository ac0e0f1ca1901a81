"""Seeded synthetic extracts with known truth.

:func:`generate` builds realistic, deliberately imperfect extracts (ED attendances, admission
spells, population, sites, a crisis-selected cohort, item-level routine outcome measures and a staff
survey) together with a ``truth`` dictionary that records the generating model, the true effects and
every injected defect. :func:`write_synthetic` writes them as byte-reproducible CSV files plus
``truth.json`` and a data dictionary (``README.md``).

Random numbers come from named child streams of one seed (``numpy.random.SeedSequence`` keyed by
the component's name), so adding a component never changes the others.
"""

from ._generate import SynthData, generate
from ._write import FILES, data_dictionary, write_synthetic
from .config import DEFAULT_SEED, PRESETS, SiteSpec, SynthConfig, crisis_pathway_config

__all__ = [
    "DEFAULT_SEED",
    "FILES",
    "PRESETS",
    "SiteSpec",
    "SynthConfig",
    "SynthData",
    "crisis_pathway_config",
    "data_dictionary",
    "generate",
    "write_synthetic",
]
