"""``python app.py verify``: the log's integrity, link by link (``eventlog/chain.py``).

One pass in position order.  For every record: its content must still give its
``hash`` (else it was altered); it must come next in its chain (a trip stream:
the version after the last one seen; a writer chain: the ``chainSeq`` after the
last) and link to that predecessor's hash (else records were deleted,
reordered or inserted between them).  A chain must start at 1, so losing the
first record shows too.

Records from before the chain (schema version 1) carry no hash: those of a
trip stream are still covered by the first chained record after them (it
links to their content), the others are counted as not covered.  What no chain
can show is the loss of the newest records of a chain.

The chains are unkeyed: someone who can write the store can rewrite a record
and recompute every hash after it.  With the checkpoint key (``--key``) or
checkpoints kept elsewhere (``--checkpoints``), the same pass also folds the
log into the checkpoints' accumulator (``eventlog/checkpoints.py``) and checks
that the log still gives every signed checkpoint's value: a rewritten and
re-chained history does not.
Then every trip snapshot is checked against a fold of its stream
(``analysts/snapshots.py``); one that differs makes the log not intact either:
a node would load it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from analysts.scan import PAGE, gc_paused
from analysts.snapshots import SnapshotCheck, check_snapshots
from eventlog import checkpoints
from eventlog.chain import content_hash
from eventlog.checkpoints import Checkpoint
from eventlog.ports import EventStore, RecordFilter
from eventlog.records import ACCEPTED, LogRecord

FIRST_CHAINED_SCHEMA = 2


@dataclass(frozen=True, slots=True)
class Broken:
    """One broken link: which record, where, and what is wrong with it."""

    position: int
    record_id: str
    chain: str  # "trip <id> version N" or "writer:<id> #N"
    problem: str

    def describe(self) -> str:
        return f"position {self.position}, record {self.record_id} ({self.chain}): {self.problem}"

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "recordId": self.record_id, "chain": self.chain, "problem": self.problem}


@dataclass
class VerifyReport:
    records: int = 0
    streams: int = 0
    writer_chains: int = 0
    legacy: int = 0  # records from before the chain
    uncovered: int = 0  # legacy records no chained record links to
    broken: list[Broken] = field(default_factory=list)
    truncated: bool = False
    checkpoints: int = 0  # signed checkpoints the log was checked against (with a key or a file)
    checkpoints_in_log: int = 0  # checkpoint records in the log, checked or not
    anchored_up_to: int = 0  # the newest position a checkpoint that held covers
    snapshots: SnapshotCheck = field(default_factory=SnapshotCheck)

    @property
    def intact(self) -> bool:
        return not self.broken and not self.snapshots.differing

    def to_json(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "records": self.records,
            "streams": self.streams,
            "writerChains": self.writer_chains,
            "legacy": self.legacy,
            "uncovered": self.uncovered,
            "broken": [item.to_json() for item in self.broken],
            "truncated": self.truncated,
            "checkpoints": self.checkpoints,
            "checkpointsInLog": self.checkpoints_in_log,
            "anchoredUpTo": self.anchored_up_to,
            "snapshots": {
                "checked": self.snapshots.checked,
                "stale": self.snapshots.stale,
                "differing": [item.to_json() for item in self.snapshots.differing],
            },
        }


class _Link:
    """The last record seen of a chain, and how many records at its end no chained record links to yet."""

    __slots__ = ("hash", "seq", "unlinked")

    def __init__(self, seq: int, hash_: str, unlinked: int) -> None:
        self.seq, self.hash, self.unlinked = seq, hash_, unlinked


class Verifier:
    """Checks records handed to it in position order."""

    def __init__(self, limit: int = 1000) -> None:
        self.report = VerifyReport()
        self._limit = limit
        self._streams: dict[str, _Link] = {}
        self._writers: dict[str, _Link] = {}
        self._legacy_outside = 0  # legacy records on no chain at all

    def _broken(self, record: LogRecord, chain: str, problem: str) -> None:
        self.broken_at(record.position, record.record_id, chain, problem)

    def broken_at(self, position: int, record_id: str, chain: str, problem: str) -> None:
        if len(self.report.broken) < self._limit:
            self.report.broken.append(Broken(position, record_id, chain, problem))
        else:
            self.report.truncated = True

    def check(self, record: LogRecord) -> None:
        self.report.records += 1
        stored = record.extra.get("hash")
        stream_record = record.stream is not None and record.version is not None
        if stream_record:
            name = f"trip {record.stream} version {record.version}"
        else:
            name = f"{record.extra.get('chain')} #{record.extra.get('chainSeq')}"
        legacy = stored is None and record.schema_version < FIRST_CHAINED_SCHEMA
        computed = content_hash(record)
        if legacy:
            self.report.legacy += 1
        elif stored is None:
            self._broken(record, name, f"no hash, though schema version {record.schema_version} records carry one")
        elif stored != computed:
            self._broken(record, name, "its content does not give its hash: the record was altered")
        link = stored if isinstance(stored, str) else computed
        if stream_record:
            assert record.stream is not None and record.version is not None
            self._follow(record, name, self._streams, record.stream, record.version, link, legacy, "version")
            return
        chain, seq = record.extra.get("chain"), record.extra.get("chainSeq")
        if legacy and chain is None:
            self._legacy_outside += 1
        elif not isinstance(chain, str) or not isinstance(seq, int):
            self._broken(record, name, "it names no chain (chain, chainSeq)")
        else:
            self._follow(record, name, self._writers, chain, seq, link, legacy, "record")

    def _follow(
        self,
        record: LogRecord,
        name: str,
        chains: dict[str, _Link],
        chain: str,
        seq: int,
        link: str,
        legacy: bool,
        unit: str,
    ) -> None:
        last = chains.get(chain)
        expected = last.seq + 1 if last is not None else 1
        if seq != expected:
            if last is not None and seq <= last.seq:
                self._broken(record, name, f"{unit} {seq} comes after {unit} {last.seq}: records were reordered")
            else:
                missing = f"{unit} {expected}" if seq == expected + 1 else f"{unit}s {expected} to {seq - 1}"
                self._broken(record, name, f"{missing} missing before it: records were deleted")
        elif not legacy and record.extra.get("prevHash") != (last.hash if last is not None else None):
            before = f"{unit} {last.seq}" if last is not None else "nothing (it comes first)"
            self._broken(record, name, f"its prevHash is not the hash of {before}: the chain was cut here")
        if last is None or seq > last.seq:
            unlinked = (last.unlinked if last is not None else 0) + 1 if legacy else 0
            chains[chain] = _Link(seq, link, unlinked)

    def finish(self) -> VerifyReport:
        report = self.report
        report.streams = len(self._streams)
        report.writer_chains = len(self._writers)
        report.uncovered = self._legacy_outside + sum(link.unlinked for link in self._streams.values())
        return report


class Anchors:
    """Folds the log into the checkpoints' accumulator and holds it to each signed checkpoint."""

    def __init__(self, verifier: Verifier, targets: list[tuple[str, Checkpoint]]) -> None:
        self._verifier = verifier
        self._pending = sorted(targets, key=lambda target: target[1].position, reverse=True)  # nearest last
        self._accumulator = ""
        self._records = 0
        self._last = 0

    def _resolve(self, up_to: int) -> None:
        """Hold every checkpoint covering at most ``up_to`` to the accumulator (it covers the log up to there)."""
        report = self._verifier.report
        while self._pending and self._pending[-1][1].position <= up_to:
            where, signed = self._pending.pop()
            report.checkpoints += 1
            if signed.accumulator == self._accumulator and signed.records == self._records:
                report.anchored_up_to = max(report.anchored_up_to, signed.position)
                continue
            self._verifier.broken_at(
                signed.position,
                "-",
                f"checkpoint of {signed.at} by {signed.node} ({where})",
                f"the log up to position {signed.position} no longer gives the signed value"
                f" ({self._records:,} records now, {signed.records:,} signed):"
                " records at or before it were altered, deleted or added, and the chains recomputed",
            )

    def check(self, record: LogRecord) -> None:
        self._resolve(record.position - 1)
        self._accumulator = checkpoints.fold(self._accumulator, record)
        self._records += 1
        self._last = record.position
        self._resolve(record.position)

    def finish(self) -> None:
        while self._pending:
            where, signed = self._pending.pop()
            self._verifier.report.checkpoints += 1
            self._verifier.broken_at(
                signed.position,
                "-",
                f"checkpoint of {signed.at} by {signed.node} ({where})",
                f"the log ends at position {self._last}, before the position {signed.position} this checkpoint"
                " covers: its newest records were deleted",
            )


