"""Sealed values open while every key of theirs exists, and mask once one is gone."""

from __future__ import annotations

from collections.abc import Collection

from eventlog.key_port import DataKey, new_key
from eventlog.sealing import MASK, Closed, Opener, is_sealed, key_ids, seal


class Keys:
    def __init__(self, *keys: DataKey) -> None:
        self.keys = {k.key_id: k for k in keys}

    def find(self, ids: Collection[str]) -> dict[str, DataKey]:
        return {i: self.keys[i] for i in ids if i in self.keys}

    def held(self, key_id: str) -> DataKey | None:
        raise LookupError(key_id)  # as a store with no cache: always asked


def test_a_sealed_text_opens_with_its_key_and_hides_the_text() -> None:
    ada = new_key("user:ada", "2026-12-07T00:00:00Z")
    sealed = seal("Dinner at Ada's", [ada])
    assert is_sealed(sealed) and "Dinner" not in sealed and key_ids(sealed) == (ada.key_id,)
    assert Opener(Keys(ada)).open({"a": [sealed, 3]}) == {"a": ["Dinner at Ada's", 3]}


def test_any_json_value_seals() -> None:
    ada = new_key("user:ada", "2026-12-07T00:00:00Z")
    value = {"message": "hi", "n": [1, 2.5, None]}
    assert Opener(Keys(ada)).open(seal(value, [ada])) == value


def test_a_value_under_two_keys_needs_both() -> None:
    ada, message = new_key("user:ada", "x"), new_key("msg", "x")
    sealed = seal("secret", [ada, message])
    assert Opener(Keys(ada, message)).open(sealed) == "secret"
    assert Opener(Keys(ada)).open(sealed) == MASK
    assert Opener(Keys(message)).open(sealed) == MASK


def test_plaintext_from_older_logs_passes_unchanged() -> None:
    value = {"title": "Lisbon", "days": [{"title": "Day 1"}]}
    assert Opener(Closed()).open(value) == value
    assert Opener(Closed()).dumps(value) == b'{"title":"Lisbon","days":[{"title":"Day 1"}]}'


def test_a_tampered_value_is_masked_not_shown() -> None:
    ada = new_key("user:ada", "x")
    sealed = seal("secret", [ada])
    assert Opener(Keys(ada)).open(sealed[:-4] + "AAAA") == MASK
    assert Opener(Keys(ada)).dumps({"m": seal("x", [ada])}) == b'{"m":"x"}'


def test_dumps_opens_a_sealed_value_wherever_it_is_and_leaves_escaped_text_as_it_is() -> None:
    ada = new_key("user:ada", "x")
    opener = Opener(Keys(ada))
    # backslashes (escaped quotes, a newline) before the sealed value, none at all, and escapes alone
    assert opener.dumps({"q": 'say "hi"', "m": seal("x", [ada])}) == b'{"q":"say \\"hi\\"","m":"x"}'
    assert opener.dumps({"a": 'say "hi"\n', "m": seal("x", [ada])}) == b'{"a":"say \\"hi\\"\\n","m":"x"}'
    assert opener.dumps({"m": seal("x", [ada]), "q": "a\nb"}) == b'{"m":"x","q":"a\\nb"}'
    assert opener.dumps({"q": 'say "hi"', "n": "\u001f"}) == b'{"q":"say \\"hi\\"","n":"\\u001f"}'
    assert opener.dumps({"a": "back\\slash", "b": "caf\u00e9"}) == '{"a":"back\\\\slash","b":"caf\u00e9"}'.encode()
    assert opener.dumps(["plain"] * 300) == b'["plain"' + b',"plain"' * 299 + b"]"


def test_a_chat_message_sealed_without_the_walk_is_sealed_as_the_walk_seals_it() -> None:
    from eventlog.key_cache import CachedKeyStore
    from eventlog.memory_keys import MemoryKeyStore
    from service.privacy import PERSONAL_FIELDS, RecordSealer

    keys = CachedKeyStore(MemoryKeyStore())
    sealer = RecordSealer(keys)
    data = {
        "messageId": "m1",
        "userId": "u1",
        "name": "Ada L",
        "message": "meet at 8",
        "type": "text",
        "mentions": ["u2"],
    }

    def sealed(extra: dict[str, object]) -> tuple[dict[str, object], dict[str, object]]:
        fields: dict[str, object] = {
            "user_id": "u1", "at": "2026-12-07T00:00:00Z", "outcome": "accepted", "error": None, "meta": None,
            "payload": {"tripId": "t1", "message": "meet at 8", "type": "text", **extra},
            "events": ({"type": "chat_message", "data": {**data, **extra}},),
        }  # fmt: skip
        sealer.seal_fields(fields)
        events = fields["events"]
        assert isinstance(events, tuple)
        return events[0]["data"], fields["payload"]  # type: ignore[return-value]

    fast, fast_payload = sealed({})  # the chat event's known shape
    walked, walked_payload = sealed({"note": 1})  # a field the fast path does not know: the walk
    opener = Opener(keys)
    assert opener.open(fast) == data and opener.open(walked) == {**data, "note": 1}
    for name in data:
        assert is_sealed(fast[name]) == is_sealed(walked[name]) == (name in PERSONAL_FIELDS), name
    assert len(key_ids(str(fast["message"]))) == len(key_ids(str(walked["message"]))) == 2  # the author's and its own
    assert fast_payload["message"] == fast["message"] and walked_payload["message"] == walked["message"]
    keys.close()
