"""Editing and deleting chat messages: the decider's rules, and the views every history shows."""

from __future__ import annotations

import pytest

from domain import schemas
from domain.chat_notes import ChatNote, noted_view
from domain.errors import CommandRefused, ErrorCode
from domain.trip_codec import trip_from_snapshot, trip_to_snapshot
from domain.trip_decider import (
    MAX_REACTION_KINDS,
    Actor,
    CreateTrip,
    DeleteChatMessage,
    EditChatMessage,
    PostChatMessage,
    ReactToChatMessage,
    TripCommand,
    decide,
    evolve,
)
from domain.trip_events import (
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    ChatReactionsChanged,
    event_from_json,
    event_to_json,
)
from domain.trip_model import Trip
from eventlog.records import new_record
from projections.chat import ChatHistories
from projections.digests import compact_chat

OWNER = "0" * 23 + "1"
AUTHOR = "0" * 23 + "2"
OTHER = "0" * 23 + "3"
ADMIN = "0" * 23 + "9"
STRANGER = "0" * 23 + "8"
TRIP = "f" * 24
MESSAGE = "a" * 24
AT = "2026-11-25T10:00:00.000Z"
LATER = "2026-11-25T10:05:00.000Z"


def run(state: Trip | None, command: TripCommand) -> Trip:
    events = decide(state, command)
    version = state.version if state else 0
    for event in events[:1]:
        version += 1
        assert event_from_json(event_to_json(event)) == event  # the log round-trips every event
        state = evolve(state, event, version, AT)
    assert state is not None
    return state


def with_message() -> Trip:
    trip = run(None, CreateTrip(TRIP, "Lisbon", OWNER, (AUTHOR, OTHER), (), ()))
    return run(trip, PostChatMessage(Actor(AUTHOR), MESSAGE, "hello", "text", frozenset({OWNER, AUTHOR, OTHER})))


def edit(by: str, text: str = "hello again", author: str | None = AUTHOR) -> EditChatMessage:
    return EditChatMessage(Actor(by), MESSAGE, text, LATER, author)


def delete(by: str, *, admin: bool = False, author: str | None = AUTHOR) -> DeleteChatMessage:
    return DeleteChatMessage(Actor(by, is_admin=admin), MESSAGE, LATER, author)


def refused(state: Trip, command: TripCommand) -> ErrorCode:
    with pytest.raises(CommandRefused) as caught:
        decide(state, command)
    return caught.value.code


def test_the_author_edits_their_message_and_the_trip_notes_its_current_text() -> None:
    trip = with_message()
    assert decide(trip, edit(AUTHOR)) == (ChatMessageEdited(MESSAGE, AUTHOR, "hello again", LATER),)
    edited = run(trip, edit(AUTHOR))
    assert edited.version == trip.version + 1
    assert edited.chat_notes[MESSAGE] == ChatNote(AUTHOR, "hello again", LATER)


def test_nobody_but_the_author_edits_a_message_not_even_the_owner_or_an_admin() -> None:
    trip = with_message()
    assert refused(trip, edit(OTHER)) == ErrorCode.FORBIDDEN
    assert refused(trip, edit(OWNER)) == ErrorCode.FORBIDDEN
    assert (
        refused(trip, EditChatMessage(Actor(ADMIN, is_admin=True), MESSAGE, "x", LATER, AUTHOR)) == ErrorCode.FORBIDDEN
    )


def test_a_message_the_trip_does_not_have_is_not_found() -> None:
    trip = with_message()
    assert refused(trip, edit(AUTHOR, author=None)) == ErrorCode.NOT_FOUND
    assert refused(trip, delete(AUTHOR, author=None)) == ErrorCode.NOT_FOUND


@pytest.mark.parametrize(("by", "admin"), [(AUTHOR, False), (OWNER, False), (ADMIN, True)])
def test_the_author_the_owner_or_an_admin_deletes_a_message(by: str, admin: bool) -> None:
    trip = with_message()
    assert decide(trip, delete(by, admin=admin)) == (ChatMessageDeleted(MESSAGE, AUTHOR, by, LATER),)
    gone = run(trip, delete(by, admin=admin))
    assert gone.chat_notes[MESSAGE] == ChatNote(AUTHOR, deleted_by=by, deleted_at=LATER)


