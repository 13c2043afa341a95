"""Benchmarks of the chat site's fan-out, run with `python -m bench` (or `make bench`).

The product runs as it does in production: several Daphne workers sharing a real redis-server
and a real database. Two peers run beside it on the same machine and the same load generator,
so that its numbers have something to be compared with:

- `tutorial`: the Channels tutorial's consumer (group_add, group_send, send) on the same Redis
  channel layer and the same Daphne, without authentication, storage or presence;
- `raw`: one process of the `websockets` library broadcasting to the sockets of a room.

`bench/README.md` says what each scenario measures and how to read the tables.
"""
