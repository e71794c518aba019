"""Running a sweep's runs on Dask distributed: a local cluster of worker processes, or a scheduler's.

A local cluster has one single-threaded worker process per CPU asked for
(the simulator is pure Python and holds the GIL: threads would not run in
parallel). Worker processes are started by ``spawn`` and inherit
``sys.path``, so they import ``lob`` (and traders named by import path from
the working directory) as this process does. The workers of a scheduler
given by address must have ``lob`` installed, the same version, and see
the base config's directory if the config names files relative to it.

Dask is imported only here and only when a sweep runs on it.
"""

from __future__ import annotations

import logging
import signal
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lob.errors import LobError
from lob.sweep.execute import execute_run, failed_row
from lob.sweep.spec import Run, Sweep

if TYPE_CHECKING:
    from distributed import Client, Future

#: Seconds to wait for a scheduler given by address to answer, and then for it to have a worker.
CONNECT_TIMEOUT_S = 10
WORKER_TIMEOUT_S = 30
#: Dask settings of a local cluster's workers: fewer wake-ups of threads beside the one running the
#: simulation, each of which takes the GIL from it (the statistical profiler alone samples every 10 ms).
QUIET_WORKERS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def import_distributed() -> Any:
    """The ``distributed`` module; LobError saying how to install it if it is missing."""
    try:
        import distributed
    except ImportError as exc:
        raise LobError(
            f"lob sweep runs on Dask distributed, which is not installed ({exc}): "
            'pip install "dask[distributed]", or run in this process with --workers 0'
        ) from None
    return distributed


@contextmanager
def dask_client(workers: int, scheduler: str | None = None) -> Iterator[Client]:
    """A Client of a new local cluster of ``workers`` processes, or of the scheduler at ``scheduler``.

    Closes the client, and the cluster it started, on the way out (also on
    Ctrl-C). A local cluster takes 1-3 s to start.
    """
    distributed = import_distributed()
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise LobError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from None
        try:
            _check_workers(client, scheduler)
            yield client
        finally:
            client.close()
        return
    if workers < 1:
        raise LobError(f"--workers must be >= 1 for a Dask cluster, got {workers}")
    import dask

    with dask.config.set(QUIET_WORKERS):  # read by the nannies as they start their workers
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # The scheduler serves HTTP (health, metrics) even without a dashboard: on a free port, so
            # that a second cluster on this machine does not warn that 8787 is taken.
            scheduler_kwargs={"dashboard_address": ":0"},
            silence_logs=logging.ERROR,
            preload=[__name__],  # dask_setup below, in each worker
        )
    try:
        client = distributed.Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def submit_runs(
    client: Client, sweep: Sweep, runs: Sequence[Run], write_dir: Path | None = None
) -> list[Future[dict[str, Any]]]:
    """One task per run, in order: :func:`execute_run` of the sweep's base text, the overrides and seed.

    ``write_dir``: write each run's directory to ``write_dir/<run_id>``.
    """
    base = str(sweep.base.resolve())  # the workers' working directory may not be ours
    return [
        client.submit(
            execute_run,
            base,
            list(run.overrides),
            run.seed,
            params=run.params,
            base_text=sweep.base_text,
            run_id=run.run_id,
            out=None if write_dir is None else (write_dir / run.run_id).resolve(),
            key=f"execute_run-{run.run_id}-{uuid.uuid4().hex[:8]}",  # unique: a key in use is not run again
        )
        for run in runs
    ]


def completed_rows(
    futures: Sequence[Future[dict[str, Any]]], runs: Sequence[Run]
) -> Iterator[list[dict[str, Any]]]:
    """The rows of the runs as they complete, in batches (whatever finished together).

    A task that failed in Dask rather than in the run (a worker that died, a
    result that could not be sent back) is a failed row with that error.
    """
    from distributed import as_completed

    run_of = {future.key: run for future, run in zip(futures, runs, strict=True)}
    finished = as_completed(futures, with_results=True, raise_errors=False)  # type: ignore[no-untyped-call]
    for batch in finished.batches():  # type: ignore[no-untyped-call]
        rows = []
        for future, result in batch:
            if future.status == "finished":
                rows.append(result)
                continue
            exc = result[1] if isinstance(result, tuple) else result  # (type, exception, traceback)
            rows.append(
                failed_row(run_of[future.key], f"the task failed in Dask: {type(exc).__name__}: {exc}")
            )
        yield rows


def dask_setup(worker: object) -> None:
    """Run by each worker of a local cluster as it starts (a Dask preload): ignore Ctrl-C there.

    A terminal's Ctrl-C reaches every process of the command; this one
    handles it (cancels the queued runs, keeps the table, closes the
    cluster, which stops the workers) without each worker printing a
    traceback of its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_lob_version() -> str:
    """``lob.__version__`` where this runs (a worker); unpickling this function needs ``lob`` there."""
    import lob

    return lob.__version__


def _check_workers(client: Client, address: str) -> None:
    """LobError unless the cluster has a worker and every worker imports this version of ``lob``."""
    import lob

    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT_S)
    except TimeoutError:
        raise LobError(
            f"the Dask scheduler at {address} has no workers (waited {WORKER_TIMEOUT_S} s)"
        ) from None
    try:
        versions = client.run(worker_lob_version)
    except Exception as exc:
        raise LobError(f"the workers of {address} cannot import lob: {type(exc).__name__}: {exc}") from None
    other = {worker: v for worker, v in versions.items() if v != lob.__version__}
    if other:
        found = ", ".join(f"{w}: {v}" for w, v in sorted(other.items()))
        raise LobError(f"the workers of {address} run another version of lob than {lob.__version__}: {found}")
