"""Presence on Redis: room rosters and the connection directory of every node.

Each process is an *instance* (``<node id>.<random>``) with a key
``<prefix>:node:<instance>`` that lives ``ttl`` seconds and is refreshed by a
heartbeat every ``interval`` seconds.  An instance whose key is gone is dead.

**Rosters** (``RedisRosters``, the ``service.presence.RoomRosters`` port): one
hash per room, ``<prefix>:room:<tripId>``, field = session id, value = the
member (user, name, hidden, status, since, instance).  Every script that touches
a room first removes the members of dead instances, atomically, and returns the
users that left the room that way (no live visible session of theirs remains);
the node that removed them announces ``user_left`` (``MemberGone`` in ``news``), so each death
is announced once.  A dead instance's members get the same grace as a dropped
connection (``dead_grace``, the ``--presence-grace``): the first script to find
the instance dead marks them, and they are removed by the first sweep after the
grace, unless they resumed on another node meanwhile.  Every heartbeat also
sweeps the rooms this node has members in, so a dead node's users are shown as
gone within ``ttl + interval + dead_grace + interval`` seconds (20 s with the
defaults) even when nobody joins, leaves or talks.

This node's own members are also kept in memory: that copy is the truth for
this instance.  When Redis fails, joins, leaves and status changes still
succeed locally (a log line; the member lists fall back to the last ones read),
and the next heartbeat that reaches Redis rewrites this instance's members.  The
same repair runs when the heartbeat finds its own key gone (Redis lost its data,
or this process stalled longer than the TTL and others swept it): users that
become visible again are announced (``MemberBack`` in ``news``), so rooms that were told
``user_left`` see them come back.

**Directory** (``RedisDirectory``, the ``service.directory.ConnectionDirectory``
port): one hash per instance, ``<prefix>:conns:<instance>``, field = session
id, value = the contract's connection object.  Written when connections come,
go, enter or leave rooms (the hub says so), rewritten where changed by every
heartbeat (``lastActivity``), and expiring with the instance.

The scripts read node keys they are not given in ``KEYS``.  On one Redis (or
one behind Sentinel) that is any key.  On a Redis Cluster (``redis+cluster://``)
a script may only touch keys of its own slot, so the rooms are spread over
``shards`` hash tags (by trip) and each instance's key is written under every
tag: a room's script finds the instance keys it reads in its own slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Collection
from typing import Any

import orjson
from redis.commands.core import AsyncScript

from domain.room import MemberBack, MemberGone, RoomMember, RosterNews, capped, visible_members
from eventlog.ports import StoreUnavailable
from eventlog.redis_bus import stop_task
from eventlog.redis_cluster import REDIS_FAILURES, RedisClient, is_cluster, open_client, shard_of, shard_tags

log = logging.getLogger("travelsense.presence")

DEFAULT_PREFIX = "travelsense"
HEARTBEAT_SECONDS = 2.0
TTL_SECONDS = 6.0
SEEN_SECONDS = 24 * 3600  # how long an instance's last heartbeat time is kept (session resume asks it)
CLUSTER_SHARDS = 6  # room hash tags on a Redis Cluster (two per master of a three-master cluster)


LocalSnapshot = Callable[[], list[dict[str, Any]]]

# Shared by every script: ARGV[1] is the node-key prefix. ``sweep`` removes the
# members of dead instances and returns the users left with no live visible
# session; ``visible(user)`` says whether a user has one.  With a grace
# (``__DEAD_GRACE_MS__``, put in when the scripts are registered) a dead
# instance's member is first marked (``d``: when its death was noticed, Redis's
# clock) and removed by the first sweep after the grace: a resume elsewhere
# meanwhile rewrites the member as the new instance's, and nobody is told it left.
_LUA_COMMON = """
local node_prefix = ARGV[1]
local alive_cache = {}
local function alive(instance)
  local known = alive_cache[instance]
  if known == nil then
    known = redis.call('EXISTS', node_prefix .. instance) == 1
    alive_cache[instance] = known
  end
  return known
end
local function members()
  local out = {}
  local flat = redis.call('HGETALL', KEYS[1])
  for i = 1, #flat, 2 do out[flat[i]] = flat[i + 1] end
  return out
end
local function visible_users(all)
  local users = {}
  for _, raw in pairs(all) do
    local m = cjson.decode(raw)
    if not m.h then users[m.u] = true end
  end
  return users
