"""``FrameEncoder.shared_list``: a list many frames carry (a room's member list, sent to every
joiner of a storm) is opened and encoded once per loop iteration, and only for that iteration."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable

import orjson

from eventlog.key_port import DataKey, new_key
from eventlog.sealing import MASK, Opener, seal
from service.frames import FrameEncoder


class Keys:
    def __init__(self, *keys: DataKey) -> None:
        self.keys = {k.key_id: k for k in keys}
        self.finds = 0

    def find(self, ids: Collection[str]) -> dict[str, DataKey]:
        self.finds += 1
        return {i: self.keys[i] for i in ids if i in self.keys}

    def held(self, key_id: str) -> DataKey | None:
        raise LookupError(key_id)  # as a store with no cache: always asked

    def unheld(self, key_ids: Iterable[str]) -> list[str]:
        return list(key_ids)

    async def fetch(self, key_ids: Iterable[str]) -> None:
        return None


async def test_a_shared_list_is_opened_once_per_iteration_and_frames_carry_it_as_encode_would() -> None:
    ada = new_key("user:ada", "x")
    keys = Keys(ada)
    encoder = FrameEncoder(Opener(keys))
    members = [{"userId": "a" * 24, "name": seal("Ada", [ada]), "status": "online"}]
    frames = [
        encoder.encode("trip_room_joined", {"tripId": "t", "members": encoder.shared_list(members), "seq": n}, "j")
        for n in range(3)
    ]
    assert keys.finds == 1  # opened for the first joiner only
    for n, frame in enumerate(frames):
        expected = {"tripId": "t", "members": [{"userId": "a" * 24, "name": "Ada", "status": "online"}], "seq": n}
        assert orjson.loads(frame) == {"event": "trip_room_joined", "data": expected, "ref": "j"}
        assert frame == encoder.encode("trip_room_joined", expected, "j")
    assert encoder.shared_list(list(members)) is not encoder.shared_list(members)  # the very list, not an equal one


async def test_the_next_iteration_opens_the_list_again_so_a_key_destroyed_meanwhile_masks_it() -> None:
    ada = new_key("user:ada", "x")
    keys = Keys(ada)
    encoder = FrameEncoder(Opener(keys))
    members = [{"userId": "a" * 24, "name": seal("Ada", [ada])}]
    assert orjson.loads(orjson.dumps(encoder.shared_list(members))) == [{"userId": "a" * 24, "name": "Ada"}]
    keys.keys.clear()  # the user erased
    await asyncio.sleep(0)
    assert orjson.loads(orjson.dumps(encoder.shared_list(members))) == [{"userId": "a" * 24, "name": MASK}]


async def test_without_an_opener_the_list_is_encoded_as_it_is() -> None:
    encoder = FrameEncoder(None)
    members = [{"userId": "a" * 24, "name": "Ada"}]
    frame = encoder.encode("trip_room_joined", {"members": encoder.shared_list(members)})
    assert frame == orjson.dumps({"event": "trip_room_joined", "data": {"members": members}})
