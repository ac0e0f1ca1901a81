import numpy as np
import pandas as pd
import pytest

from evaltoolkit.privacy import suppress_counts


def test_nhs_rule_by_hand():
    t = pd.DataFrame({"n": [0, 1, 7, 8, 12, 13, 22, 23, 100]})
    got = suppress_counts(t, ["n"])["n"].tolist()
    # 0 stays 0; 1-7 -> *; 8 -> 10 (nearest 5); 12 -> 10; 13 -> 15; 22 -> 20; 23 -> 25.
    assert got == ["0", "*", "*", "10", "10", "15", "20", "25", "100"]


def test_no_count_one_to_seven_survives_and_input_untouched():
    rng = np.random.default_rng(1)
    t = pd.DataFrame({"n": rng.integers(0, 40, 500), "m": rng.integers(0, 10, 500)})
    before = t.copy()
    out = suppress_counts(t, ["n", "m"])
    pd.testing.assert_frame_equal(t, before)
    for col in ["n", "m"]:
        shown = out[col][out[col] != "*"].astype(int)
        assert not shown.between(1, 7).any()
        assert (shown % 5 == 0).all()
        assert (out[col] == "*").sum() == t[col].between(1, 7).sum()


def test_missing_stays_missing_and_bad_values_raise():
    t = pd.DataFrame({"n": [np.nan, 9.0]})
    assert suppress_counts(t, ["n"])["n"].tolist() == [None, "10"]
    with pytest.raises(ValueError, match=r"'n'.*non-negative whole numbers"):
        suppress_counts(pd.DataFrame({"n": [1.5, -2]}), ["n"])
    with pytest.raises(KeyError, match="no column 'x'"):
        suppress_counts(t, ["x"])
