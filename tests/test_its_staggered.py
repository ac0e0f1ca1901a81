"""Staggered controlled ITS: design coding, reduction to the one-treated-series design, and R parity.

The reference numbers come from ``tests/r/staggered_reference.R`` (R 4.2.2, nlme 3.1-162), which builds the
design matrix from its written definition (the :mod:`evaltoolkit.its.design` docstring), independently of
the Python code, and fits ``lm``, ``nlme::gls(correlation = corAR1(form = ~ time | series), method = "REML")``
and ``glm(family = poisson)`` with ``offset(log(pop))``. Its output (data and numbers) is pasted below
verbatim. Tolerances: 1e-6 relative (gls: 1e-5).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest

from evaltoolkit.its import ITSInputError, build_its_design
from evaltoolkit.its import fit_its as _fit_its

# These tests check designs and R parity on short made-up series whose horizons extrapolate the pre-period
# trend, and OLS fits of series with autocorrelated noise; the guards are tested in test_its_robustness.py.
pytestmark = [
    pytest.mark.filterwarnings("ignore::evaltoolkit.its.errors.ExtrapolationWarning"),
    pytest.mark.filterwarnings("ignore::evaltoolkit.its.errors.AutocorrelationWarning"),
]

fit_its = partial(_fit_its, method="ols")  # expected values are OLS/GLM, whatever the default

# fmt: off
# ruff: noqa: E501
# ---- R output (Rscript tests/r/staggered_reference.R) ----
# ---- data (300 rows, series-major) ----
SERIES = ["C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C1", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "C2", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T1", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T2", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3", "T3"]
Y = [38.702, 37.473, 39.527, 39.693, 41.177, 40.796, 38.964, 40.735, 44.27, 43.571, 43.805, 42.369, 45.905, 46.691, 46.552, 43.074, 42.885, 44.559, 44.597, 45.461, 46.782, 46.276, 45.593, 46.843, 47.874, 46.554, 46.577, 46.087, 48.305, 45.507, 45.072, 47.041, 49.065, 48.315, 48.364, 51.121, 51.857, 49.208, 48.198, 51.432, 51.655, 52.391, 52.092, 51.409, 52.422, 54.137, 50.968, 51.867, 53.966, 52.559, 56.196, 57.007, 53.72, 54.1, 55.331, 53.596, 53.997, 55.459, 56.802, 57.073, 49.229, 48.898, 47.489, 49.789, 53.07, 52.348, 50.262, 49.636, 49.511, 52.095, 49.739, 51.143, 52.063, 51.81, 53.108, 52.421, 51.974, 51.166, 51.911, 53.391, 52.585, 52.905, 53.815, 54.027, 51.999, 50.546, 52.693, 54.694, 56.819, 57.507, 59.729, 60.01, 58.735, 59.797, 60.024, 60.204, 59.867, 57.899, 59.03, 60.923, 59.788, 60.642, 60.64, 60.456, 60.442, 59.967, 58.887, 58.811, 58.233, 59.543, 60.957, 61.386, 59.065, 61.355, 62.724, 66.011, 65.185, 65.389, 63.006, 60.907, 43.885, 44.685, 46.667, 45.946, 44.496, 44.102, 45.32, 48.58, 48.719, 47.55, 48.963, 45.872, 45.93, 47.705, 45.658, 47.763, 48.826, 46.915, 49.399, 47.06, 45.505, 45.079, 46.683, 46.077, 46.013, 47.312, 46.474, 46.696, 45.341, 46.961, 46.372, 48.385, 48.985, 49.246, 48.69, 46.993, 47.088, 48.807, 48.432, 48.12, 50.648, 48.315, 49.891, 48.947, 48.303, 49.022, 51.31, 51.07, 50.176, 50.429, 48.097, 49.067, 48.587, 49.989, 50.2, 49.131, 49.888, 48.26, 50.679, 48.812, 52.877, 52.069, 52.961, 51.114, 51.116, 51.849, 53.874, 52, 52.132, 55.02, 56.487, 55.836, 55.871, 53.904, 55.534, 54.874, 56.937, 55.383, 59.404, 58.131, 58.847, 57.986, 59.278, 58.346, 60.137, 56.351, 57.36, 61.103, 61.386, 62.428, 61.982, 58.659, 57.47, 55.728, 59.087, 60.976, 56.222, 59.512, 60.037, 57.418, 57.439, 56.659, 58.528, 59.664, 57.563, 57.723, 55.918, 58.324, 58.341, 60.533, 60.378, 60.442, 60.482, 61.511, 56.88, 58.67, 56.337, 58.557, 60.017, 60.225, 36.981, 37.072, 39.401, 41.164, 41.387, 41.59, 39.759, 41.519, 38.409, 39.738, 40.29, 40.449, 41.272, 42.51, 44.687, 44.64, 44.062, 40.475, 42.358, 43.033, 41.897, 44.011, 42.204, 43.823, 44.384, 43.01, 44.765, 47.856, 46.342, 44.941, 45.054, 50.228, 50.933, 51.629, 49.767, 48.69, 48.552, 49.628, 49.751, 49.852, 43.61, 44.918, 46.401, 47.405, 44.37, 47.892, 46.235, 47.917, 47.797, 44.735, 47.576, 43.874, 45.294, 47.806, 44.039, 46.678, 48.208, 49.122, 49.844, 48.452]
N = [53, 26, 45, 41, 38, 45, 52, 40, 41, 50, 37, 41, 43, 33, 44, 40, 49, 29, 35, 39, 34, 34, 45, 41, 42, 60, 38, 46, 51, 45, 59, 38, 44, 40, 63, 57, 59, 58, 45, 52, 31, 50, 57, 45, 50, 37, 52, 44, 50, 50, 47, 55, 39, 55, 49, 71, 59, 40, 42, 56, 61, 45, 64, 50, 56, 43, 47, 56, 56, 58, 40, 60, 45, 50, 55, 62, 56, 58, 42, 46, 60, 57, 53, 50, 50, 49, 49, 61, 54, 46, 63, 62, 56, 71, 68, 59, 65, 57, 48, 48, 66, 63, 54, 51, 77, 61, 61, 78, 60, 66, 55, 59, 78, 55, 74, 59, 68, 66, 83, 44, 50, 35, 56, 30, 51, 39, 55, 44, 52, 47, 47, 44, 43, 53, 57, 46, 51, 43, 48, 40, 38, 29, 42, 38, 40, 29, 42, 32, 40, 33, 44, 36, 43, 32, 44, 32, 31, 42, 37, 33, 37, 33, 38, 38, 39, 46, 45, 48, 31, 35, 37, 31, 45, 38, 36, 39, 41, 34, 35, 27, 60, 66, 51, 41, 48, 41, 62, 50, 46, 48, 46, 51, 45, 58, 52, 49, 50, 50, 39, 54, 61, 69, 53, 57, 71, 53, 61, 62, 51, 52, 64, 53, 53, 62, 52, 51, 55, 50, 56, 52, 39, 51, 51, 67, 49, 43, 47, 41, 63, 43, 59, 63, 46, 63, 56, 39, 42, 49, 37, 50, 41, 32, 39, 43, 44, 41, 46, 33, 23, 42, 34, 38, 30, 43, 41, 39, 43, 39, 31, 34, 40, 30, 53, 47, 41, 53, 37, 41, 35, 37, 29, 41, 40, 37, 47, 53, 33, 54, 32, 51, 39, 35, 32, 32, 42, 28, 39, 40, 33, 46, 45, 38, 30, 26, 25, 38, 41, 37, 47, 41]
POP = [9301, 9041, 10610, 10874, 9867, 9229, 10899, 10993, 10008, 10866, 9659, 9428, 9112, 9052, 10880, 9882, 9806, 10263, 9254, 10341, 9600, 10317, 9641, 10315, 9931, 10293, 9787, 9880, 9329, 10238, 10916, 9050, 9701, 9017, 10929, 10595, 10812, 10849, 9454, 10527, 9097, 9926, 9954, 9926, 10841, 9073, 10364, 9119, 10088, 9688, 9229, 10598, 9060, 9866, 9687, 10026, 10673, 9496, 9247, 9547, 10693, 9303, 10780, 10604, 10567, 9522, 10252, 10508, 10305, 10062, 9964, 10330, 9495, 9552, 10113, 10291, 10170, 9478, 9009, 9845, 10011, 9433, 9933, 10694, 9852, 9041, 9364, 10121, 9535, 9160, 10256, 10913, 10847, 10994, 9906, 10082, 10093, 10319, 9083, 9270, 9193, 10097, 10056, 9683, 10940, 9485, 9574, 10558, 10423, 9776, 9254, 10871, 10382, 10268, 10109, 9803, 9268, 9049, 10743, 9205, 10026, 9224, 9675, 9064, 10984, 9688, 9752, 10636, 10598, 10759, 9814, 10427, 9134, 9508, 10314, 10153, 10740, 10878, 9631, 9648, 10811, 9111, 9890, 10293, 10015, 10905, 9075, 10872, 9509, 9249, 10640, 9248, 10533, 9335, 10468, 9669, 9169, 10982, 10724, 10596, 10913, 9713, 9919, 10159, 10236, 10765, 9161, 10915, 9104, 10252, 10113, 9652, 10773, 9008, 9467, 9325, 9914, 9580, 9016, 10063, 10959, 10962, 10352, 9173, 9109, 9509, 9874, 9988, 9755, 9916, 9988, 9517, 10840, 9365, 9559, 9118, 9299, 9237, 9051, 10847, 10024, 10103, 9057, 10712, 10790, 9357, 9554, 9794, 9743, 10001, 10926, 9302, 9651, 10606, 10430, 10167, 9922, 9174, 9065, 10389, 9478, 10741, 9544, 10929, 9767, 9206, 9954, 10146, 10427, 10580, 10578, 10880, 10406, 10031, 9122, 9661, 9796, 10997, 9651, 10899, 10705, 9725, 10199, 10436, 9214, 10825, 10788, 9878, 9712, 10178, 10290, 10438, 10228, 10851, 9372, 9552, 10057, 9379, 9243, 10641, 9806, 9685, 10080, 9998, 10809, 10424, 9296, 9181, 9783, 9034, 9242, 10020, 10619, 9262, 10817, 9523, 10197, 10550, 9843, 10796, 9401, 9569, 10445, 9379, 9976, 10681, 10673, 9605, 10174, 9834, 10202, 10238, 9032, 10274, 9292, 9717, 10607, 9502, 10714, 10030]
TERMS = ["intercept", "pre_slope", "calendar_level_20", "calendar_slope_20", "calendar_level_32", "calendar_slope_32", "calendar_level_41", "calendar_slope_41", "diff_intercept_C2", "diff_intercept_T1", "diff_intercept_T2", "diff_intercept_T3", "diff_pre_slope_C2", "diff_pre_slope_T1", "diff_pre_slope_T2", "diff_pre_slope_T3", "diff_level_change", "diff_slope_change"]
LM_COEF = [39.567663002, 0.262379792675, -0.0640644201045, 0.00875548576602, 2.1004831119, -0.161045122748, 0.141113126326, 0.139496785519, 9.00390508475, 4.43934943039, 11.94393635, -1.6585760503, -0.0249198388441, 0.0274805701428, 0.0238143680773, 0.0155224284786, -4.31115293322, -0.189507486492]
LM_SE = [0.515659671342, 0.0332700424554, 0.498272703334, 0.0639415766254, 0.596263289597, 0.104568634944, 0.579443930342, 0.091730815357, 0.560215109108, 0.685336079076, 0.655917716464, 0.612616034398, 0.0159724979174, 0.0374029223297, 0.0280416048437, 0.0217998255981, 0.452725757919, 0.0426284463001]
LM_CUM = [-656.346364862, 73.9232635321, 90]
LMB_TERMS = ["intercept", "pre_slope", "calendar_level_20", "calendar_slope_20", "calendar_level_32", "calendar_slope_32", "calendar_level_41", "calendar_slope_41", "diff_intercept_C2", "diff_intercept_T1", "diff_intercept_T2", "diff_intercept_T3", "diff_pre_slope_C2", "diff_pre_slope_T1", "diff_pre_slope_T2", "diff_pre_slope_T3", "diff_level_change_T1", "diff_slope_change_T1", "diff_level_change_T2", "diff_slope_change_T2", "diff_level_change_T3", "diff_slope_change_T3"]
LMB_COEF = [39.5820877719, 0.27054204024, -0.451105493333, -0.00787479142772, 2.3706896459, -0.147203877817, 0.33534280774, 0.120354593435, 9.00390508475, 5.1649648597, 11.0596502612, -1.5720292405, -0.0249198388441, -0.0769262507667, 0.089571111227, 0.0133612684099, -2.37594756708, -0.106356100523, -5.66218560322, -0.258713711148, -5.28230134029, -0.093796526074]
LMB_SE = [0.517482065707, 0.0344651109021, 0.520808590855, 0.0644196208047, 0.60793583755, 0.103561888373, 0.594299932395, 0.0913764812125, 0.553658571287, 0.882682556302, 0.719588465867, 0.647913984902, 0.015785562069, 0.0715628024297, 0.0363515943658, 0.0258450699436, 0.958527276695, 0.075415385423, 0.870875764033, 0.0538312166678, 0.91183732579, 0.0710498394267]
GLS_COEF = [39.463197715, 0.262520807523, 0.168205756744, -0.0027799090784, 2.04200115035, -0.121855946985, 0.0256490925556, 0.108388578195, 9.17770494935, 4.63856582839, 12.1056156277, -1.67050778368, -0.0315057260479, 0.0190922746094, 0.0193849733912, 0.0165576927196, -4.47586177334, -0.178931654727]
GLS_SE = [0.806263436242, 0.0497643738814, 0.628152223869, 0.0932416567083, 0.693440982778, 0.145771840998, 0.695715618405, 0.123362286483, 0.905325217424, 1.08925655384, 1.04549325966, 0.980365410466, 0.0256472742754, 0.0589462048321, 0.0441006302419, 0.0343671276264, 0.660082506337, 0.0678280102263]
GLS_PHI = 0.439354861072
GLS_LOGLIK = -543.859609259
GLM_COEF = [-5.47356907729, -0.000789147612189, 0.015421362909, 0.00899864068655, 0.0294815741498, -0.00751050471125, 0.00661552168572, 0.00526892044588, 0.227355292696, 0.0848050097525, 0.216944342418, -0.113413214584, -0.000135578770255, 0.000765277686018, 0.00204938525457, 0.000877218564953, -0.185227329381, -0.00853743053187]
GLM_SE = [0.0514682635569, 0.00325755657604, 0.0485800030508, 0.00616129170076, 0.0569729059844, 0.00997108517862, 0.0551810347196, 0.00870537710071, 0.0534222612099, 0.0677472716942, 0.063252274993, 0.0631210359284, 0.00147142417712, 0.00359451200956, 0.00267177048871, 0.00216729956219, 0.0448591685398, 0.00403455488144]
GLM_CUM = [-1418.27058405, 409.252978351, 3746, 5164.27058405]
# fmt: on

GO = {"T1": "2019-08-01", "T2": "2020-08-01", "T3": "2021-05-01"}  # t = 20, 32, 41
R_DATE = {"20": "2019-08-01", "32": "2020-08-01", "41": "2021-05-01"}


def r_terms(names: list[str]) -> list[str]:
    """R's calendar_level_<t> names on the toolkit's date labels."""
    out = []
    for nm in names:
        head, _, tail = nm.rpartition("_")
        out.append(f"{head}_{R_DATE[tail]}" if nm.startswith("calendar_") else nm)
    return out


def data() -> pd.DataFrame:
    months = pd.date_range("2018-01-01", periods=60, freq="MS")
    return pd.DataFrame(
        {
            "site": SERIES,
            "month": np.tile(months, 5),
            "y": Y,
            "n": np.asarray(N, dtype="int64"),
            "pop": POP,
        }
    )


def coef(res) -> pd.Series:
    return res.coefficients().set_index("term")


def test_design_coding_worked_example():
    """The coding in the module docstring, checked cell by cell on a small panel (hand-built)."""
    rows = []
    for site in ("A", "B", "K"):
        for t in range(1, 9):
            rows.append({"site": site, "t": t, "y": float(t % 3 + (site == "B"))})
    d = build_its_design(
        pd.DataFrame(rows), outcome="y", time="t", interruptions={"A": 4, "B": 6}, group="site"
    )
    assert d.terms == (
        "intercept", "pre_slope", "calendar_level_4", "calendar_slope_4", "calendar_level_6",
        "calendar_slope_6", "diff_intercept_A", "diff_intercept_B", "diff_pre_slope_A", "diff_pre_slope_B",
        "diff_level_change", "diff_slope_change",
    )  # fmt: skip
    X = d.X.assign(site=d.frame["group"], t=d.frame["t"]).set_index(["site", "t"])
    # control K is the reference series: only the shared terms
    assert X.loc[("K", 7), ["calendar_level_4", "calendar_slope_4", "calendar_level_6"]].tolist() == [1, 3, 1]
    assert X.loc["K", "diff_level_change"].sum() == 0
    # A switches on at t = 4, B at t = 6, each counting its own time since go-live from 0
    assert X.loc["A", "diff_level_change"].tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    assert X.loc["A", "diff_slope_change"].tolist() == [0, 0, 0, 0, 1, 2, 3, 4]
    assert X.loc["B", "diff_level_change"].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert X.loc["B", "diff_slope_change"].tolist() == [0, 0, 0, 0, 0, 0, 1, 2]
    assert X.loc["B", "diff_pre_slope_B"].tolist() == list(range(1, 9))
    assert d.staggered["t"].tolist() == [4, 6]
    # the counterfactual removes only the treatment terms: calendar terms stay
    Xcf = d.X_counterfactual.assign(site=d.frame["group"], t=d.frame["t"]).set_index(["site", "t"])
    assert Xcf.loc[("A", 8), "diff_level_change"] == 0 and Xcf.loc[("A", 8), "calendar_level_6"] == 1


def test_by_series_effect_terms():
    df = data()
    res = fit_its(
        df, outcome="y", time="month", interruptions=GO, group="site", staggered_effects="by_series"
    )
    assert list(res.terms) == r_terms(LMB_TERMS)
    c = coef(res)
    np.testing.assert_allclose(c["estimate"], LMB_COEF, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(c["std_error"], LMB_SE, rtol=1e-6)


def test_ols_matches_r_lm_including_cumulative_effect():
    res = fit_its(data(), outcome="y", time="month", interruptions=GO, group="site")
    assert list(res.terms) == r_terms(TERMS)
    c = coef(res)
    np.testing.assert_allclose(c["estimate"], LM_COEF, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(c["std_error"], LM_SE, rtol=1e-6)
    cum = res.cumulative_effect(uncertainty="delta")
    total = cum.iloc[0]
    assert pd.isna(total["group"]) and cum["group"].iloc[1:].tolist() == ["T1", "T2", "T3"]
    np.testing.assert_allclose([total["estimate"], total["std_error"]], LM_CUM[:2], rtol=1e-6)
    assert total["n_periods"] == LM_CUM[2] == 41 + 29 + 20
    # per series: each over its own post period (60 - T_s + 1 periods), and they add up to the total
    assert cum["n_periods"].iloc[1:].tolist() == [41, 29, 20]
    np.testing.assert_allclose(cum["estimate"].iloc[1:].sum(), total["estimate"], rtol=1e-12)
    assert cum["start"].iloc[1:].dt.strftime("%Y-%m-%d").tolist() == list(GO.values())


def test_gls_reml_matches_nlme():
    res = fit_its(data(), outcome="y", time="month", interruptions=GO, group="site", method="gls-reml")
    c = coef(res)
    np.testing.assert_allclose(res.ar_params[0], GLS_PHI, rtol=1e-5)
    np.testing.assert_allclose(c["estimate"], GLS_COEF, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(c["std_error"], GLS_SE, rtol=1e-5)
    np.testing.assert_allclose(res.loglik, GLS_LOGLIK, rtol=1e-7)


def test_poisson_with_offset_matches_r_glm_and_counts_averted():
    res = fit_its(
        data(), outcome="n", time="month", interruptions=GO, group="site", family="poisson", offset="pop"
    )
    c = coef(res)
    np.testing.assert_allclose(c["estimate"], GLM_COEF, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(c["std_error"], GLM_SE, rtol=1e-6)
    total = res.cumulative_effect(uncertainty="delta").iloc[0]
    np.testing.assert_allclose(
        [total["estimate"], total["std_error"], total["fitted_total"], total["counterfactual_total"]],
        GLM_CUM,
        rtol=1e-6,
    )


def test_one_treated_series_equals_the_controlled_design():
    """With one treated and one control series the staggered coding is today's itsa coding."""
    df = data()
    sub = df[df["site"].isin(["C1", "T2"])]
    a = fit_its(sub, outcome="y", time="month", interruptions={"T2": GO["T2"]}, group="site")
    b = fit_its(sub, outcome="y", time="month", interruptions=GO["T2"], group="site", treated="T2")
    rename = {"level_change": "calendar_level_2020-08-01", "slope_change": "calendar_slope_2020-08-01"}
    assert list(a.terms) == [rename.get(t, t) for t in b.terms]
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-10, atol=1e-14)
    ea, eb = a.effects(at=[0, 5]), b.effects(at=[0, 5])
    for term in ("post_slope", "diff_post_slope", "control_post_slope"):
        np.testing.assert_allclose(
            ea.loc[ea["term"] == term, "estimate"].iloc[0], eb.loc[eb["term"] == term, "estimate"].iloc[0]
        )
    abs_a = ea.loc[(ea["term"] == "absolute_change") & ea["group"].notna(), "estimate"].to_numpy()
    np.testing.assert_allclose(abs_a, eb.loc[eb["term"] == "absolute_change", "estimate"], rtol=1e-10)
    np.testing.assert_allclose(
        a.cumulative_effect()["estimate"].iloc[0], b.cumulative_effect()["estimate"].iloc[0], rtol=1e-10
    )
    # and with gls-reml and a count family (the design matrix is shared)
    for kw in ({"method": "gls-reml"}, {"family": "quasipoisson"}):
        y = "n" if "family" in kw else "y"
        a = fit_its(sub, outcome=y, time="month", interruptions={"T2": GO["T2"]}, group="site", **kw)
        b = fit_its(sub, outcome=y, time="month", interruptions=GO["T2"], group="site", treated="T2", **kw)
        np.testing.assert_allclose(a.params, b.params, rtol=1e-8)
        np.testing.assert_allclose(np.sqrt(np.diag(a.cov)), np.sqrt(np.diag(b.cov)), rtol=1e-6)


