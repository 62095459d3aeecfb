"""The engine's use of the lunar calendar: festival factors e(d) and vectorised default departures."""

from __future__ import annotations

import datetime as dt

import numpy as np

from loadforecast.engine import ProjectionSettings, default_departures, festival_factors


def test_festival_factors_around_2027_new_year():
    days = [dt.date(2027, 2, 4) + dt.timedelta(days=i) for i in range(8)]  # 4 … 11 February
    factors = festival_factors(days, ProjectionSettings())
    # 4 Feb ordinary, 5 除夕, 6 初一, 7–10 初二…初五, 11 初六.
    np.testing.assert_array_equal(factors, [1.0, 1.3, 1.2, 1.1, 1.1, 1.1, 1.1, 1.0])


def test_vectorised_default_departures_match_and_keep_nat():
    arrivals = np.array(["2027-01-20", "NaT", "2027-02-10", "2027-01-20"], dtype="datetime64[D]")
    result = default_departures(arrivals)
    expected = np.array(["2027-02-13", "NaT", "2027-02-17", "2027-02-13"], dtype="datetime64[D]")
    np.testing.assert_array_equal(result, expected)
