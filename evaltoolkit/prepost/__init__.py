"""Before/after analyses: per-patient mirror-image designs and programme pre/post outcomes.

Per-patient service use around an index date (the Project Air design)
    :func:`mirror_windows` (before/after windows, choosing where the index day goes),
    :func:`patient_rates` (rates per person-year), :func:`mirror_change` (mean/median change, paired t
    and Wilcoxon, GEE rate ratio clustered by patient, any-event proportions with McNemar) and
    :func:`mirror_did` (comparison-cohort difference-in-differences, which separates regression to the
    mean from the service effect); :func:`rtm_statement` says it in plain words.

Programme pre/post and repeated measures (CHANGE, staff surveys)
    :func:`paired_change` (mean and median change, paired t / Wilcoxon, Cohen's d_z and d_av, Hedges'
    g_av with intervals, Holm across outcomes), :func:`analysed_n` ("analysed n of N started"),
    :func:`attrition_table` (completers vs drop-outs at baseline), :func:`complete_vs_available`
    (complete-case, naive and mixed-model estimates side by side) and :func:`fit_trajectories`
    (MixedLM with random intercepts and slopes: change per week and by the end).

Plots
    :func:`plot_paired` (slope chart), :func:`plot_trajectory` (fit with CI ribbon) and
    :func:`plot_reliable_change` (waterfall); each takes ``ax=None`` and returns the Axes.

Conventions: inputs are never modified; estimate tables have the fixed columns
:data:`ESTIMATE_COLUMNS` (``outcome, term, estimate, std_error, statistic, df, p_value, p_adjusted,
ci_lower, ci_upper, conf_level, n, method``), one row per outcome × term; every function takes
``conf_level=0.95``; change is always *after − before* (or *post − pre*); rates are per person-year;
bad input raises :class:`PrePostInputError` naming the column and the first rows.
"""

from evaltoolkit.prepost._common import ESTIMATE_COLUMNS, PAdjust
from evaltoolkit.prepost.attrition import (
    ANALYSED_COLUMNS,
    ATTRITION_COLUMNS,
    analysed_n,
    attrition_table,
    complete_vs_available,
)
from evaltoolkit.prepost.did import DID_TERMS, RTM_CAVEAT, mirror_did, rtm_statement
from evaltoolkit.prepost.errors import PrePostInputError
from evaltoolkit.prepost.mirror import (
    DEFAULT_OUTCOMES,
    MIRROR_TERMS,
    CountModel,
    IndexDay,
    WorkingCorrelation,
    mirror_change,
    mirror_windows,
    patient_rates,
)
from evaltoolkit.prepost.paired import PAIRED_TERMS, effect_size_intervals, paired_change, paired_scores
from evaltoolkit.prepost.plotting import CATEGORY_COLOURS, plot_paired, plot_reliable_change, plot_trajectory
from evaltoolkit.prepost.trajectories import CURVE_COLUMNS, VARIANCE_COLUMNS, TrajectoryFit, fit_trajectories

__all__ = [
    "ANALYSED_COLUMNS",
    "ATTRITION_COLUMNS",
    "CATEGORY_COLOURS",
    "CURVE_COLUMNS",
    "DEFAULT_OUTCOMES",
    "DID_TERMS",
    "ESTIMATE_COLUMNS",
    "MIRROR_TERMS",
    "PAIRED_TERMS",
    "RTM_CAVEAT",
    "VARIANCE_COLUMNS",
    "CountModel",
    "IndexDay",
    "PAdjust",
    "PrePostInputError",
    "TrajectoryFit",
    "WorkingCorrelation",
    "analysed_n",
    "attrition_table",
    "complete_vs_available",
    "effect_size_intervals",
    "fit_trajectories",
    "mirror_change",
    "mirror_did",
    "mirror_windows",
    "paired_change",
    "paired_scores",
    "patient_rates",
    "plot_paired",
    "plot_reliable_change",
    "plot_trajectory",
    "rtm_statement",
]