def test_effects_per_series_and_combined():
    res = fit_its(data(), outcome="y", time="month", interruptions=GO, group="site")
    e = res.effects(at=[0, 10])
    b = coef(res)["estimate"]
    h10 = e[(e["term"] == "absolute_change") & (e["horizon"] == 10)]
    # Gaussian, pooled: every series' effect at horizon h is diff_level_change + h * diff_slope_change
    expected = b["diff_level_change"] + 10 * b["diff_slope_change"]
    np.testing.assert_allclose(h10["estimate"], expected, rtol=1e-10)
    assert h10["group"].iloc[:3].tolist() == ["T1", "T2", "T3"] and pd.isna(h10["group"].iloc[3])
    assert h10["time"].iloc[:3].dt.strftime("%Y-%m").tolist() == ["2020-06", "2021-06", "2022-03"]
    with pytest.raises(ITSInputError, match=r"horizon 25 is beyond the data for treated series 'T3'.*19"):
        res.effects(at=25)


def test_counterfactual_per_series_is_its_own_fit_without_its_treatment_terms():
    res = fit_its(data(), outcome="y", time="month", interruptions=GO, group="site")
    cf = res.counterfactual()
    assert sorted(cf["group"].unique()) == ["T1", "T2", "T3"]
    first = cf.groupby("group")["time"].min().dt.strftime("%Y-%m-%d").to_dict()
    assert first == GO
    b = coef(res)["estimate"]
    row = cf[(cf["group"] == "T1") & (cf["time"] == pd.Timestamp("2021-01-01"))].iloc[0]  # t = 37
    by_hand = (
        b["intercept"] + b["diff_intercept_T1"] + (b["pre_slope"] + b["diff_pre_slope_T1"]) * 37
        + b["calendar_level_2019-08-01"] + b["calendar_slope_2019-08-01"] * (37 - 20)
        + b["calendar_level_2020-08-01"] + b["calendar_slope_2020-08-01"] * (37 - 32)
    )  # fmt: skip
    np.testing.assert_allclose(row["counterfactual"], by_hand, rtol=1e-12)
    np.testing.assert_allclose(
        row["fitted"] - row["counterfactual"], b["diff_level_change"] + 17 * b["diff_slope_change"]
    )