def test_another_member_may_not_delete_a_message() -> None:
    assert refused(with_message(), delete(OTHER)) == ErrorCode.FORBIDDEN


def test_a_deleted_message_is_neither_edited_nor_deleted_again() -> None:
    gone = run(run(with_message(), edit(AUTHOR)), delete(AUTHOR))
    assert gone.chat_notes[MESSAGE].message is None  # the edited text is forgotten with it
    assert refused(gone, edit(AUTHOR)) == ErrorCode.NOT_FOUND
    assert refused(gone, delete(OWNER)) == ErrorCode.NOT_FOUND


def test_the_author_known_to_the_trip_outranks_the_shells_fact() -> None:
    edited = run(with_message(), edit(AUTHOR))
    assert refused(edited, edit(OTHER, author=OTHER)) == ErrorCode.FORBIDDEN


def test_a_snapshot_keeps_the_chat_notes_so_a_loaded_trip_decides_the_same() -> None:
    gone = run(run(with_message(), edit(AUTHOR)), delete(OWNER))
    loaded = trip_from_snapshot(trip_to_snapshot(gone))
    assert loaded == gone
    assert "hello" not in str(trip_to_snapshot(gone))


VIEW = {"messageId": MESSAGE, "tripId": TRIP, "userId": AUTHOR, "message": "hello", "type": "text", "seq": 2}


def test_a_noted_view_is_the_current_text_or_a_tombstone_without_text() -> None:
    assert noted_view(VIEW, None) is VIEW
    edited = noted_view(VIEW, ChatNote(AUTHOR, "hi", LATER))
    assert edited == {**VIEW, "message": "hi", "edited": True, "editedAt": LATER}
    tombstone = noted_view(edited, ChatNote(AUTHOR, deleted_by=OWNER, deleted_at=LATER))
    assert "message" not in tombstone and "edited" not in tombstone
    assert tombstone == {
        **{k: v for k, v in VIEW.items() if k != "message"},
        "deleted": True,
        "deletedBy": OWNER,
        "deletedAt": LATER,
    }


def _record(version: int, event: dict[str, object]) -> object:
    return new_record(
        record_id=f"{version:024x}",
        at=AT,
        source="ws",
        command="x",
        outcome="accepted",
        user_id=AUTHOR,
        session_id=None,
        trip_id=TRIP,
        payload=None,
        ref=None,
        meta=None,
        events=(event,),
        stream=TRIP,
        version=version,
    )


def _fold(histories: ChatHistories, events: list[dict[str, object]]) -> None:
    for version, event in enumerate(events, start=1):
        histories.apply(_record(version, event))  # type: ignore[arg-type]


def test_a_chat_history_shows_edits_and_tombstones_and_a_compact_one_compares_equal() -> None:
    trip = run(None, CreateTrip(TRIP, "Lisbon", OWNER, (AUTHOR,), (), ()))
    second = "b" * 24
    events = [
        event_to_json(decide(None, CreateTrip(TRIP, "Lisbon", OWNER, (AUTHOR,), (), ()))[0]),
        event_to_json(decide(trip, PostChatMessage(Actor(AUTHOR), MESSAGE, "hello", "text", None))[0]),
        event_to_json(decide(trip, PostChatMessage(Actor(AUTHOR), second, "secret", "text", None))[0]),
        event_to_json(ChatMessageEdited(MESSAGE, AUTHOR, "hello again", LATER)),
        event_to_json(ChatMessageDeleted(second, AUTHOR, OWNER, LATER)),
    ]
    full, compact = ChatHistories(), ChatHistories(compact=True)
    _fold(full, events)
    _fold(compact, events)
    page = full.page(TRIP, 10, None)
    assert page is not None
    assert [m.get("message") for m in page] == ["hello again", None]
    assert page[0]["edited"] is True and page[0]["editedAt"] == LATER
    assert page[1]["deleted"] is True and page[1]["deletedBy"] == OWNER
    assert "secret" not in str(full.snapshot())
    assert compact_chat(full.snapshot()[TRIP]) == compact.snapshot()[TRIP]


