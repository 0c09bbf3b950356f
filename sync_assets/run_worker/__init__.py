"""A warm run worker for the real-time lane.

Dagster's default launcher starts every run in a freshly spawned interpreter that imports dagster and the
project again: 1.6–2.0 s on a 2-core machine before the first line of the flow runs (DESIGN.md), which is
most of the webhook lane's latency budget. The run worker imports all of that once and forks a child per
run; the child executes the run through Dagster's own ``dagster api execute_run`` entry point, the same
one container launchers (docker, k8s) run, so event logging, interrupts and failure reporting are
Dagster's, not ours.

* :mod:`.protocol` – the socket and the one-line request both sides speak (no Dagster imports).
* :mod:`.server` – the preloaded parent that forks (``sync-assets run-worker``).
* :mod:`.launcher` – :class:`~.launcher.WarmRunLauncher`, named in ``dagster_instance.yaml``; it falls back
  to Dagster's default launcher whenever the worker is not there or refuses.
"""