end
local dead_grace_ms = __DEAD_GRACE_MS__
local now_ms = nil
local function clock()
  if now_ms == nil then
    local t = redis.call('TIME')
    now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now_ms
end
local function sweep()
  local all = members()
  local removed = {}
  for session, raw in pairs(all) do
    local m = cjson.decode(raw)
    if not alive(m.i) then
      if dead_grace_ms > 0 and m.d == nil then
        -- its node is found dead now: the member stays for the grace, awaiting a resume elsewhere
        m.d = clock()
        raw = cjson.encode(m)
        redis.call('HSET', KEYS[1], session, raw)
        all[session] = raw
      elseif dead_grace_ms <= 0 or clock() - m.d >= dead_grace_ms then
        redis.call('HDEL', KEYS[1], session)
        all[session] = nil
        if not m.h then removed[m.u] = true end
      end
    end
  end
  local still = visible_users(all)
  local gone = {}
  for user, _ in pairs(removed) do
    if not still[user] then table.insert(gone, user) end
  end
  return all, gone
end
"""

# KEYS[1] room; ARGV: prefix, session, member json, user, hidden ("1"/"0"), ttl ms
_JOIN = (
    _LUA_COMMON
    + """
local all, gone = sweep()
if all[ARGV[2]] then
  -- the session resumed here from another node (in its grace there): taken over, its user still shown;
  -- unless a later resume (a higher claim, ``g``) holds it already: the room keeps that one
  if (cjson.decode(all[ARGV[2]]).g or 0) > (cjson.decode(ARGV[3]).g or 0) then return {0, gone} end
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  return {0, gone}
end
local was = visible_users(all)[ARGV[4]]
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if ARGV[5] == '1' or was then return {0, gone} end
return {1, gone}
"""
)

# KEYS[1] room; ARGV: prefix, session, instance: a leave (instance ''), or a dropped member's expiry,
# which removes the session only while it is that instance's (a session another node took over stays)
_LEAVE = (
    _LUA_COMMON
    + """
local all, gone = sweep()
local raw = all[ARGV[2]]
if not raw or (ARGV[3] ~= '' and cjson.decode(raw).i ~= ARGV[3]) then return {'', 0, gone} end
redis.call('HDEL', KEYS[1], ARGV[2])
all[ARGV[2]] = nil
local m = cjson.decode(raw)
local left = 0
if not m.h and not visible_users(all)[m.u] then left = 1 end
return {raw, left, gone}
"""
)

# KEYS[1] room; ARGV: prefix, session, member json: only while the entry is the writer's instance's
# (a session another node took over is that node's to change)
_STATUS = (
    _LUA_COMMON
    + """
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if raw and cjson.decode(raw).i == cjson.decode(ARGV[3]).i then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
return 1
"""
)

# KEYS[1] room; ARGV: prefix
_MEMBERS = (
    _LUA_COMMON
    + """
local all, gone = sweep()
local flat = {}
for session, raw in pairs(all) do
  table.insert(flat, session)
  table.insert(flat, raw)
end
return {flat, gone}
"""
)

# KEYS[1] room; ARGV: prefix, instance, ttl ms, then session, member json pairs.
# Makes this instance's members exactly the ones given; returns the users that
# became visible and those that stopped being visible (dead ones swept included).
_REPLACE = (
    _LUA_COMMON
    + """
local all, gone = sweep()
local before = visible_users(all)
local wanted = {}
for i = 4, #ARGV, 2 do wanted[ARGV[i]] = ARGV[i + 1] end
for session, raw in pairs(all) do
  if cjson.decode(raw).i == ARGV[2] and not wanted[session] then
    redis.call('HDEL', KEYS[1], session)
    all[session] = nil
  end
end
for session, raw in pairs(wanted) do
  redis.call('HSET', KEYS[1], session, raw)
  all[session] = raw
end
if next(wanted) ~= nil then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
local after = visible_users(all)
local back, left = {}, {}
for user, _ in pairs(after) do if not before[user] then table.insert(back, user) end end
for user, _ in pairs(before) do if not after[user] then table.insert(left, user) end end
for _, user in ipairs(gone) do if not after[user] then table.insert(left, user) end end
return {back, left}
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _client(url: str) -> RedisClient:
    # one retry: a pooled connection that went stale when Redis restarted
    return open_client(url, socket_timeout=5.0, retries=1)


class RedisPresence:
    """This process in Redis: its heartbeat, its room rosters, its directory entries."""

    def __init__(
        self,
        url: str,
        *,
        node_id: str,
        prefix: str = DEFAULT_PREFIX,
        interval: float = HEARTBEAT_SECONDS,
        ttl: float = TTL_SECONDS,
        news: asyncio.Queue[RosterNews] | None = None,
        shards: int | None = None,
        dead_grace: float = 0.0,
    ) -> None:
        """``news``: where the rosters tell of members gone with their node, or back (None: untold);
        ``dead_grace``: seconds a dead node's members stay, from its death being noticed, awaiting
        a resume on another node (0: they go at once)."""
        if ttl <= interval:
            raise ValueError("the presence TTL must be longer than the heartbeat interval")
        self.node_id = node_id
        self.instance = f"{node_id}.{secrets.token_hex(4)}"
        self.prefix = prefix
        self.interval = interval
        self.ttl = ttl
        self.dead_grace = dead_grace
        self.client = _client(url)
        self.news = news
        self.cluster = is_cluster(url)
        if self.cluster:
            tags = shard_tags(shards or CLUSTER_SHARDS)
            self._node_prefixes = [f"{prefix}:{{{tag}}}:node:" for tag in tags]
            self._room_prefixes = [f"{prefix}:{{{tag}}}:room:" for tag in tags]
        else:
            self._node_prefixes = [f"{prefix}:node:"]
            self._room_prefixes = [f"{prefix}:room:"]
        self.node_prefix = self._node_prefixes[0]  # where this instance's own key (the one read back) lives
        self.rosters = RedisRosters(self)
        self._directory: RedisDirectory | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_beat: float | None = None  # monotonic time of the last heartbeat that reached Redis
        self._failing = False
        self._closing = False
        self.beats = 0
        self.beat_failures = 0
        self.repairs = 0

    @property
    def node_key(self) -> str:
        return self.node_prefix + self.instance

    def room_key(self, trip_id: str) -> str:
        return self._room_prefixes[shard_of(trip_id, len(self._room_prefixes))] + trip_id

    def room_node_prefix(self, trip_id: str) -> str:
        """Where the scripts of the trip's room find instance keys (in the room's own slot on a cluster)."""
        return self._node_prefixes[shard_of(trip_id, len(self._node_prefixes))]

    @property
    def instances_key(self) -> str:
        return f"{self.prefix}:instances"

    @property
    def ttl_ms(self) -> int:
        return int(self.ttl * 1000)

    def metrics(self) -> dict[str, float]:
        """Counters for ``/metrics``."""
        return {
            "presence_heartbeats": float(self.beats),
            "presence_heartbeat_failures": float(self.beat_failures),
            "presence_repairs": float(self.repairs),
            "presence_users_gone": float(self.rosters.gone_announced),
            "presence_redis_failures": float(self.rosters.failures),
        }

    def directory(self, local: LocalSnapshot, changed: asyncio.Event) -> RedisDirectory:
        """The directory, publishing what ``local()`` lists (this node's connections) whenever
        ``changed`` is set (by the hub: a connection came, went, entered or left a room)."""
        if self._directory is None:
            self._directory = RedisDirectory(self, local, changed)
        return self._directory

    async def start(self) -> None:
        """First heartbeat (so this instance counts as alive before anyone joins), then one every interval."""
        try:
            await asyncio.wait_for(self.beat(), 5.0)
        except REDIS_FAILURES as exc:
            log.warning("presence: Redis does not answer at start (%s); retrying every %.1fs", exc, self.interval)
        self._task = asyncio.create_task(self._loop(), name=f"presence-{self.instance}")
        if self._directory is not None:
            self._directory.start()

    async def close(self) -> None:
        """Stop the heartbeat and take this instance out of Redis (best effort)."""
        self._closing = True
        if self._task is not None:
            await stop_task(self._task)
        if self._directory is not None:
            await self._directory.stop()
        try:
            await self.rosters.withdraw()
            async with self.client.pipeline(transaction=False) as pipe:
                for key in (
                    *(node + self.instance for node in self._node_prefixes),
                    f"{self.prefix}:conns:{self.instance}",
                ):
                    pipe.delete(key)  # one key a command: a cluster keeps them in different slots
                pipe.srem(self.instances_key, self.instance)
                await pipe.execute()
        except REDIS_FAILURES as exc:
            log.warning(
                "presence: could not remove this node from Redis (%s); its entries expire in %.0fs", exc, self.ttl
            )
        await self.client.aclose()

    async def _loop(self) -> None:
        attempted = self._last_beat if self._last_beat is not None else time.monotonic()
        while not self._closing:
            # Due one interval after the last attempt, not one interval after this task gets the
            # loop back: a start that holds the loop for seconds after the first beat (parsing the
            # API documents on a busy machine) must not let this node's key expire, or the other
            # nodes sweep its first members and announce them gone, and this one announces them back.
            await asyncio.sleep(max(0.0, attempted + self.interval - time.monotonic()))
            attempted = time.monotonic()
            try:
                await asyncio.wait_for(self.beat(), max(self.interval, 1.0) * 2)
            except REDIS_FAILURES as exc:
                self.beat_failures += 1
                if not self._failing:
                    self._failing = True
                    log.warning(
                        "presence: heartbeat failed (%s); this node's users stay shown until %.0fs"
                        " without a heartbeat, retrying",
                        exc,
                        self.ttl,
                    )
            except Exception:
                self.beat_failures += 1
                log.exception("presence: heartbeat failed")

    async def alive(self, instances: Collection[str]) -> set[str]:
        """Which of ``instances`` have their key (``service.sessions.NodeLiveness``); Redis
        unreachable: ``StoreUnavailable`` (nobody is taken for dead on no evidence)."""
        names = sorted(instances)
        if not names:
            return set()
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.exists(self.node_prefix + name)  # one key a command: a cluster spreads them
                replies = await pipe.execute()
        except REDIS_FAILURES as exc:
            raise StoreUnavailable(f"presence (Redis) is unavailable: {exc}") from exc
        return {name for name, found in zip(names, replies, strict=True) if found}

    def seen_key(self, instance: str) -> str:
        return f"{self.prefix}:seen:{instance}"

    async def last_seen(self, instance: str) -> float | None:
        """When ``instance`` last beat (epoch seconds), for a day after it died (None: unknown)."""
        try:
            raw = await self.client.get(self.seen_key(instance))
        except REDIS_FAILURES as exc:
            raise StoreUnavailable(f"presence (Redis) is unavailable: {exc}") from exc
        return None if raw is None else float(_text(raw))

    async def beat(self) -> None:
        """Refresh this instance's key; repair when it was gone; sweep the rooms it has members in."""
        now = time.monotonic()
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(self.node_key, self.node_id, px=self.ttl_ms, get=True)
            for node in self._node_prefixes[1:]:
                pipe.set(node + self.instance, self.node_id, px=self.ttl_ms)
            pipe.sadd(self.instances_key, self.instance)
            pipe.set(self.seen_key(self.instance), repr(time.time()), ex=SEEN_SECONDS)
            previous = (await pipe.execute())[0]
        missing = previous is None
        # Beats missed while Redis could not be reached are no stall: nobody could sweep this
        # node's members meanwhile, so nobody was told they left, and nothing is announced back.
        unreachable = self._failing
        stalled = self._last_beat is not None and now - self._last_beat > self.ttl and not unreachable
        first = self._last_beat is None
        self._last_beat = time.monotonic()
        if self._failing:
            self._failing = False
            self.rosters.warned = False
            log.warning("presence: heartbeat reaches Redis again")
        self.beats += 1
        if missing and not first:
            self.repairs += 1
            log.warning(
                "presence: this node's key was gone (%s): rewriting its members and connections",
                "it missed heartbeats" if stalled else "Redis lost its data",
            )
        await self.rosters.refresh(repair=missing and not first, announce=stalled)
        if self._directory is not None:
            await self._directory.sync(full=missing)


class RedisRosters:
    """``RoomRosters`` on Redis hashes; see the module docstring."""

    def __init__(self, presence: RedisPresence) -> None:
        self._p = presence
        client = presence.client
        grace_ms = str(int(presence.dead_grace * 1000))

        def register(script: str) -> AsyncScript:
            return client.register_script(script.replace("__DEAD_GRACE_MS__", grace_ms))

        self._join = register(_JOIN)
        self._leave = register(_LEAVE)
        self._status = register(_STATUS)
        self._members = register(_MEMBERS)
        self._replace = register(_REPLACE)
        self._local: dict[str, dict[str, RoomMember]] = {}  # this instance's members, by room and session
        self._last_read: dict[str, list[RoomMember]] = {}  # the last member list read, for when Redis fails
        self._dirty: set[str] = set()  # rooms whose Redis copy may differ from ours
        self.gone_announced = 0  # users announced gone because their node died
        self.warned = False  # an operation's failure was logged in this outage
        self.failures = 0  # roster operations that fell back to this node's view

    def _key(self, trip_id: str) -> str:
        return self._p.room_key(trip_id)

    async def _queue(self, script: AsyncScript, pipe: Any, trip_id: str, args: list[Any]) -> None:
        """Queue a room script in a pipeline (on a cluster as EVAL: a cluster pipeline loads no scripts)."""
        if self._p.cluster:
            pipe.eval(script.script, 1, self._key(trip_id), *args)
        else:
            await script(keys=[self._key(trip_id)], args=args, client=pipe)

    def _encode(self, member: RoomMember) -> bytes:
        body: dict[str, Any] = {
            "u": member.user_id,
            "h": member.hidden,
            "s": member.status,
            "t": member.since,
            "i": self._p.instance,
        }
        if member.name is not None:
            body["n"] = member.name
        if member.last_seen is not None:
            body["ls"] = member.last_seen
        if member.claim:
            body["g"] = member.claim
        return orjson.dumps(body)

    @staticmethod
    def _decode(session_id: str, raw: Any) -> RoomMember:
        body = orjson.loads(raw)
        return RoomMember(
            session_id,
            body["u"],
            body.get("n"),
            bool(body["h"]),
            body["s"],
            float(body["t"]),
            body.get("ls"),
            int(body.get("g", 0)),
        )

    async def _announce_gone(self, trip_id: str, users: Any) -> None:
        for user in users or ():
            self.gone_announced += 1
            if self._p.news is not None:
                self._p.news.put_nowait(MemberGone(trip_id, _text(user)))

    def _failed(self, trip_id: str, what: str, exc: BaseException) -> None:
        self.failures += 1
        self._dirty.add(trip_id)
        if not self.warned:  # one warning per outage (the heartbeat's recovery re-arms it), not one per operation
            self.warned = True
            log.warning("presence: %s in room %s kept on this node only, Redis failed (%s)", what, trip_id, exc)

    def _locally_visible(self, trip_id: str, user_id: str) -> bool:
        return any(m.user_id == user_id and not m.hidden for m in self._local.get(trip_id, {}).values())

    # the port ---------------------------------------------------------------------

    async def join(self, trip_id: str, member: RoomMember) -> bool:
        # the wall clock, not the caller's monotonic one: statuses from several nodes are compared
        member = dataclasses.replace(member, since=time.time())
        room = self._local.setdefault(trip_id, {})
        here = room.get(member.session_id)
        if here is not None and here.claim >= member.claim:
            return False  # joining twice changes nothing; a resume's higher claim is written (``_JOIN``)
        visible_here = self._locally_visible(trip_id, member.user_id)
        room[member.session_id] = member
        try:
            newly, gone = await self._join(
                keys=[self._key(trip_id)],
                args=[
                    self._p.room_node_prefix(trip_id),
                    member.session_id,
                    self._encode(member),
                    member.user_id,
                    "1" if member.hidden else "0",
                    self._p.ttl_ms,
                ],
            )
        except REDIS_FAILURES as exc:
            self._failed(trip_id, "a join", exc)
            return not member.hidden and not visible_here
        await self._announce_gone(trip_id, gone)
        return bool(newly)

    async def leave(self, trip_id: str, session_id: str) -> tuple[RoomMember | None, bool]:
        return await self._remove(trip_id, session_id, "", "a leave")

    async def set_status(self, trip_id: str, session_id: str, status: str, at: float) -> None:
        member = self._local.get(trip_id, {}).get(session_id)
        if member is not None:
            await self._rewrite(
                trip_id, dataclasses.replace(member, status=status, since=time.time()), "a status change"
            )

    async def seen(self, trip_id: str, session_id: str, at: str) -> None:
        member = self._local.get(trip_id, {}).get(session_id)
        if member is not None:
            await self._rewrite(trip_id, dataclasses.replace(member, last_seen=at), "a dropped connection")

    async def expire(self, trip_id: str, session_id: str) -> tuple[RoomMember | None, bool]:
        return await self._remove(trip_id, session_id, self._p.instance, "a dropped member's expiry")

    async def _rewrite(self, trip_id: str, member: RoomMember, what: str) -> None:
        """A member of this node's changed: here at once, on Redis while the entry is still ours."""
        self._local[trip_id][member.session_id] = member
        try:
            await self._status(
                keys=[self._key(trip_id)],
                args=[self._p.room_node_prefix(trip_id), member.session_id, self._encode(member)],
            )
        except REDIS_FAILURES as exc:
            self._failed(trip_id, what, exc)

    async def _remove(self, trip_id: str, session_id: str, instance: str, what: str) -> tuple[RoomMember | None, bool]:
        """The member out of the room (``instance``: only while the session is that node's; '' any),
        and whether their user is no longer shown in it."""
        room = self._local.get(trip_id, {})
        mine = room.pop(session_id, None)
        if not room:
            self._local.pop(trip_id, None)
            self._last_read.pop(trip_id, None)
        try:
            raw, left, gone = await self._leave(
                keys=[self._key(trip_id)], args=[self._p.room_node_prefix(trip_id), session_id, instance]
            )
        except REDIS_FAILURES as exc:
            self._failed(trip_id, what, exc)
            if mine is None:
                return None, False
            return mine, not mine.hidden and not self._locally_visible(trip_id, mine.user_id)
        await self._announce_gone(trip_id, gone)
        member = self._decode(session_id, raw) if raw else mine
        return member, bool(left) and member is not None

    async def members(self, trip_id: str) -> list[RoomMember]:
        """The room's members on live nodes (on Redis failure: the last list read, with ours as they are)."""
        try:
            flat, gone = await self._members(keys=[self._key(trip_id)], args=[self._p.room_node_prefix(trip_id)])
        except REDIS_FAILURES as exc:
            self.failures += 1
            if not self.warned:  # one warning per outage, not one per chat message
                self.warned = True
                log.warning("presence: member lists from memory, Redis failed (%s), room %s first", exc, trip_id)
            own = self._local.get(trip_id, {})
            others = [m for m in self._last_read.get(trip_id, []) if m.session_id not in own]
            return [*others, *own.values()]
        await self._announce_gone(trip_id, gone)
        members = [self._decode(_text(flat[i]), flat[i + 1]) for i in range(0, len(flat), 2)]
        if trip_id in self._local:
            self._last_read[trip_id] = members
        return members

    async def users(self, trip_id: str) -> frozenset[str]:
        return frozenset([m.user_id for m in await self.members(trip_id)])

    async def listed(self, trip_id: str, limit: int, joiner: str) -> tuple[list[dict[str, Any]], int]:
        """The member list a joiner is sent (one read of the room: its cost grows with the room)."""
        entries = visible_members(await self.members(trip_id))
        return capped(entries, limit, joiner), len(entries)

    # heartbeat work -----------------------------------------------------------------

    async def refresh(self, *, repair: bool, announce: bool) -> None:
        """Keep this node's rooms alive and swept; rewrite them after a failure or a loss."""
        rooms = list(self._local)
        # rooms this node left while Redis failed: its members there must go
        abandoned = sorted(self._dirty - set(rooms))
        if not rooms and not abandoned:
            return
        rewrite = set(rooms) if repair else self._dirty & set(rooms)
        pending = rewrite | set(abandoned)
        self._dirty -= pending
        results: list[Any] = []
        try:
            async with self._p.client.pipeline(transaction=False) as pipe:
                for trip_id in rooms:
                    args: list[Any] = [self._p.room_node_prefix(trip_id)]
                    if trip_id in rewrite:
                        args += [self._p.instance, self._p.ttl_ms]
                        for session_id, member in self._local.get(trip_id, {}).items():
                            args += [session_id, self._encode(member)]
                        await self._queue(self._replace, pipe, trip_id, args)
                    else:
                        pipe.pexpire(self._key(trip_id), self._p.ttl_ms)
                        await self._queue(self._members, pipe, trip_id, args)
                for trip_id in abandoned:
                    args = [self._p.room_node_prefix(trip_id), self._p.instance, self._p.ttl_ms]
                    await self._queue(self._replace, pipe, trip_id, args)
                results = await pipe.execute()
        except REDIS_FAILURES:
            self._dirty |= pending
            raise
        # a pipeline queues pexpire + members for a plain room and one replace for a
        # rewritten one; the leaves in abandoned rooms were announced when they happened
        index = 0
        for trip_id in rooms:
            if trip_id in rewrite:
                back, left = results[index]
                index += 1
                await self._announce_gone(trip_id, left)
                if announce:
                    await self._announce_back(trip_id, back)
            else:
                _, gone = results[index + 1]
                index += 2
                await self._announce_gone(trip_id, gone)

    async def _announce_back(self, trip_id: str, users: Any) -> None:
        if self._p.news is None:
            return
        for user in users or ():
            user_id = _text(user)
            mine = [m for m in self._local.get(trip_id, {}).values() if m.user_id == user_id and not m.hidden]
            if mine:
                self._p.news.put_nowait(MemberBack(trip_id, mine[0]))

    async def withdraw(self) -> None:
        """Take this instance's remaining members out of Redis (shutting down)."""
        if not self._local:
            return
        async with self._p.client.pipeline(transaction=False) as pipe:
            for trip_id in self._local:
                args = [self._p.room_node_prefix(trip_id), self._p.instance, self._p.ttl_ms]
                await self._queue(self._replace, pipe, trip_id, args)
            await pipe.execute()
        self._local.clear()


