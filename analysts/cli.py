"""The analyst and operator commands: ``python app.py COMMAND [options]``.

    replay   rebuild every projection from the log, compare, report differences (exit 1 if any)
    trip-at  a trip's state as of a version or an instant, as JSON
    export   the log or a filtered part of it, as JSON Lines or CSV, streamed
    verify   check the log's hash chains; name the first broken link (exit 1 if any)
    migrate  bring the store's schema up to date
    rebuild-sessions  fold the session records (and saved presence choices) again from the log

Every command reads ``--store`` (default ``$STORE_URL``, else the server's
default).  Exit status: 0 when all is well, 1 when the command found something
(differences, a broken link, no such trip), 2 for bad usage or a store that
cannot be opened.  Results go to standard output; progress to standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import IO, Any

import orjson

from analysts.erase import erase_person
from analysts.export import FORMATS, ExportFilter, export
from analysts.progress import Phases, Progress
from analysts.replay import fetch_live, replay
from analysts.time_travel import log_time, trip_at
from analysts.verify import verify
from config import DEFAULT_STORE, OneLineParser, SettingsError
from domain.ids import is_object_id
from eventlog import checkpoints
from eventlog.checkpoints import Checkpoint
from eventlog.factory import (
    open_key_reader,
    open_mongo_store,
    open_reader,
    open_session_records,
    open_sqlite_reader,
    open_store,
)
from eventlog.ports import EventStore, StoreError, StoreMissing
from eventlog.sealing import Closed, Opener
from projections.sessions import rebuild_sessions

COMMANDS = ("replay", "trip-at", "export", "verify", "migrate", "rebuild-sessions")
OK, FOUND, USAGE = 0, 1, 2
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")

# what each command does, for ``--help`` (and the server's ``--help``)
SUMMARIES = {
    "replay": "rebuild every projection from the log and compare (exit 1 on a difference)",
    "trip-at": "a trip's state as of a version or an instant, as JSON",
    "export": "the log, or part of it, as JSON Lines or CSV",
    "verify": "check the log's hash chains and signed checkpoints (exit 1 on a broken link)",
    "migrate": "bring the store's schema up to date (--status: only report it)",
    "erase": "erase a person: destroy their keys, record the erasure (their data reads [erased] from then on)",
    "rebuild-sessions": "fold the session records and saved presence choices again from the log (a server may run)",
}


class CommandError(Exception):
    """A usage or store problem, reported in one line (exit 2)."""


def parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    top = OneLineParser(prog="app.py", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, parents: list[OneLineParser]) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, parents=parents, help=SUMMARIES[name], description=SUMMARIES[name], formatter_class=_Formatter
        )

    store = OneLineParser(add_help=False)
    store.add_argument(
        "--store",
        dest="store_url",
        default=env.get("STORE_URL", DEFAULT_STORE),
        help="sqlite:///PATH or mongodb://... (default: $STORE_URL or %(default)s)",
    )
    progress = OneLineParser(add_help=False)
    progress.add_argument(
        "--progress",
        choices=("auto", "bar", "lines", "off"),
        default="auto",
        help="auto: a bar on a terminal, plain lines elsewhere",
    )

    cmd = command("replay", [store, progress])
    cmd.add_argument("--live", metavar="URL", help="compare with this running node (needs an admin token)")
    cmd.add_argument("--token", default=env.get("ADMIN_TOKEN"), help="admin JWT for --live (default: $ADMIN_TOKEN)")
    cmd.add_argument("--limit", type=int, default=100, help="report at most this many differences")
    cmd.add_argument("--json", action="store_true", help="print the report as JSON")

    cmd = command("trip-at", [store])
    cmd.add_argument("trip_id", help="the trip's id (24 hexadecimal digits)")
    when = cmd.add_mutually_exclusive_group()
    when.add_argument("--version", type=int, help="the state after this version of the trip's stream")
    when.add_argument("--at", help="the state at this ISO 8601 instant")

    cmd = command("export", [store, progress])
    cmd.add_argument("--trip", dest="trip_id", help="only records of this trip")
    cmd.add_argument("--user", dest="user_id", help="only records of this user")
    cmd.add_argument("--type", dest="types", action="append", help="record type (the command); repeatable")
    cmd.add_argument("--event-type", dest="event_types", action="append", help="keep records holding such an event")
    cmd.add_argument("--since", help="ISO 8601 instant, inclusive")
    cmd.add_argument("--until", help="ISO 8601 instant, exclusive")
    cmd.add_argument("--format", choices=FORMATS, default="jsonl", help="(default: %(default)s)")
    cmd.add_argument("--output", default="-", help="a file (default: standard output)")

    cmd = command("verify", [store, progress])
    cmd.add_argument("--all", action="store_true", help="list every broken link, not only the first")
    cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    cmd.add_argument(
        "--key",
        default=env.get("CHECKPOINT_KEY") or None,
        help="the checkpoint signing key: checkpoints must verify with it (default: $CHECKPOINT_KEY)",
    )
    cmd.add_argument(
        "--checkpoints",
        metavar="FILE",
        help="checkpoints exported earlier (JSON Lines): the log must still match each of them",
    )

    cmd = command("erase", [store])
    cmd.add_argument("--user", dest="user_id", required=True, help="the person's id (24 hexadecimal digits)")
    cmd.add_argument("--by", default=env.get("USER", "operator"), help="who asks (recorded; default: $USER)")

    cmd = command("migrate", [store])
    cmd.add_argument(
        "--status", action="store_true", help="report the schema version and what is pending; change nothing"
    )

    command("rebuild-sessions", [store])
    return top


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown after every help text that does not name them already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "%(default)" in text or "default:" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


@contextlib.asynccontextmanager
async def opened(url: str) -> AsyncIterator[EventStore]:
    """The store, read-only: a missing or empty one is refused, never created or migrated."""
    where = url.split("@")[-1]
    try:
        store = open_reader(url)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    try:
        try:
            await store.open()
        except StoreError as exc:
            raise CommandError(f"cannot open the store {where}: {exc}") from None
        if await store.head_position() == 0:
            raise CommandError(f"the store {where} holds no records")
        yield store
    finally:
        await store.close()


async def _progress(args: argparse.Namespace, store: EventStore, label: str) -> Progress | None:
    if args.progress == "off":
        return None
    total = await store.head_position()
    tty = None if args.progress == "auto" else args.progress == "bar"
    return Progress(label, total, tty=tty)


@contextlib.contextmanager
def key_reader(url: str) -> Iterator[Opener]:
    """Opens personal data with the keys beside the store, read-only (nothing created or written);
    without a key store every sealed value reads [erased], and standard error says why."""
    try:
        keys = open_key_reader(url)
    except StoreMissing as exc:
        print(f"note: {exc}: personal data shows as [erased]", file=sys.stderr)
        yield Opener(Closed())
        return
    except (StoreError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    try:
        yield Opener(keys)
    finally:
        keys.close()


# the commands ----------------------------------------------------------------------------


async def run_replay(args: argparse.Namespace, out: IO[str]) -> int:
    live = None
    if args.live:
        if not args.token:
            raise CommandError("--live needs an admin token: --token or $ADMIN_TOKEN")
        try:
            live = await asyncio.to_thread(fetch_live, args.live, args.token)
        except RuntimeError as exc:
            raise CommandError(f"cannot read the live read model: {exc}") from None
    async with opened(args.store_url) as store:
        phases = (
            None if args.progress == "off" else Phases(tty=None if args.progress == "auto" else args.progress == "bar")
        )
        report = await replay(store, live=live, progress=phases, limit=args.limit)
        if phases is not None:
            phases.close()
    if args.json:
        out.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return OK if report.equal else FOUND
    s = report.summary
    out.write(
        f"replay: {report.records:,} records (up to position {report.position:,}) folded, "
        f"compared with the {report.against}\n"
    )
    out.write(
        f"rebuilt: {s['trips']:,} trips, {s['messages']:,} chat messages, {s['notifications']:,} notifications"
        f" of {s['usersNotified']:,} users, {s['users']:,} users in the log, {s['openSessions']:,} open sessions\n"
    )
    if report.equal:
        out.write("equal\n")
        return OK
    more = " (and more)" if report.truncated else ""
    out.write(
        f"{len(report.differences)} difference{'s' if len(report.differences) != 1 else ''}{more}"
        f" between the rebuild and the {report.other}:\n"
    )
    for difference in report.differences:
        out.write(f"  {difference.describe('rebuild', report.other)}\n")
    return FOUND


async def run_trip_at(args: argparse.Namespace, out: IO[str]) -> int:
    if not OBJECT_ID.match(args.trip_id):
        raise CommandError(f"{args.trip_id!r} is not a trip id (24 hexadecimal digits)")
    if args.version is not None and args.version < 1:
        raise CommandError("--version must be at least 1")
    if args.at is not None:
        try:
            log_time(args.at)
        except ValueError:
            raise CommandError(f"--at {args.at!r} is not an ISO 8601 instant") from None
    async with opened(args.store_url) as store:
        found = await trip_at(store, args.trip_id.lower(), version=args.version, at=args.at)
    if found.head == 0:
        print(f"no trip {args.trip_id} in the log", file=sys.stderr)
        return FOUND
    if args.version is not None and args.version > found.head:
        print(f"trip {args.trip_id} has {found.head} versions, not {args.version}", file=sys.stderr)
        return FOUND
    if found.trip is None:
        print(f"trip {args.trip_id} did not exist yet at {args.at}", file=sys.stderr)
        return FOUND
    with key_reader(args.store_url) as opener:  # personal data opened, or [erased]
        shown = opener.open(found.trip.to_json())
    out.write(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode() + "\n")
    return OK


async def run_export(args: argparse.Namespace, out: IO[str]) -> int:
    try:
        where = ExportFilter(
            trip_id=args.trip_id.lower() if args.trip_id else None,
            user_id=args.user_id.lower() if args.user_id else None,
            types=tuple(args.types) if args.types else None,
            event_types=tuple(args.event_types) if args.event_types else None,
            since=log_time(args.since) if args.since else None,
            until=log_time(args.until) if args.until else None,
        )
    except ValueError as exc:
        raise CommandError(f"--since/--until: not an ISO 8601 instant ({exc})") from None
    if args.output != "-" and not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
        raise CommandError(f"--output {args.output}: no such directory")
    async with opened(args.store_url) as store:
        progress = await _progress(args, store, "export")
        if progress is not None:
            progress.total = None  # a filtered read: how far it goes is not known
        with key_reader(args.store_url) as opener:  # the export shows personal data opened, or [erased]
            if args.output == "-":
                count = await export(store, where, out, args.format, progress, opener)
            else:
                try:
                    target = open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
                except OSError as exc:
                    raise CommandError(f"--output {args.output}: {exc.strerror}") from None
                with target:
                    count = await export(store, where, target, args.format, progress, opener)
        if progress is not None:
            progress.unit = f"records read, {count:,} written"
            progress.close()
    return OK


def read_checkpoints(path: str) -> list[Checkpoint]:
    """Checkpoints kept outside the store: JSON Lines of checkpoints or of exported checkpoint records."""
    try:
        with open(path, encoding="utf-8") as source:
            lines = [line for line in source if line.strip()]
    except OSError as exc:
        raise CommandError(f"--checkpoints {path}: {exc.strerror}") from None
    found = []
    for number, line in enumerate(lines, start=1):
        try:
            checkpoint = checkpoints.from_json(orjson.loads(line))
        except orjson.JSONDecodeError:
            checkpoint = None
        if checkpoint is None:
            raise CommandError(f"--checkpoints {path}: line {number} is not a checkpoint")
        found.append(checkpoint)
    if not found:
        raise CommandError(f"--checkpoints {path}: no checkpoints in it")
    return found


async def run_verify(args: argparse.Namespace, out: IO[str]) -> int:
    external = read_checkpoints(args.checkpoints) if args.checkpoints else None
    async with opened(args.store_url) as store:
        progress = await _progress(args, store, "verify")
        report = await verify(store, progress, key=args.key, external=external)
        if progress is not None:
            progress.close()
    if args.json:
        out.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return OK if report.intact else FOUND
    out.write(
        f"verify: {report.records:,} records in {report.streams:,} trip streams and "
        f"{report.writer_chains:,} writer chains"
    )
    if report.legacy:
        out.write(f"; {report.legacy:,} written before the chain (schema 1), {report.uncovered:,} of them not covered")
    out.write("\n")
    if args.key is not None or external:
        out.write(
            f"checkpoints: {report.checkpoints:,} checked; the log matches the signed ones up to position"
            f" {report.anchored_up_to:,}\n"
        )
    else:  # the chains alone are unkeyed: say what "intact" does not cover
        out.write(
            f"checkpoints: {report.checkpoints_in_log:,} in the log, not checked: without --key (or"
            " $CHECKPOINT_KEY) or --checkpoints FILE, a history rewritten and re-chained by someone who"
            " can write the store verifies too\n"
        )
    snapshots = report.snapshots
    out.write(
        f"snapshots: {snapshots.checked:,} checked against the log, {snapshots.stale:,} stale (made by other code)\n"
    )
    for difference in snapshots.differing:
        out.write(f"SNAPSHOT DIFFERS: {difference.describe()}\n")
    if report.intact:
        out.write("intact\n")
        return OK
    if not report.broken:
        return FOUND
    first, *rest = report.broken
    out.write(f"BROKEN: first broken link at {first.describe()}\n")
    if args.all:
        for item in rest:
            out.write(f"  also at {item.describe()}\n")
    elif rest:
        out.write(f"  and {len(rest)}{'+' if report.truncated else ''} more (--all lists them)\n")
    return FOUND


async def run_migrate(args: argparse.Namespace, out: IO[str]) -> int:
    url = args.store_url
    where = url.split("@")[-1]
    if url.startswith(("mongodb://", "mongodb+srv://")):
        store = open_mongo_store(url)
        try:
            await store.ping()
            if args.status:
                done, pending = await store.migration_status()
                out.write(f"applied: {', '.join(done) or 'none'}\npending: {', '.join(pending) or 'none'}\n")
                return FOUND if pending else OK
            applied = await store.migrate()
        except StoreError as exc:
            raise CommandError(f"cannot migrate {where}: {exc}") from None
        finally:
            await store.close()
        out.write(f"applied: {', '.join(applied)}\n" if applied else "up to date\n")
        return OK
    if not url.startswith("sqlite:///"):
        raise CommandError(f"unsupported store URL {url!r}: use sqlite:///PATH or mongodb://...")
    if args.status:
        reader = open_sqlite_reader(url)
        try:
            current, latest, unsplit = await reader.status()
        except StoreError as exc:
            raise CommandError(f"cannot read {where}: {exc}") from None
        finally:
            await reader.close()
        out.write(f"schema version {current} of {latest}; {unsplit:,} rows in the old layout\n")
        return FOUND if current < latest or unsplit else OK
    before, latest = None, 0
    reader = open_sqlite_reader(url)
    try:
        before, latest, _ = await reader.status()
    except StoreMissing:  # a new file: say so, a mistyped path should not read "up to date"
        pass
    except StoreError as exc:
        raise CommandError(f"cannot read {where}: {exc}") from None
    finally:
        await reader.close()
    embedded = open_store(url)  # the embedded store migrates itself on open, inside one write transaction
    try:
        await embedded.open()
    except StoreError as exc:
        raise CommandError(f"cannot migrate {where}: {exc}") from None
    finally:
        await embedded.close()
    if before is None:
        out.write(f"created a new, empty log at {where}\n")
    elif before < latest:
        out.write(f"migrated {where} from schema version {before} to {latest}\n")
    else:
        out.write("up to date\n")
    return OK


async def run_erase(args: argparse.Namespace, out: IO[str]) -> int:
    if not is_object_id(args.user_id):
        raise CommandError(f"--user {args.user_id}: not an id (24 hexadecimal digits)")
    async with opened(args.store_url):  # a mistyped, empty or older store is refused before anything is written
        pass
    erased = await erase_person(args.store_url, args.user_id.lower(), args.by)
    out.write(orjson.dumps(erased).decode() + "\n")
    return OK


async def run_rebuild_sessions(args: argparse.Namespace, out: IO[str]) -> int:
    """Session records are a read model of the log: lost or damaged, they are folded again
    (beside the SQLite log, or in the MongoDB database).  Saves are conditional on each
    record's log position, so a running server's newer writes are kept."""
    async with opened(args.store_url) as store:
        records = open_session_records(args.store_url)
        try:
            await records.open()
        except StoreError as exc:
            raise CommandError(f"cannot open the session records of {args.store_url.split('@')[-1]}: {exc}") from None
        try:
            count = await rebuild_sessions(store, records)
            head = await store.head_position()
        finally:
            await records.close()
    out.write(f"rebuild-sessions: {count:,} sessions folded from the log (up to position {head:,})\n")
    return OK


RUNNERS: dict[str, Callable[[argparse.Namespace, IO[str]], Any]] = {
    "replay": run_replay,
    "trip-at": run_trip_at,
    "export": run_export,
    "verify": run_verify,
    "migrate": run_migrate,
    "erase": run_erase,
    "rebuild-sessions": run_rebuild_sessions,
}


def main(argv: Sequence[str], env: Mapping[str, str] | None = None, out: IO[str] | None = None) -> int:
    try:
        args = parser(os.environ if env is None else env).parse_args(list(argv))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE
    try:
        result: int = asyncio.run(RUNNERS[args.command](args, out if out is not None else sys.stdout))
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE
    except StoreError as exc:
        print(f"error: the store failed: {exc}", file=sys.stderr)
        return USAGE
    except BrokenPipeError:  # `export | head`
        return OK
    return result
