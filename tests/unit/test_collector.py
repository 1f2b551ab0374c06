"""``app.tune_collector``: start-up objects frozen, a deeper young generation, a
middle generation collected less often, the old generation's ratio kept; 0 changes
nothing."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app import MIDDLE_THRESHOLD, tune_collector


@pytest.fixture
def collector() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("collector")
def test_tuning_freezes_what_exists_and_collects_the_young_and_middle_generations_less_often() -> None:
    _, middle, old = gc.get_threshold()
    kept = [object() for _ in range(10)]
    tune_collector(50_000)
    assert gc.get_threshold() == (50_000, MIDDLE_THRESHOLD, old)
    assert middle < gc.get_threshold()[1]  # Python's own is 10
    assert gc.get_freeze_count() > len(kept)


@pytest.mark.usefixtures("collector")
def test_zero_leaves_the_collector_as_python_set_it() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    tune_collector(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen
