"""Work done outside requests: a run's shards, the idempotency purge, audit checkpoints.

On PostgreSQL the jobs go through procrastinate, a queue kept in the same database
(``queue.py``): the API enqueues a run's shards in the transaction that records the
run, and ``incentives worker`` processes on any number of hosts take them. On SQLite
a thread of the service executes the same job functions (``in_process.py``).
"""
