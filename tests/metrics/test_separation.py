import numpy as np
import pytest

from physgen.metrics.separation import compare_histograms, separation_power


def test_identical_is_zero_and_disjoint_is_one():
    assert separation_power([1, 2, 3], [2, 4, 6]) == 0
    assert separation_power([5, 0, 0], [0, 0, 7]) == pytest.approx(1.0)


def test_known_value():
    # p = (0.5, 0.5), q = (1, 0): 1/2 [ (0.5)^2/1.5 + (0.5)^2/0.5 ] = 1/3
    assert separation_power([1, 1], [1, 0]) == pytest.approx(1 / 3)


def test_never_nan():
    edges = np.linspace(0, 1, 11)
    outside = compare_histograms([0.5, 0.6], [5.0, 7.0], edges)
    assert outside.separation_power == 1.0 and outside.generated_out_of_range == 1.0
    both_outside = compare_histograms([3.0], [5.0], edges)
    assert both_outside.separation_power == 0.0
    with_nan = compare_histograms([0.5, 0.6], [0.5, np.nan], edges)
    assert np.isfinite(with_nan.separation_power)
    assert with_nan.generated_out_of_range == 0.5


def test_out_of_range_entries_are_dropped_and_counted():
    edges = np.array([0.0, 1.0, 2.0])
    result = compare_histograms([0.5, 1.5], [0.5, 1.5, 9.0, -3.0], edges)
    assert result.separation_power == 0.0
    assert result.generated_out_of_range == 0.5
