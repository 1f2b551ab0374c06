"""The open-file limit is raised to fit --max-connections, up to the hard limit;
when the hard limit is lower, the node takes fewer connections (and says so)."""

from __future__ import annotations

import resource

from service.file_limits import HEADROOM, fit

INFINITY = resource.RLIM_INFINITY


def test_a_soft_limit_that_fits_is_kept() -> None:
    fitted = fit(1_000, 65_536, 65_536)
    assert (fitted.soft, fitted.max_connections) == (65_536, 1_000)


def test_the_soft_limit_is_raised_as_far_as_needed() -> None:
    fitted = fit(10_000, 1_024, 1_048_576)
    assert (fitted.soft, fitted.max_connections) == (10_000 + HEADROOM, 10_000)


def test_an_unlimited_hard_limit_lets_the_soft_one_rise() -> None:
    assert fit(10_000, 1_024, INFINITY).soft == 10_000 + HEADROOM


def test_a_low_hard_limit_lowers_the_connections_taken() -> None:
    fitted = fit(10_000, 1_024, 4_096)
    assert (fitted.soft, fitted.max_connections) == (4_096, 4_096 - HEADROOM)
