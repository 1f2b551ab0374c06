"""What of a record is personal data, sealed once when the record is built.

``RecordSealer.seal`` is the one hook (``Pipeline.build`` calls it for every
record: accepted, refused, stream or not).  Under the key of the person who sent
the command (``user:<id>``):

* in the events, every string under a key of ``PERSONAL_FIELDS`` at any depth
  (chat text, display names, titles, notes, locations, descriptions, previews),
  so an event another issue adds is covered as long as its free text uses these
  names;
* the whole payload (what the person sent) and the error's details (they may
  echo it).

A chat message (an event with a ``messageId`` and a ``message``) is sealed under
its author's key *and* a key of its own, and so is everything of the same record
that names the message (its notifications' previews, the payload); destroying
either key shreds it.  ``ip`` and ``userAgent`` in the meta are sealed under the
person's key and the day's network key (``net:<date>``), which retention
destroys by age (``destroy_network_keys_before``).

A record without a person (system records: checkpoints, the demo seed) is kept
as it is.
"""

from __future__ import annotations

from typing import Any

from eventlog.key_cache import CachedKeyStore
from eventlog.key_port import DataKey
from eventlog.records import LogRecord
from eventlog.sealing import is_sealed, key_ids, seal

JSON = Any
PERSONAL_FIELDS = frozenset({"message", "name", "title", "notes", "location", "description", "preview"})
NETWORK_FIELDS = ("ip", "userAgent")
NETWORK_PREFIX = "net:"


def person_subject(user_id: str) -> str:
    return f"user:{user_id}"


def _seal_fields(value: JSON, keys: list[DataKey], memo: dict[str, str] | None = None) -> JSON:
    """``value`` with its personal fields sealed; ``memo``: texts sealed already under the same
    keys in this record (a message's preview in every member's notification is sealed once)."""
    if isinstance(value, dict):
        out = {}
        for name, item in value.items():
            if name in PERSONAL_FIELDS and isinstance(item, str) and not is_sealed(item):
                sealed = memo.get(item) if memo is not None else None
                if sealed is None:
                    sealed = seal(item, keys)
                    if memo is not None:
                        memo[item] = sealed
                out[name] = sealed
            else:
                out[name] = _seal_fields(item, keys, memo)
        return out
    if isinstance(value, list | tuple):
        return [_seal_fields(item, keys, memo) for item in value]
    return value


class RecordSealer:
    def __init__(self, keys: CachedKeyStore) -> None:
        self._keys = keys

    def seal_name(self, user_id: str, name: str | None) -> str | None:
        """A person's display name sealed under their key (room rosters, kept in Redis)."""
        return seal(name, [self._keys.key_for(person_subject(user_id))]) if name else name

    def seal_live(self, message: dict[str, JSON]) -> dict[str, JSON]:
        """A bus message with the personal fields of its data (live names in room signals)
        sealed under the key of the person it names, so Redis holds no plaintext of theirs."""
        data = message.get("data")
        if not isinstance(data, dict):
            return message
        user_id = data.get("userId")
        if not isinstance(user_id, str) or not any(name in data for name in PERSONAL_FIELDS):
            return message
        return {**message, "data": _seal_fields(data, [self._keys.key_for(person_subject(user_id))])}

    def seal(self, record: LogRecord) -> LogRecord:
        if record.user_id is None:
            return self._seal_meta(record, None)
        person = self._keys.key_for(person_subject(record.user_id))
        keys = [person]
        events = record.events
        if events:
            message_keys: dict[str, DataKey] = {}
            memos: dict[str, dict[str, str]] = {}  # per message: its texts sealed once
            sealed_events = []
            for event in events:
                data = event.get("data") if isinstance(event, dict) else None
                if not isinstance(data, dict):
                    sealed_events.append(event)
                    continue
                message_id = data.get("messageId")
                event_keys, memo = keys, None
                if isinstance(message_id, str) and isinstance(data.get("message") or data.get("preview"), str):
                    own = message_keys.get(message_id)
                    if own is None:
                        own = message_keys[message_id] = self._keys.message_key()
                    event_keys, memo = [person, own], memos.setdefault(message_id, {})
                sealed_events.append({**event, "data": _seal_fields(data, event_keys, memo)})
            events = tuple(sealed_events)
            if len(message_keys) == 1:  # the payload holds the message's text: it goes with the message
                keys = [person, *message_keys.values()]
        payload = record.payload
        if payload is not None and not is_sealed(payload):
            payload = seal(payload, keys)
        error = record.error
        if isinstance(error, dict) and error.get("details") is not None and not is_sealed(error["details"]):
            error = {**error, "details": seal(error["details"], [person])}
        return self._seal_meta(record.but(events=events, payload=payload, error=error), person)

    def _seal_meta(self, record: LogRecord, person: DataKey | None) -> LogRecord:
        meta = record.meta
        if not isinstance(meta, dict) or not any(isinstance(meta.get(f), str) for f in NETWORK_FIELDS):
            return record
        network = self._keys.key_for(NETWORK_PREFIX + record.at[:10])
        keys = [person, network] if person is not None else [network]
        sealed = {
            name: seal(value, keys) if name in NETWORK_FIELDS and isinstance(value, str) and value else value
            for name, value in meta.items()
        }
        return record.but(meta=sealed)


def message_key_id(sealed_text: str) -> str | None:
    """The id of a chat message's own key, from its sealed text (None: plaintext, or no key of its own)."""
    if not is_sealed(sealed_text):
        return None
    ids = key_ids(sealed_text)
    return ids[1] if len(ids) == 2 else None


class SealedConnectionViews:
    """The connection directory as Redis keeps it: each connection's address and user agent
    sealed (under the person's and the day's network keys) once, when first listed."""

    def __init__(self, keys: CachedKeyStore) -> None:
        self._keys = keys
        self._sealed: dict[str, tuple[JSON, JSON]] = {}

    def __call__(self, views: list[dict[str, JSON]]) -> list[dict[str, JSON]]:
        held: dict[str, tuple[JSON, JSON]] = {}
        out = []
        for view in views:
            session_id = view["sessionId"]
            sealed = self._sealed.get(session_id)
            if sealed is None:
                day = str(view.get("connectionTime") or "")[:10]
                keys = [self._keys.key_for(person_subject(view["userId"])), self._keys.key_for(NETWORK_PREFIX + day)]
                ip, agent = (
                    seal(view[name], keys) if isinstance(view.get(name), str) and view[name] else view.get(name)
                    for name in NETWORK_FIELDS
                )
                sealed = (ip, agent)
            held[session_id] = sealed
            out.append({**view, "ip": sealed[0], "userAgent": sealed[1]})
        self._sealed = held  # the connections gone are forgotten
        return out