def test_mid_month_go_live_maps_to_next_period_start():
    df = data()
    mid = {"T1": "2019-07-31", "T2": "2020-07-15", "T3": "2021-05-01"}
    res = fit_its(df, outcome="y", time="month", interruptions=mid, group="site")
    np.testing.assert_allclose(coef(res)["estimate"], LM_COEF, rtol=1e-6, atol=1e-9)
    table = res.design.staggered
    assert table["interruption"].dt.strftime("%Y-%m-%d").tolist() == list(mid.values())
    assert table["first_post_period"].dt.strftime("%Y-%m-%d").tolist() == list(GO.values())
    small = df[df["site"].isin(["C1", "T1", "T2"])]
    d = fit_its(small, outcome="y", time="month", interruptions={"T1": mid["T1"]}, group="site").to_dict()
    assert d["model"]["staggered"][0]["interruption"] == "2019-07-31"
    assert d["model"]["staggered"][0]["first_post_period"] == "2019-08-01"


def test_staggered_input_errors():
    df = data()
    with pytest.raises(ITSInputError, match=r"mapping \{series: date\}.*need group="):
        fit_its(df, outcome="y", time="month", interruptions=GO)
    with pytest.raises(
        ITSInputError, match=r"treated='T1' does not match.*\['T1', 'T2', 'T3'\].*leave treated= out"
    ):
        fit_its(df, outcome="y", time="month", interruptions=GO, group="site", treated="T1")
    with pytest.raises(ITSInputError, match=r"treated value\(s\) \['X9'\] not found in group column 'site'"):
        fit_its(df, outcome="y", time="month", interruptions={"X9": "2020-01-01"}, group="site")
    with pytest.raises(ITSInputError, match="every group in 'site' is treated"):
        everyone = {s: "2020-01-01" for s in ("C1", "C2", "T1", "T2", "T3")}
        fit_its(df, outcome="y", time="month", interruptions=everyone, group="site")
    with pytest.raises(ITSInputError, match=r"interruptions\['T1'\] must be one date"):
        fit_its(
            df, outcome="y", time="month", interruptions={"T1": ["2019-08-01", "2020-01-01"]}, group="site"
        )
    with pytest.raises(ITSInputError, match=r"too few points after the interruption of series 'T1': 2"):
        fit_its(df, outcome="y", time="month", interruptions={"T1": "2022-11-01"}, group="site")
    # treated= equal to the keys is accepted
    res = fit_its(df, outcome="y", time="month", interruptions=GO, group="site", treated=["T3", "T1", "T2"])
    np.testing.assert_allclose(coef(res)["estimate"], LM_COEF, rtol=1e-6, atol=1e-9)


