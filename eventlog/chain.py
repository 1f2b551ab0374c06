"""Tamper evidence: every record is a link in a hash chain, made at append time.

Two kinds of chain:

* **Trip streams.**  The records of a stream (those with a ``version``) form
  its chain in version order: the record at version N links to the one at
  N - 1 of the same stream; version 1 links to nothing (``prevHash`` null).
  Writers to different trips never touch each other's chains, and writers
  racing for one version are already decided by the ``(stream, version)``
  unique key.  The adapter knows the previous hash from its own last append to
  the stream, or reads it (by that unique key) when another process wrote it.
* **Writers.**  Every other record (refused commands, room signals,
  connections, admin actions) goes on the chain of the store object that
  appends it: ``chain`` is ``writer:<random id>``, chosen when the store object
  is made, and ``chainSeq`` counts 1, 2, 3...  Such a chain has exactly one
  writer, which appends one batch after another already, so linking it costs no
  read and no lock.  A new process (or a batch whose outcome is unknown) starts
  a new chain.

``hash`` is the SHA-256 (hex) of the canonical JSON (orjson, keys sorted at
every level) of the record's document without ``position`` and ``hash``, with
the events as stored: it covers ``prevHash`` (and ``chain``/``chainSeq``), so
each link commits to everything before it.  Records written before the chain
existed (schema version 1) carry no hash; their content hash is computed when a
successor links to them, so the first chained record after them covers them.

What a chain cannot show: the loss of the newest records of a chain (nothing
links to them yet).
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from eventlog.records import LogRecord, to_document

CHAIN_KEYS = ("chain", "chainSeq", "prevHash", "hash")
WRITER_PREFIX = "writer:"
HEADS_CACHED = 50_000  # streams whose last hash a store remembers

StreamKey = tuple[str, int]  # (stream, version)


def canonical_document(record: LogRecord) -> dict[str, Any]:
    """What ``hash`` covers: the document without ``position`` and ``hash``, events as stored."""
    document = to_document(record)
    if record.stored_events is not None:
        document["events"] = list(record.stored_events)
    del document["position"]
    document.pop("hash", None)
    return document


def digest(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def content_hash(record: LogRecord) -> str:
    """The hash the record's content gives now (equal to ``extra["hash"]`` unless it was altered)."""
    return digest(canonical_document(record))


def link_hash(record: LogRecord) -> str:
    """What a successor links to: the stored hash, or the content hash of a record from before the chain."""
    stored = record.extra.get("hash")
    return stored if isinstance(stored, str) else content_hash(record)


def is_stream_record(record: LogRecord) -> bool:
    return record.stream is not None and record.version is not None


class Chains:
    """One store object's chain state: its writer chain and the last hash of the streams it wrote."""

    def __init__(self, heads_cached: int = HEADS_CACHED) -> None:
        self._heads: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._heads_cached = heads_cached
        self.writer = ""
        self.seq = 0
        self.last: str | None = None
        self.new_writer()

    def new_writer(self) -> None:
        """Start a new writer chain (at start, and when a batch's outcome is unknown)."""
        self.writer = f"{WRITER_PREFIX}{secrets.token_hex(8)}"
        self.seq = 0
        self.last = None

    def known(self, key: StreamKey) -> str | None:
        head = self._heads.get(key[0])
        return head[1] if head is not None and head[0] == key[1] else None

    def remember(self, stream: str, version: int, hash_: str) -> None:
        head = self._heads.get(stream)
        if head is not None and head[0] > version:
            return
        self._heads[stream] = (version, hash_)
        self._heads.move_to_end(stream)
        if len(self._heads) > self._heads_cached:
            self._heads.popitem(last=False)

    def forget(self, streams: Iterable[str]) -> None:
        for stream in streams:
            self._heads.pop(stream, None)

    def batch(self) -> ChainBatch:
        return ChainBatch(self)


class ChainBatch:
    """The links of one batch of appends; they reach the ``Chains`` only through ``commit``.

    For each record, in append order: ``predecessor`` says which stream record
    must be read first (if any), ``link`` makes the linked record and its stored
    document, ``advance`` tells the batch it will be (or was) written, so the
    next records link to it.
    """

    def __init__(self, chains: Chains) -> None:
        self._chains = chains
        self._seq = chains.seq
        self._last = chains.last
        self._linked: dict[StreamKey, str] = {}  # stream links made in this batch
        self.streams: set[str] = set()

    def predecessor(self, record: LogRecord) -> StreamKey | None:
        """The ``(stream, version)`` whose hash this record needs and nobody here knows."""
        if record.stream is None or record.version is None or record.version <= 1:
            return None
        key = (record.stream, record.version - 1)
        if key in self._linked or self._chains.known(key) is not None:
            return None
        return key

    def link(
        self, record: LogRecord, found: Mapping[StreamKey, str | None] | None = None
    ) -> tuple[LogRecord, dict[str, Any]]:
        """The record with its links in ``extra``, and its document without ``position``.

        ``found`` holds the hashes ``predecessor`` asked for (None: no such record).
        """
        extra, document = self.links(record, found)
        return record.but(extra=extra, stored_events=None), document

    def links(
        self, record: LogRecord, found: Mapping[StreamKey, str | None] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """What ``link`` gives without copying the record: the linked record's ``extra``, and its
        document.  A store that makes the stored record anyway (with its position) copies it once."""
        links: dict[str, Any]
        if record.stream is not None and record.version is not None:
            previous: str | None = None
            if record.version > 1:
                before = (record.stream, record.version - 1)
                previous = self._linked.get(before) or self._chains.known(before) or (found or {}).get(before)
            links = {"prevHash": previous}
        else:
            links = {"chain": self._chains.writer, "chainSeq": self._seq + 1, "prevHash": self._last}
        kept = {key: value for key, value in record.extra.items() if key not in CHAIN_KEYS}
        document = to_document(record)
        del document["position"]
        for name in CHAIN_KEYS:
            document.pop(name, None)
        document.update(links)
        links["hash"] = document["hash"] = digest(document)
        return {**kept, **links}, document

    def advance(self, linked: LogRecord) -> None:
        hash_ = linked.extra["hash"]
        if linked.stream is not None and linked.version is not None:
            self._linked.setdefault((linked.stream, linked.version), hash_)
            self.streams.add(linked.stream)
        else:
            self._seq = linked.extra["chainSeq"]
            self._last = hash_

    def commit(self, written: Iterable[LogRecord], *, writer_intact: bool = True) -> None:
        """Keep what was written; ``writer_intact=False`` when a record of the writer chain failed."""
        chains = self._chains
        for record in written:
            if record.stream is not None and record.version is not None:
                chains.remember(record.stream, record.version, record.extra["hash"])
        if writer_intact:
            chains.seq, chains.last = self._seq, self._last
        else:
            chains.new_writer()

    def abandon(self) -> None:
        """The batch's outcome is unknown: some records may be stored, so its chains restart from the store."""
        self._chains.forget(self.streams)
        self._chains.new_writer()
