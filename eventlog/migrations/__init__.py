"""Versioned MongoDB migrations for the event log, applied by ``runner.migrate``.

Each migration is a module named ``mNNNN_what_it_does`` holding ``async def up(db)``.
Migrations run in number order, each at most once per database: the
``migrations`` collection (the ledger) records what ran.  Every ``up`` must be
idempotent, because two processes may start migrating the same database at once.
"""
