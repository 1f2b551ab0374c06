"""What of a record is personal data, sealed once when the record is built.

``RecordSealer.seal`` is the one hook (``Pipeline.build`` calls it for every
record: accepted, refused, stream or not).  Under the key of the person who sent
the command (``user:<id>``):

* in the events, every string under a key of ``PERSONAL_FIELDS`` at any depth
  (chat text, display names, titles, notes, locations, descriptions, previews),
  so an event another issue adds is covered as long as its free text uses these
  names;
* the payload (what the person sent): an accepted command's passed validation, so
  its personal fields are sealed as in the events (a chat message's text is sealed
  once for both); a refused command's is sealed whole, as are the error's details
  (they may echo it).

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

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeGuard

from eventlog.key_cache import CachedKeyStore
from eventlog.key_port import DataKey
from eventlog.records import ACCEPTED, LogRecord
from eventlog.sealing import SEALED, is_sealed, key_ids, seal

JSON = Any
PERSONAL_FIELDS = frozenset(
    # "from"/"to"/"fromName": a change_replaced notification's old and new values and who set them
    {
        "message",
        "name",
        "title",
        "notes",
        "location",
        "description",
        "preview",
        "body",
        "value",
        "from",
        "to",
        "fromName",
    }
)
# fields whose value, whatever its JSON type, is the person's (sealed whole when it is a list or an
# object); other personal fields are strings, and an object under them is structure (``replaced``)
WHOLE_VALUE_FIELDS = frozenset({"value"})
NETWORK_FIELDS = ("ip", "userAgent")
# what else of a meta names addresses: aggregated security events (``service/admin.py``)
# keep their source (``ip:<address>``) and the addresses seen
META_ADDRESS_FIELDS = frozenset({"ip", "userAgent", "ips", "source"})
NETWORK_PREFIX = "net:"
NAMES_CACHED = 100_000
# a chat message's event and command as the service makes them (``chat_message``): of their
# fields only ``name`` and ``message`` are personal, so they are sealed without the walk
CHAT_EVENT_FIELDS = frozenset({"messageId", "userId", "name", "message", "type", "mentions"})
CHAT_PAYLOAD_FIELDS = frozenset({"tripId", "message", "type", "mentions"})


def person_subject(user_id: str) -> str:
    return f"user:{user_id}"


def seals_network(meta: object) -> TypeGuard[dict[str, Any]]:
    """Whether a record with ``meta`` is sealed with its day's network key too."""
    return isinstance(meta, dict) and ("ip" in meta or "userAgent" in meta or "source" in meta)


