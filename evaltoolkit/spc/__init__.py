"""Statistical process control charts in the NHS "Making Data Count" style.

:func:`xmr` (individuals chart), :func:`p_chart` and :func:`u_chart` (Laney p′/u′ or plain p/u for
proportions and rates with varying denominators) return an :class:`SPCChart`: a tidy DataFrame, one row per
point, with the centre line, process and near limits, the point type and the rule that fired, and the
variation and assurance icons of the latest rebase group. :func:`plot_spc` draws it in the Making Data Count
style, :func:`board_pack` summarises many charts in one table. Worked use: the book page ``guide/spc``.

SPC is for monitoring: it says whether a series has changed beyond its usual variation. To estimate by how
much a service change moved an outcome, use :mod:`evaltoolkit.its`.
"""

from evaltoolkit.errors import SPCInputError
from evaltoolkit.spc._rules import RULES
from evaltoolkit.spc.charts import (
    LIMIT_FACTOR,
    MIN_POINTS,
    NEAR_FACTOR,
    SCREEN_FACTOR,
    SPCChart,
    p_chart,
    u_chart,
    xmr,
)
from evaltoolkit.spc.plotting import COLORS, board_pack, draw_icon, plot_board_pack, plot_spc

__all__ = [
    "COLORS",
    "LIMIT_FACTOR",
    "MIN_POINTS",
    "NEAR_FACTOR",
    "RULES",
    "SCREEN_FACTOR",
    "SPCChart",
    "SPCInputError",
    "board_pack",
    "draw_icon",
    "p_chart",
    "plot_board_pack",
    "plot_spc",
    "u_chart",
    "xmr",
]