# reactions ----------------------------------------------------------------------------


def react(by: str, emoji: str = "👍", *, add: bool = True, author: str | None = AUTHOR) -> ReactToChatMessage:
    return ReactToChatMessage(Actor(by), MESSAGE, emoji, add, author)


def test_reactions_are_summed_per_emoji_first_reacted_first_and_removed_per_user() -> None:
    trip = with_message()
    for by, emoji in ((OTHER, "👍"), (OWNER, "🎉"), (OWNER, "👍")):
        trip = run(trip, react(by, emoji))
    note = trip.chat_notes[MESSAGE]
    assert note.author_id == AUTHOR and note.message is None  # as posted, with reactions
    assert note.reactions == (("👍", (OTHER, OWNER)), ("🎉", (OWNER,)))
    trip = run(trip, react(OWNER, "🎉", add=False))
    assert trip.chat_notes[MESSAGE].reactions == (("👍", (OTHER, OWNER)),)
    event = decide(trip, react(OTHER, add=False))[0]
    assert isinstance(event, ChatReactionsChanged) and event.reactions == (("👍", (OWNER,)),)
    assert event.author_id == AUTHOR and event.user_id == OTHER and not event.added


def test_a_reaction_already_there_or_already_gone_changes_nothing() -> None:
    trip = run(with_message(), react(OTHER))
    assert decide(trip, react(OTHER)) == ()
    assert decide(trip, react(OWNER, add=False)) == ()


def test_a_message_holds_a_bounded_number_of_kinds_of_reaction() -> None:
    trip = with_message()
    kinds = [chr(0x1F600 + n) for n in range(MAX_REACTION_KINDS + 1)]
    for emoji in kinds[:-1]:
        trip = run(trip, react(OTHER, emoji))
    assert refused(trip, react(OTHER, kinds[-1])) == ErrorCode.VALIDATION_ERROR
    assert decide(trip, react(OWNER, kinds[0]))  # another user on a kind already there is fine


def test_reactions_survive_an_edit_and_go_with_a_delete() -> None:
    trip = run(run(with_message(), react(OTHER)), edit(AUTHOR))
    assert trip.chat_notes[MESSAGE].reactions == (("👍", (OTHER,)),)
    view = noted_view(VIEW, trip.chat_notes[MESSAGE])
    assert view["reactions"] == [{"emoji": "👍", "count": 1, "userIds": [OTHER]}] and view["edited"] is True
    gone = run(trip, delete(AUTHOR))
    assert "reactions" not in noted_view(view, gone.chat_notes[MESSAGE])
    assert refused(gone, react(OWNER)) == ErrorCode.NOT_FOUND
    assert trip_from_snapshot(trip_to_snapshot(trip)) == trip