class RedisDirectory:
    """``ConnectionDirectory`` on Redis; see the module docstring."""

    def __init__(self, presence: RedisPresence, local: LocalSnapshot, changed: asyncio.Event) -> None:
        self._p = presence
        self._local = local
        self._written: dict[str, bytes] = {}
        self._wake = changed
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def _key(self) -> str:
        return f"{self._p.prefix}:conns:{self._p.instance}"

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_loop(), name=f"directory-{self._p.instance}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            await stop_task(self._task)

    async def _write_loop(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.sync()
            except REDIS_FAILURES as exc:
                log.warning("presence: could not write this node's connections (%s); the heartbeat retries", exc)

    async def sync(self, *, full: bool = False) -> None:
        """Write the entries that changed since the last write (all of them when ``full``)."""
        async with self._lock:
            if full:
                self._written = {}
            entries = {e["sessionId"]: orjson.dumps(e) for e in self._local()}
            changed = {sid: body for sid, body in entries.items() if self._written.get(sid) != body}
            removed = [sid for sid in self._written if sid not in entries]
            async with self._p.client.pipeline(transaction=False) as pipe:
                if changed:
                    pipe.hset(self._key, mapping=changed)  # type: ignore[arg-type]
                if removed:
                    pipe.hdel(self._key, *removed)
                pipe.pexpire(self._key, self._p.ttl_ms)
                await pipe.execute()
            self._written = entries

    # the port ---------------------------------------------------------------------

    async def list(self) -> list[dict[str, Any]]:
        """Every live instance's connections (this node's straight from its hub), oldest first."""
        p = self._p
        try:
            instances = sorted(_text(i) for i in await p.client.smembers(p.instances_key))  # type: ignore[misc]
            others = [i for i in instances if i != p.instance]
            async with p.client.pipeline(transaction=False) as pipe:
                for instance in others:
                    pipe.exists(p.node_prefix + instance)
                    pipe.hvals(f"{p.prefix}:conns:{instance}")
                replies = await pipe.execute()
        except REDIS_FAILURES as exc:
            raise StoreUnavailable(f"the connection directory (Redis) is unavailable: {exc}") from exc
        entries = list(self._local())
        dead = []
        for n, instance in enumerate(others):
            alive, values = replies[2 * n], replies[2 * n + 1]
            if not alive:
                if not values:
                    dead.append(instance)
                continue
            entries.extend(orjson.loads(value) for value in values)
        if dead:
            with contextlib.suppress(*REDIS_FAILURES):
                await p.client.srem(p.instances_key, *dead)  # type: ignore[misc]
        return sorted(entries, key=lambda e: (e.get("connectionTime", ""), e.get("sessionId", "")))

    async def count_user(self, user_id: str) -> int:
        return sum(1 for entry in await self.list() if entry.get("userId") == user_id)
