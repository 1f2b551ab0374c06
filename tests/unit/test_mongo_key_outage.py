"""The MongoDB key store's outage state (``eventlog/mongo_keys.py`` ``Outage``): while the
store is known down, one call at a time tries it, each probe wait doubling up to the interval;
the state is shared by the threads that call the store (event loop, read-ahead, key pool)."""

from __future__ import annotations

from eventlog.mongo_keys import FIRST_PROBE_WAIT, Outage


def test_while_down_one_call_tries_after_each_probe_wait_which_doubles_up_to_the_interval() -> None:
    now = [0.0]
    outage = Outage(1.0, lambda: now[0])
    assert not outage.down and outage.may_try()
    outage.failed()
    assert outage.down and not outage.may_try()  # within the first wait
    tried = []
    for tick in range(1, 60):
        now[0] = tick * 0.05
        if outage.may_try():
            tried.append(round(now[0], 2))
            outage.failed()  # the try failed too: still down, the wait not started afresh
    assert tried[:4] == [FIRST_PROBE_WAIT, 0.75, 1.75, 2.75]  # 0.25, then 0.5, then 1.0 (the interval)
    outage.answered()
    assert not outage.down and outage.may_try()
