"""The few statsmodels classes the toolkit uses, imported from their own modules on first use.

``import statsmodels.api`` pulls in every statsmodels sub-package (graphics, datasets, time-series tools:
about 1.6 s on a small machine), and even ``statsmodels.genmod`` brings scipy.stats and the formula
machinery. The toolkit needs only the GLM and its families, the negative binomial regression and the linear
mixed model, and only when a model of that kind is fitted. ``sm`` below has the same spelling as
``statsmodels.api`` (``sm.GLM``, ``sm.families.Poisson()``, ``sm.NegativeBinomial``, ``sm.MixedLM``), so call
sites read as statsmodels' own documentation.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["sm"]

_WHERE = {
    "GLM": ("statsmodels.genmod.generalized_linear_model", "GLM"),
    "families": ("statsmodels.genmod.families", None),
    "NegativeBinomial": ("statsmodels.discrete.discrete_model", "NegativeBinomial"),
    "MixedLM": ("statsmodels.regression.mixed_linear_model", "MixedLM"),
}


class _LazyStatsmodels:
    """``statsmodels.api``-like namespace; each name is imported from its own module when first used."""

    def __getattr__(self, name: str) -> Any:
        if name not in _WHERE:
            raise AttributeError(name)
        module, attr = _WHERE[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        setattr(self, name, value)
        return value


sm: Any = _LazyStatsmodels()
"""Namespace with ``GLM``, ``families``, ``NegativeBinomial`` and ``MixedLM``."""