def _seal_fields(
    value: JSON, keys: list[DataKey], memo: dict[str, str] | None = None, names: Callable[[str], str] | None = None
) -> JSON:
    """``value`` with its personal fields sealed; ``memo``: texts sealed already under the same
    keys in this record (a message's preview in every member's notification is sealed once);
    ``names``: how a display name is sealed (under the person's key alone, once per person)."""
    if isinstance(value, list | tuple):
        return [_seal_fields(item, keys, memo, names) if isinstance(item, dict | list) else item for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for name, item in value.items():
        if isinstance(item, str):
            if name == "name" and names is not None and not item.startswith(SEALED):
                item = names(item)
            elif name in PERSONAL_FIELDS and not item.startswith(SEALED):
                sealed = memo.get(item) if memo is not None else None
                if sealed is None:
                    sealed = seal(item, keys)
                    if memo is not None:
                        memo[item] = sealed
                item = sealed
        elif name in WHOLE_VALUE_FIELDS and isinstance(item, dict | list) and item:
            item = seal(item, keys)  # a value may be a list or an object of free text (a constraint's)
        elif isinstance(item, dict | list):
            item = _seal_fields(item, keys, memo, names)
        out[name] = item
    return out


class RecordSealer:
    def __init__(self, keys: CachedKeyStore) -> None:
        self._keys = keys
        # a person's display name, sealed once under their key (by key id: a new key after an
        # erasure seals it anew); it is the same in every record, so it is not sealed per record
        self._names: dict[tuple[str, str], str] = {}

    def _name(self, person: DataKey, name: str) -> str:
        held = self._names.get((person.key_id, name))
        if held is None:
            if len(self._names) >= NAMES_CACHED:
                self._names.clear()
            held = self._names[(person.key_id, name)] = seal(name, [person])
        return held

    def seal_name(self, user_id: str, name: str | None) -> str | None:
        """A person's display name sealed under their key (room rosters, kept in Redis)."""
        return seal(name, [self._keys.key_for(person_subject(user_id))]) if name else name

    async def seal_name_ahead(self, user_id: str, name: str | None) -> str | None:
        """``seal_name`` with their key read (or made) off the event loop (``fetch_key_for``):
        for a sign-in, which may be the first this node sees of them."""
        if not name:
            return name
        return seal(name, [await self._keys.fetch_key_for(person_subject(user_id))])

    async def seal_live(self, message: dict[str, JSON]) -> dict[str, JSON]:
        """A bus message with the personal fields of its data (live names in room signals)
        sealed under the key of the person it names, so Redis holds no plaintext of theirs.
        Their key is durable first (read or written off the event loop: ``CachedKeyStore.ready``),
        so that the other nodes find it (one not yet written would be taken as destroyed there,
        and the name masked, for a while).  ``StoreUnavailable``: nothing to publish it with."""
        data = message.get("data")
        if not isinstance(data, dict):
            return message
        user_id = data.get("userId")
        if not isinstance(user_id, str) or not any(name in data for name in PERSONAL_FIELDS):
            return message
        subject = person_subject(user_id)
        wait = self._keys.ready(subject)
        if wait is not None:
            await wait
        key = self._keys.key_for(subject)
        self._keys.written(key)  # at once, but for a key made since ``ready`` (another read's result)
        return {**message, "data": _seal_fields(data, [key])}

    def seal(self, record: LogRecord) -> LogRecord:
        """The record with its personal data sealed."""
        fields = {
            "user_id": record.user_id, "at": record.at, "outcome": record.outcome, "payload": record.payload,
            "events": record.events, "error": record.error, "meta": record.meta,
        }  # fmt: skip
        self.seal_fields(fields)
        return record.but(
            payload=fields["payload"], events=fields["events"], error=fields["error"], meta=fields["meta"]
        )

    def ready(self, user_id: str | None, meta: object, at: str) -> Awaitable[object] | None:
        """None when the keys a record of ``user_id`` with ``meta`` made ``at`` is sealed with are held
        and durable (the network key is ``at``'s day's, as ``seal_fields`` takes it; ``at`` is read
        only when ``seals_network(meta)``); else what to
        await before it is built (their read or write off the event loop: ``CachedKeyStore.ready``),
        so that sealing it reads and writes no key on the loop."""
        keys = self._keys
        person = keys.ready(person_subject(user_id)) if user_id is not None else None
        pool = keys.message_keys_ready() if user_id is not None else None  # a message of theirs takes one
        network = keys.ready(NETWORK_PREFIX + at[:10]) if seals_network(meta) else None
        if person is None and pool is None and network is None:  # the common case: all held
            return None
        pending = [wait for wait in (person, pool, network) if wait is not None]
        return pending[0] if len(pending) == 1 else asyncio.gather(*pending)

    def seal_fields(self, fields: dict[str, Any]) -> None:
        """Seal, in place, the personal data of a record's fields (``new_record``'s keywords) before it is
        built: ``payload``, ``events``, ``error`` and ``meta``, as the record's ``user_id`` and ``at`` say.
        Every key it seals with is durable when this returns (``CachedKeyStore.written``: a record is
        never durable before its keys)."""
        user_id = fields.get("user_id")
        person = self._keys.key_for(person_subject(user_id)) if user_id is not None else None
        if person is not None:
            self._keys.written(person)
        meta = fields.get("meta")
        if seals_network(meta):
            fields["meta"] = self._sealed_meta(meta, person, fields["at"])
        if person is None:
            return
        keys = [person]

        def names(name: str) -> str:
            return self._name(person, name)

        payload_memo: dict[str, str] = {}
        events = fields.get("events")
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
                    if event.get("type") == "chat_message" and data.keys() <= CHAT_EVENT_FIELDS:
                        sealed = self._sealed_chat(data, event_keys, memo, person)
                        if sealed is not None:
                            sealed_events.append({**event, "data": sealed})
                            continue
                sealed_events.append({**event, "data": _seal_fields(data, event_keys, memo, names)})
            fields["events"] = tuple(sealed_events)
            if len(message_keys) == 1:  # the payload holds the message's text: it goes with the message
                keys = [person, *message_keys.values()]
                payload_memo = next(iter(memos.values()))
        payload = fields.get("payload")
        if payload is not None and not is_sealed(payload):
            if fields.get("outcome") == ACCEPTED and isinstance(payload, dict):
                # validated: its free text is under the names of PERSONAL_FIELDS (the event's, sealed once)
                text = payload.get("message")
                if payload.keys() <= CHAT_PAYLOAD_FIELDS and text in payload_memo:  # a chat message's
                    fields["payload"] = {**payload, "message": payload_memo[text]}
                else:
                    fields["payload"] = _seal_fields(payload, keys, payload_memo)
            else:  # a refusal echoes anything a client sent: all of it sealed
                fields["payload"] = seal(payload, keys)
        error = fields.get("error")
        if isinstance(error, dict) and error.get("details") is not None and not is_sealed(error["details"]):
            fields["error"] = {**error, "details": seal(error["details"], [person])}

    def _sealed_chat(
        self, data: dict[str, JSON], keys: list[DataKey], memo: dict[str, str], person: DataKey
    ) -> dict[str, JSON] | None:
        """A ``chat_message`` event's data sealed as ``_seal_fields`` seals it, without the walk
        (None: not as the service makes it, left to the walk)."""
        text, name = data.get("message"), data.get("name")
        if not isinstance(text, str) or text.startswith(SEALED) or not isinstance(name, str | None):
            return None
        sealed = memo.get(text)
        if sealed is None:
            sealed = memo[text] = seal(text, keys)
        out = {**data, "message": sealed}
        if name is not None and not name.startswith(SEALED):
            out["name"] = self._name(person, name)
        return out

    def _sealed_meta(self, meta: dict[str, Any], person: DataKey | None, at: str) -> dict[str, Any]:
        network = self._keys.key_for(NETWORK_PREFIX + at[:10])
        self._keys.written(network)
        keys = [person, network] if person is not None else [network]
        sealed: dict[str, Any] = {}
        for name, value in meta.items():
            if name in META_ADDRESS_FIELDS and value:
                if isinstance(value, str):
                    value = seal(value, keys)
                elif isinstance(value, list):
                    value = [seal(item, keys) if isinstance(item, str) else item for item in value]
            sealed[name] = value
        return sealed


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