async def signed_checkpoints(
    store: EventStore, verifier: Verifier, key: str | None, external: list[Checkpoint], page: int = PAGE
) -> list[tuple[str, Checkpoint]]:
    """The checkpoints to hold the log to: those in the log (with a key: each must verify with it)
    and those from a file (kept outside the store: trusted, and checked too when a key is given)."""
    targets: list[tuple[str, Checkpoint]] = []
    where = RecordFilter(commands=(checkpoints.COMMAND,))
    after = 0
    while key is not None:
        records = await store.read_all(after, page, where)
        for record in records:
            if not checkpoints.is_checkpoint(record) or record.outcome != ACCEPTED:
                continue
            found = checkpoints.from_json(record.payload)
            name = f"checkpoint record {record.record_id}"
            if found is None:
                verifier.broken_at(record.position, record.record_id, name, "it is not a readable checkpoint")
            elif not found.signed_with(key):
                verifier.broken_at(
                    record.position, record.record_id, name, "its signature does not verify with this key: forged"
                )
            else:
                targets.append((f"in the log at position {record.position}", found))
        if len(records) < page:
            break
        after = records[-1].position
    for number, found in enumerate(external, start=1):
        name = f"checkpoint {number} of the file"
        if key is not None and not found.signed_with(key):
            verifier.broken_at(0, "-", name, "its signature does not verify with this key")
        else:
            targets.append((name, found))
    if not targets:
        verifier.broken_at(0, "-", "checkpoints", "no checkpoint signed with this key: nothing anchors the log")
    return targets


async def verify(
    store: EventStore,
    progress: Callable[[int], None] | None = None,
    *,
    limit: int = 1000,
    page: int = PAGE,
    key: str | None = None,
    external: list[Checkpoint] | None = None,
) -> VerifyReport:
    """Check every record of the log; the report lists the broken links in position order.

    With ``key`` or ``external`` checkpoints, the log must also still give every signed checkpoint."""
    verifier = Verifier(limit)
    anchors = None
    if key is not None or external:
        anchors = Anchors(verifier, await signed_checkpoints(store, verifier, key, list(external or ()), page))
    position = 0
    in_log = 0
    with gc_paused():
        while True:
            records = await store.read_all(position, page)
            for record in records:
                verifier.check(record)
                if checkpoints.is_checkpoint(record):
                    in_log += 1
                if anchors is not None:
                    anchors.check(record)
            if progress is not None:
                progress(len(records))
            if len(records) < page:
                break
            position = records[-1].position
    if anchors is not None:
        anchors.finish()
    report = verifier.finish()
    report.checkpoints_in_log = in_log
    report.broken.sort(key=lambda item: item.position)
    report.snapshots = await check_snapshots(store, limit=limit)
    return report
