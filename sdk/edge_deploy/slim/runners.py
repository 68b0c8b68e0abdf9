"""Where the points of a search or a sweep run: in place, in worker processes on this machine,
or as Ray tasks on a cluster.

Every runner calls :func:`edge_deploy.slim.points.run_point` on the same inputs and returns the
results in the order of the jobs, so the outcome does not depend on the runner. A point that
raises (or whose worker dies) comes back as ``{"label", "value", "error"}``: reported, not lost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from edge_deploy.errors import EdgeDeployError
from edge_deploy.slim.dataset import SlimData
from edge_deploy.slim.points import PointJob, failed_point, run_point

Log = Callable[[str], None]


class SerialRunner:
    """Runs the points one after the other in this process."""

    name = "serial"

    def run(self, jobs: Sequence[PointJob], data: SlimData, log: Log = lambda _line: None) -> list[dict[str, Any]]:
        """Run ``jobs`` on ``data``; return one result per job, in order."""
        results = []
        for job in jobs:
            results.append(run_point(job, data))
            log(describe(results[-1]))
        return results


_WORKER_DATA: SlimData | None = None


def _set_worker_data(data: SlimData) -> None:
    global _WORKER_DATA
    _WORKER_DATA = data
    import torch

    torch.set_num_threads(1)


def _run_in_worker(job: PointJob) -> dict[str, Any]:
    assert _WORKER_DATA is not None
    return run_point(job, _WORKER_DATA)


class ProcessRunner:
    """Runs the points in ``workers`` processes on this machine (spawned: a clean interpreter
    each, one torch thread), the windows sent once per worker."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, jobs: Sequence[PointJob], data: SlimData, log: Log = lambda _line: None) -> list[dict[str, Any]]:
        """Run ``jobs`` on ``data``; return one result per job, in order."""
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        results: list[dict[str, Any]] = []
        workers = max(1, min(self.workers, len(jobs)))
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_set_worker_data,
                                 initargs=(data,)) as pool:
            futures = [pool.submit(_run_in_worker, job) for job in jobs]
            for job, future in zip(jobs, futures):
                try:
                    results.append(future.result())
                except Exception as exc:  # a worker that died
                    results.append(failed_point(job, exc))
                log(describe(results[-1]))
        return results


class RayRunner:
    """Runs every point as a Ray task (one CPU each, its own emulator when measuring) on the
    cluster at ``address`` ("auto": the running cluster Ray finds, or a new local one), or on
    the Ray instance this process already started."""

    name = "ray"

    def __init__(self, address: str | None = "auto") -> None:
        self.address = address

    def run(self, jobs: Sequence[PointJob], data: SlimData, log: Log = lambda _line: None) -> list[dict[str, Any]]:
        """Run ``jobs`` on ``data``; return one result per job, in order."""
        ray = import_ray()
        if not ray.is_initialized():
            address = None if self.address in (None, "auto") else self.address
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         logging_level="WARNING")
            except Exception as exc:
                raise EdgeDeployError(f"could not connect to the Ray cluster at {self.address}: {exc}",
                                      hint="start one with 'ray start --head', or pass --ray auto for a local one") from None
        task = ray.remote(num_cpus=1, max_retries=0)(run_point)
        data_ref = ray.put(data)
        refs = [task.remote(job, data_ref) for job in jobs]
        results: list[dict[str, Any]] = []
        for job, ref in zip(jobs, refs):
            try:
                results.append(ray.get(ref))
            except Exception as exc:  # a task or worker that died
                cause = getattr(exc, "cause", None)
                results.append(failed_point(job, cause if isinstance(cause, BaseException) else exc))
            log(describe(results[-1]))
        return results


def import_ray():
    """Return the ``ray`` module. Raises EdgeDeployError when it is not installed."""
    try:
        import ray
    except ImportError:
        raise EdgeDeployError("--ray needs Ray, which is not installed",
                              hint='pip install "edge-deploy[ray]"') from None
    return ray


def make_runner(workers: int | None = None, ray: str | None = None) -> SerialRunner | ProcessRunner | RayRunner:
    """The runner for ``--workers N`` (None = one per core) or ``--ray ADDRESS``.
    Raises EdgeDeployError for a worker count below 1."""
    if ray is not None:
        return RayRunner(ray)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers < 1:
        raise EdgeDeployError(f"--workers {workers} must be at least 1", hint="for example --workers 2")
    return SerialRunner() if workers == 1 else ProcessRunner(workers)


def describe(result: dict[str, Any]) -> str:
    """One line for a point's result: its accuracy, cost and whether it keeps the budget."""
    if "error" in result:
        return f"  {result['label']}: failed: {result['error']}"
    figures = result["figures"]
    line = (f"  {result['label']}: validation {figures['val_accuracy']:.2f} % (loss {result['val_loss']:.2f}), "
            f"test {figures['test_accuracy']:.2f} %, MACs {figures['macs']:,}")
    if "firmware" in result:
        line += f", {result['firmware']['instructions']:,} instructions, {result['firmware']['cycles']:,} cycles"
    return line + ("" if result["within_budget"] else ", over the budget")
