"""Sealed values: personal data as the log keeps it, AES-GCM under one or more data keys.

A sealed value is a string: ``"\\x1e"``, a kind (``t`` text, ``j`` any JSON value),
the ids of its keys joined by ``|``, then ``|`` and the base64 of nonce and
ciphertext.  Its cipher key is the data key itself, or the SHA-256 of several
keys' material in order: the value opens only while *every* key exists, so a
chat message sealed under its author's key and its own opens neither after the
author is erased nor after the message's key is destroyed.

Any string that starts with ``\\x1e`` is taken for a sealed value (and masked when it
does not open), so no client text may start with it where it reaches a record, a frame
or an answer unsealed, and none does: ``domain/sanitize.py`` refuses control characters
in a frame's ``data`` and in a REST body, and names a refused key with them escaped;
``service/session.py`` refuses a frame whose ``event`` or ``ref`` has one (and echoes
neither); query arguments have ``\\x1e`` (with most C0 controls) turned into a space
(Tornado's ``get_argument``, and ``handlers/upgrade.py`` alike); header values hold
none (Tornado's parser and ``handlers/upgrade.py`` refuse them); path arguments are ids
or an emoji, checked before use, and no refusal quotes them.  So a plaintext value is
never taken for a sealed one, and older logs load as they are (but for a refused frame
an older version recorded with such an ``event`` or ``ref``: it reads ``MASK``).

``Opener.open`` gives a JSON value back with every sealed value opened, or
replaced by ``MASK`` when one of its keys is gone.  A key not held is read from the
store on the calling thread; the event loop's callers read ahead first
(``Opener.read_ahead``: the hub, for messages from other nodes).  Sealing happens once, when a
record is built; opening where data leaves the process (frames, REST answers,
exports, mirrored read models).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.recent import Recent
from eventlog.key_cache import MESSAGE_SUBJECT
from eventlog.key_port import DataKey

SEALED = "\x1e"
MASK = "[erased]"
_TEXT = "t"
_JSON = "j"
_NONCE = 12
_CIPHERS_CACHED = 4096
_RECENT_KEPT = 4096
_RECENT_MAX_CHARS = 2048  # larger values are opened by decrypting: 4,096 of them could hold hundreds of MiB
JSON = Any


class Found(Protocol):
    def get(self, key_id: str, /) -> DataKey | None: ...


class KeyFinder(Protocol):
    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]: ...

    def held(self, key_id: str) -> DataKey | None:
        """The key if this process holds it now, None if it is known destroyed; raises
        ``LookupError`` when only ``find`` can tell (a read of the store)."""
        ...

    def unheld(self, key_ids: Iterable[str]) -> list[str]:
        """Those of ``key_ids`` that ``held`` cannot tell about."""
        ...

    async def fetch(self, key_ids: Iterable[str]) -> None:
        """Hold the keys of ``key_ids``, read off the event loop (``StoreUnavailable`` past a timeout)."""
        ...


class _HeldKeys:
    """``found`` for ``_opened`` from what the finder holds already: opening costs no lookup
    of its own unless a key is not held (then ``Opener.open`` asks ``find`` for them all)."""

    __slots__ = ("_held",)

    def __init__(self, keys: KeyFinder) -> None:
        self._held = keys.held

    def get(self, key_id: str) -> DataKey | None:
        return self._held(key_id)


class _HeldOrUnread:
    """``found`` for ``_opened`` from what the finder holds, reading nothing: a key not held
    is as a destroyed one (its values masked)."""

    __slots__ = ("_held",)

    def __init__(self, keys: KeyFinder) -> None:
        self._held = keys.held

    def get(self, key_id: str) -> DataKey | None:
        try:
            return self._held(key_id)
        except LookupError:
            return None


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED)


def key_ids(sealed: str) -> tuple[str, ...]:
    """The ids of the keys a sealed value needs."""
    return tuple(sealed[2:].rpartition("|")[0].split("|"))


class _Ciphers:
    """AES-GCM objects per key combination (its ids joined by ``|``), the most recent few kept.

    Only ever asked for with keys just taken from the key store (or its cache), so a
    destroyed key's cipher is never used again: ``_open_one`` checks its keys first."""

    def __init__(self) -> None:
        self._held: Recent[str, AESGCM] = Recent(_CIPHERS_CACHED)

    def get(self, ids: str, keys: Sequence[DataKey]) -> AESGCM:
        if len(keys) > 1 and keys[-1].subject == MESSAGE_SUBJECT:
            # one message's: used about once, and thousands of them kept alive cost more (their
            # memory churned) than making each anew (~0.5 µs); not looked for either
            return _cipher_of(keys)
        cipher = self._held.get(ids)
        if cipher is None:
            cipher = _cipher_of(keys)
            self._held.put(ids, cipher)
        return cipher