@pytest.mark.parametrize("emoji", ["👍", "👍🏽", "❤️", "🇵🇹", "1️⃣", "👩‍👩‍👧‍👦", "🏳️‍🌈", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"])
def test_one_emoji_grapheme_is_a_reaction(emoji: str) -> None:
    assert schemas.check_event("add_reaction", {"tripId": TRIP, "messageId": MESSAGE, "emoji": emoji})["emoji"] == emoji


@pytest.mark.parametrize("emoji", ["", "a", "👍👍", "🇵", "👍a", "\u200d👍", "👍\u200d", "1", "🏽", "x" * 64])
def test_anything_but_one_emoji_is_refused(emoji: str) -> None:
    with pytest.raises(CommandRefused) as caught:
        schemas.check_event("add_reaction", {"tripId": TRIP, "messageId": MESSAGE, "emoji": emoji})
    assert caught.value.code == ErrorCode.VALIDATION_ERROR and "emoji" in (caught.value.details or {})


def test_a_history_holds_the_reaction_summary_as_the_trip_notes_it() -> None:
    trip = run(None, CreateTrip(TRIP, "Lisbon", OWNER, (AUTHOR,), (), ()))
    posted = decide(trip, PostChatMessage(Actor(AUTHOR), MESSAGE, "hello", "text", None))[0]
    trip = run(trip, PostChatMessage(Actor(AUTHOR), MESSAGE, "hello", "text", None))
    events = [
        event_to_json(decide(None, CreateTrip(TRIP, "Lisbon", OWNER, (AUTHOR,), (), ()))[0]),
        event_to_json(posted),
    ]
    for command in (react(OWNER), react(AUTHOR, "🎉"), react(OWNER, add=False)):
        change = decide(trip, command)[0]
        trip = run(trip, command)
        events.append(event_to_json(change))
    full = ChatHistories()
    _fold(full, events)
    page = full.page(TRIP, 10, None)
    assert page is not None
    assert page[0]["reactions"] == [{"emoji": "🎉", "count": 1, "userIds": [AUTHOR]}]
    assert page[0] == noted_view({k: v for k, v in page[0].items() if k != "reactions"}, trip.chat_notes[MESSAGE])


# mentions -----------------------------------------------------------------------------


def test_a_mentioned_member_is_notified_even_in_the_room_and_others_only_when_away() -> None:
    trip = run(None, CreateTrip(TRIP, "Lisbon", OWNER, (AUTHOR, OTHER), (), ()))
    present = frozenset({OWNER, AUTHOR, OTHER})
    mentions = (OTHER, AUTHOR, STRANGER, OTHER)  # the sender, a stranger and a repeat are dropped
    posted, *notified = decide(trip, PostChatMessage(Actor(AUTHOR), MESSAGE, "@Oto look", "text", present, mentions))
    assert isinstance(posted, ChatMessagePosted) and posted.mentions == (OTHER,)
    assert [(n.user_id, n.kind) for n in notified] == [(OTHER, "mention")]  # type: ignore[union-attr]
    away = decide(trip, PostChatMessage(Actor(AUTHOR), MESSAGE, "@Oto look", "text", frozenset({AUTHOR}), (OTHER,)))
    assert [(n.user_id, n.kind) for n in away[1:]] == [(OWNER, "chat_message"), (OTHER, "mention")]  # type: ignore[union-attr]
    assert event_from_json(event_to_json(posted)) == posted
    assert event_to_json(away[2])["data"]["kind"] == "mention"


def test_a_mention_must_be_ids_and_at_most_twenty() -> None:
    base = {"tripId": TRIP, "message": "hi"}
    assert schemas.check_event("chat_message", {**base, "mentions": [OTHER]})["mentions"] == [OTHER]
    for bad in (["not-an-id"], [OTHER] * 21, OTHER):
        with pytest.raises(CommandRefused):
            schemas.check_event("chat_message", {**base, "mentions": bad})


# announcements ------------------------------------------------------------------------


def test_an_announcement_is_shown_until_it_expires_and_read_per_user() -> None:
    from domain.announcements import announce, read
    from projections.announcements import Announcements

    made = announce("a" * 24, {"message": "strike", "type": "alert", "expiresInSeconds": 3600}, ADMIN, "Rita", AT)
    assert made["data"]["from"] == {"userId": ADMIN, "name": "Rita"}
    assert made["data"]["expiresAt"] == "2026-11-25T11:00:00.000Z"
    shown = Announcements()
    shown.apply(_announcing(1, made))
    assert [x["read"] for x in shown.shown_to(OTHER, AT)] == [False]
    assert shown.shown_to(OTHER, "2026-11-25T11:00:00.000Z") == []  # expired
    shown.apply(_announcing(2, read(shown.find("a" * 24), OTHER, AT)))
    assert shown.shown_to(OTHER, AT, unread_only=True) == [] and shown.shown_to(OWNER, AT, unread_only=True)
    with pytest.raises(CommandRefused):
        read(shown.find("a" * 24), OTHER, "2026-11-25T12:00:00.000Z")  # expired: no longer readable
    with pytest.raises(CommandRefused):
        read(None, OTHER, AT)


def _announcing(position: int, event: dict[str, object]) -> object:
    return new_record(
        record_id=f"{position:024x}", at=AT, source="rest", command="admin_broadcast", outcome="accepted",
        user_id=ADMIN, session_id=None, trip_id=None, payload=None, ref=None, meta=None, events=(event,),
    ).but(position=position)  # fmt: skip
