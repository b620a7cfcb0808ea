"""The distributed call budget: rate lists, ledger, atomic reservation, waits.

Every HTTP attempt of every worker, process, host and DAG using one token reserves a row
in ONE ledger in the target database before it is sent (``budget.Budget``, a CallGate).
Three layers, each importing only those before it (tests/unit/budget/test_budget_imports.py):

- the rule, pure: ``model`` states the whole admission rule (its docstring is the
  specification); ``rates`` parses ``N/period`` lists, ``waits`` is the sliding-log
  rule, ``priorities`` the classes and the queue order, ``external`` where usage made
  elsewhere goes;
- its SQL: ``tables``, ``seqlog``, ``bookings``, ``admission`` (the rule in one
  transaction), ``ledger``, ``margin``, ``retention`` (roll-up and purge), ``classes``
  (per-class figures), ``pool``;
- orchestration: ``budget`` (the CallGate) and ``usage_sync`` (``api-usage/``).

Decision on maintained limiters (benchmarks/eval_limiters.py, PostgreSQL 15, 2 cores):
our own ledger, because pyrate-limiter 4.5.1's ``PostgresBucket`` failed on:

- Contention: ``LOCK TABLE … NOWAIT`` refuses a caller whenever another holds the lock.
  16 contenders on a rate that never fills: 93% of non-blocking acquires refused
  (25,423 vs 1,838 admitted in 5 s); blocking acquires retry after ``buffer_ms``: no
  refusal, but 670 admitted/s with p99 341 ms (courtflow on the same machine,
  benchmarks/budget_bench.py: ~5,800/s, p99 ~8 ms).
- Time zones: ``item_timestamp`` is ``TIMESTAMP`` without zone, filled via
  ``TO_TIMESTAMP`` in the session's ``TimeZone``. A 5/min bucket used by a
  ``America/Los_Angeles`` session then a UTC session admitted 10 calls; the other way
  round the Pacific session sees UTC rows 8 h in the future and waits hours.
- The concurrency test (12 contenders, sandbox at "20/2s,150/20s"): 120/120 admitted,
  0 x 429 in two runs but 2 x 429 in a third (items stamped at acquire time, a fixed
  50 ms buffer, no notion of a call reaching the server late); 5 x 429 with mixed
  session time zones.
- Shape: one table of ``(name, weight, item_timestamp)`` per bucket: no endpoint,
  status or run ids (a ledger beside it would be written outside its lock), no shared
  429 block, no server-reported rates, no reconciliation; needs ``psycopg_pool``.
  ``SQLiteBucket`` stamps with the process's clock, not the database's, and needs
  ``filelock`` across processes.

``limits`` 5.x shares state only through Redis, Memcached or MongoDB, never the target
database, so it cannot hold the ledger (not installed, not run).
"""