def _cipher_of(keys: Sequence[DataKey]) -> AESGCM:
    """One key's material as it is; several keys' hashed together into one."""
    if len(keys) == 1:
        return AESGCM(keys[0].material)
    return AESGCM(hashlib.sha256(b"".join([k.material for k in keys])).digest())


_ciphers = _Ciphers()


class _Nonces:
    """96-bit AES-GCM nonces, never twice under one key: 8 random bytes drawn per process (again
    every 2**32 nonces) and a 4-byte counter.  Cheaper than a system call per value; two
    processes sealing under one person's key collide only if their 64-bit draws do."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8)
        self._next = 0

    def take(self) -> bytes:
        n = self._next
        if n >= 1 << 32:
            self._prefix, n = os.urandom(8), 0
        self._next = n + 1
        return self._prefix + n.to_bytes(4, "big")


_nonces = _Nonces()


def _joined(keys: Sequence[DataKey]) -> str:
    if len(keys) == 1:
        return keys[0].key_id
    if len(keys) == 2:
        return f"{keys[0].key_id}|{keys[1].key_id}"
    return "|".join([k.key_id for k in keys])


class _Recent:
    """Values this process sealed lately, by their sealed form: a record's frame is encoded
    right after the record was sealed, so opening it needs no decryption (its keys are still
    checked first: a destroyed key masks it all the same)."""

    def __init__(self) -> None:
        self._held: Recent[str, tuple[Sequence[str], JSON]] = Recent(_RECENT_KEPT)

    def keep(self, sealed: str, ids: Sequence[str], value: JSON) -> None:
        self._held.put(sealed, (ids, value))

    def get(self, sealed: str) -> tuple[Sequence[str], JSON] | None:
        """The ids of its keys and its value, for a value sealed here lately."""
        return self._held.get(sealed)


_recent = _Recent()


def seal(value: JSON, keys: Sequence[DataKey]) -> str:
    """``value`` (a string, or any JSON value) sealed under every key of ``keys``."""
    if isinstance(value, str):
        kind, plain = _TEXT, value.encode("utf-8")
    else:
        kind, plain = _JSON, orjson.dumps(value)
    ids = _joined(keys)
    nonce = _nonces.take()
    encrypted = _ciphers.get(ids, keys).encrypt(nonce, plain, None)
    sealed = f"{SEALED}{kind}{ids}|{base64.b64encode(nonce + encrypted).decode('ascii')}"
    if kind == _TEXT and len(plain) <= _RECENT_MAX_CHARS:
        _recent.keep(sealed, tuple([k.key_id for k in keys]), value)  # a tuple of strings: the collector drops it
    return sealed


def _open_one(sealed: str, found: Found) -> JSON:
    recent = _recent.get(sealed)
    if recent is not None:  # sealed here lately: no parse and no decryption, its keys checked all the same
        for key_id in recent[0]:
            if found.get(key_id) is None:
                return MASK
        return recent[1]
    ids, _, blob64 = sealed[2:].rpartition("|")
    keys = []
    for key_id in ids.split("|"):
        key = found.get(key_id)
        if key is None:  # destroyed (or never made): masked
            return MASK
        keys.append(key)
    try:
        blob = base64.b64decode(blob64)
        plain = _ciphers.get(ids, keys).decrypt(blob[:_NONCE], blob[_NONCE:], None)
    except Exception:  # a value that does not open is masked, never shown as it is
        return MASK
    return plain.decode("utf-8") if sealed[1] == _TEXT else orjson.loads(plain)


def _collect(value: JSON, into: set[str]) -> bool:
    """Gather the key ids of the sealed values in ``value``; whether it holds any."""
    held = False
    items = value.values() if isinstance(value, dict) else value
    for item in items:
        if isinstance(item, str):
            if item.startswith(SEALED):
                into.update(key_ids(item))
                held = True
        elif isinstance(item, dict | list | tuple):
            held = _collect(item, into) or held
    return held


def _opened(value: JSON, found: Found) -> JSON:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, str):
                if item.startswith(SEALED):
                    item = _open_one(item, found)
            elif isinstance(item, dict | list | tuple):
                item = _opened(item, found)
            out[key] = item
        return out
    opened = []
    for item in value:
        if isinstance(item, str):
            if item.startswith(SEALED):
                item = _open_one(item, found)
        elif isinstance(item, dict | list | tuple):
            item = _opened(item, found)
        opened.append(item)
    return opened


class Opener:
    """Opens sealed values with the keys a ``KeyFinder`` (the cached key store) still has."""

    def __init__(self, keys: KeyFinder) -> None:
        self._keys = keys
        self._held_keys = _HeldKeys(keys)

    def open(self, value: JSON) -> JSON:
        """``value`` with its sealed values opened or masked."""
        if isinstance(value, str):
            return _open_one(value, self._keys.find(key_ids(value))) if value.startswith(SEALED) else value
        if not isinstance(value, dict | list | tuple):
            return value
        try:  # most often every key is held: one pass
            return _opened(value, self._held_keys)
        except LookupError:
            pass
        wanted: set[str] = set()
        if not _collect(value, wanted):
            return value
        return _opened(value, self._keys.find(wanted))

    def open_held(self, value: JSON) -> JSON:
        """``value`` opened with the keys held here, reading nothing: a sealed value whose keys
        are not held reads ``MASK``, as an erased one does (for what cannot wait for its keys)."""
        found = _HeldOrUnread(self._keys)
        if isinstance(value, str):
            return _open_one(value, found) if value.startswith(SEALED) else value
        if not isinstance(value, dict | list | tuple):
            return value
        return _opened(value, found)

    def unheld(self, value: JSON) -> list[str]:
        """The ids of the keys ``value``'s sealed values need that are not held here (opening
        it now would read the store on the calling thread)."""
        wanted: set[str] = set()
        if isinstance(value, str):
            if value.startswith(SEALED):
                wanted.update(key_ids(value))
        elif not isinstance(value, dict | list | tuple) or not _collect(value, wanted):
            return []
        return self._keys.unheld(wanted)

    async def read_ahead(self, values: Iterable[JSON]) -> None:
        """Read ahead, off the event loop and in one read, every key ``values`` need that is not held."""
        await self._keys.fetch({key_id for value in values for key_id in self.unheld(value)})

    def dumps(self, value: JSON) -> bytes:
        """``orjson.dumps(self.open(value))``; encodes once when nothing in it is sealed."""
        encoded = orjson.dumps(value)
        # A sealed value starts with U+001E, which JSON writes escaped: no backslash, none sealed.
        # A one-byte search runs at memchr's speed; the six-byte one ~100x slower (20 us for the
        # 12 KB member list every trip_room_joined carries), so it starts at the first backslash.
        escaped = encoded.find(b"\\")
        if escaped < 0 or encoded.find(b"\\u001e", escaped) < 0:
            return encoded
        return orjson.dumps(self.open(value))


class Closed:
    """An ``Opener`` stand-in without keys: every sealed value is masked (analysts without keys)."""

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        return {}

    def held(self, key_id: str) -> DataKey | None:
        return None

    def unheld(self, key_ids: Iterable[str]) -> list[str]:
        return []

    async def fetch(self, key_ids: Iterable[str]) -> None:
        return None