def test_summary_and_plot_of_a_staggered_fit():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = fit_its(data(), outcome="y", time="month", interruptions=GO, group="site")
    text = res.summary().as_text()
    assert "Staggered design" in text and "T1 2019-08-01" in text and "T3 2021-05-01" in text
    ax = res.plot()
    labels = ax.get_legend_handles_labels()[1]
    assert "counterfactual" in labels and "interruption" in labels
    assert sum(1 for line in ax.get_lines() if line.get_linestyle() == ":") == 3  # one line per go-live date
    plt.close(ax.figure)


def test_one_treated_series_with_a_phase_in_equals_the_controlled_design():
    sub = data()[lambda d: d["site"].isin(["C1", "T1"])]
    kw = {"outcome": "y", "time": "month", "group": "site", "transition": 2}
    a = fit_its(sub, interruptions={"T1": GO["T1"]}, **kw)
    b = fit_its(sub, interruptions=GO["T1"], treated="T1", **kw)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10, atol=1e-12)
    assert a.n_obs == b.n_obs == 116  # 2 phase-in months left out in both series
    with pytest.raises(ITSInputError, match="transition_shape='ramp' is not available for staggered"):
        fit_its(sub, interruptions={"T1": GO["T1"]}, transition_shape="ramp", **kw)
    with pytest.raises(ITSInputError, match="interruption_names= names the interruptions of a list"):
        fit_its(sub, interruptions={"T1": GO["T1"]}, interruption_names=["a"], **kw)


@pytest.mark.parametrize(
    "options",
    [
        {"method": "prais-winsten"},
        {"method": "gls-ml"},
        {"se_type": "newey-west", "lags": 2},
        {"family": "poisson", "offset": "pop", "se_type": "newey-west", "lags": 1},
        {"family": "quasipoisson", "offset": "pop", "staggered_effects": "by_series"},
    ],
)
def test_staggered_design_works_with_every_estimator(options):
    outcome = "n" if "family" in options else "y"
    res = fit_its(data(), outcome=outcome, time="month", interruptions=GO, group="site", **options)
    cum = res.cumulative_effect()
    assert np.isfinite(cum["estimate"]).all() and np.isfinite(cum["std_error"]).all()
    np.testing.assert_allclose(cum["estimate"].iloc[1:].sum(), cum["estimate"].iloc[0], rtol=1e-10)
    e = res.effects()
    assert np.isfinite(e["estimate"]).all()
    if options.get("staggered_effects") == "by_series":
        assert {"diff_level_change_T1", "diff_level_change_T3"} <= set(res.terms)
        assert "diff_level_change" not in res.terms
