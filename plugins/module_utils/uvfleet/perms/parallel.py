# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parallel walk: how many processes, where the parent hands subtrees out, the forked workers.

* ``resolve_jobs``: ``auto`` (the default; also ``0``/``None``) is the CPUs this
  process may use (``os.sched_getaffinity``), at most ``AUTO_CAP``.  An explicit
  number is taken as given (at most ``MAX_JOBS``).
* ``Splitter``: the rule by which the parent's walk stops at a subdirectory and
  records it as a task.  With ``auto`` it splits nothing until the walk has seen
  ``AUTO_MIN_ENTRIES`` entries: a small tree is walked serially, in the walk's
  own order, without a fork (decided from what was seen, not from a guess).
* ``run_batch``: the walker hands its tasks over in batches of at most
  ``TASK_BATCH`` (``Walker.task_limit``), so the parent's task list stays bounded
  however wide a directory is; each batch is walked by ``jobs - 1`` forked workers
  and the parent, taking chunks of task indices from one pipe, and each worker
  sends its report back once, as JSON over its own pipe.  With ``auto`` a batch is
  forked only while the walk has been getting most of a CPU per process
  (``batch_jobs``): on a machine whose CPUs are busy with other work it stays serial.

The per-entry work stays with the caller (``runner.walk_tasks(walker, tasks, first,
last)``, ``runner.report``, ``runner.parent_pid``): this module only forks, hands
out, collects and reaps.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import struct
import sys
import time
import traceback

from .report import Report

#: chunks of tasks per process (dynamic balance), upper bound of processes
CHUNKS_PER_JOB = 16
MAX_JOBS = 64
#: the automatic number of processes is at most this (more rarely pays on one disk)
AUTO_CAP = 8
#: with jobs=auto the walk stays serial until it has seen this many entries
AUTO_MIN_ENTRIES = 10000
#: with jobs=auto a batch is forked only while the walk got at least this share of each CPU it
#: used (its CPU time over wall time): below it the CPUs are busy with other work, a second
#: process would only take turns with the first
AUTO_MIN_CPU_SHARE = 0.75
#: tasks the parent holds at most before they are walked (bounds its memory)
TASK_BATCH = 4096
_CHUNK = struct.Struct('<II')


class ParallelError(Exception):
    """A worker failed, or jobs is not a number of processes."""


def is_auto(jobs):
    """Does this jobs value ask for the automatic choice (None, 0, 'auto', '')?"""
    if jobs is None:
        return True
    if isinstance(jobs, str):
        text = jobs.strip().lower()
        return text in ('auto', '') or text == '0'
    return not isinstance(jobs, bool) and jobs == 0


def available_cpus():
    """CPUs this process may run on (its affinity mask), else the CPU count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_jobs(jobs):
    """Number of walking processes: an int >= 1; auto (0, None, 'auto') = available CPUs, at most AUTO_CAP."""
    if is_auto(jobs):
        return max(1, min(available_cpus(), AUTO_CAP))
    try:
        jobs = int(jobs)
    except (TypeError, ValueError):
        raise ParallelError('jobs must be a number of processes (1 = serial) or auto (0: one per CPU, at most %d), '
                            'got %r' % (AUTO_CAP, jobs))
    if jobs < 0:
        raise ParallelError('jobs must be auto (0) or a number of processes >= 1, got %d' % jobs)
    return max(1, min(jobs, MAX_JOBS))


class CpuShare(object):
    """The share of a CPU per process the walk got since ``mark``, measured (os.times), never guessed."""

    def __init__(self):
        self.cpu = self.wall = 0.0
        self.nproc = 1
        self.mark()

    @staticmethod
    def _cpu():
        t = os.times()
        return t[0] + t[1] + t[2] + t[3]  # this process and its waited-for workers

    def mark(self, nproc=1):
        self.cpu = self._cpu()
        self.wall = time.monotonic()
        self.nproc = max(1, nproc)

    def share(self):
        """CPU time / wall time / processes since mark; None when too little time passed to tell."""
        wall = time.monotonic() - self.wall
        if wall < 0.05:
            return None
        return (self._cpu() - self.cpu) / wall / self.nproc


def batch_jobs(jobs, auto, cpu):
    """Processes for the next batch: jobs, or 1 when auto and the walk got too little CPU (``CpuShare``)."""
    if auto and jobs > 1:
        share = cpu.share()
        if share is not None and share < AUTO_MIN_CPU_SHARE:
            return 1
    return jobs


class Splitter(object):
    """Where the parent stops and hands subtrees out (``Walker.split``).

    Nothing is split before the walk has seen ``min_entries`` entries (0: from the
    start).  Then the parent enters the first level (a uv cache has few top-level
    buckets), and deeper directories while their parent has fewer than
    ``LOW_FANOUT`` subdirectories (``wheels-v5/pypi``, ``lib/python3.12``), down to
    ``MAX_DEPTH``; every other subdirectory becomes a task (``archive-v0/<id>``:
    most of a cache).  At most ``MAX_KEPT`` directories are entered this way by the
    parent, which bounds the fds it keeps open for the workers.
    """

    LOW_FANOUT = 4
    MAX_DEPTH = 4
    MAX_KEPT = 64

    def __init__(self, min_entries=0):
        self.entered = 0
        self.min_entries = min_entries

    def __call__(self, depth, fanout, seen=None):
        if seen is not None and seen < self.min_entries:
            return False
        if self.entered < self.MAX_KEPT and (depth == 1 or (fanout < self.LOW_FANOUT and depth <= self.MAX_DEPTH)):
            self.entered += 1
            return False
        return True


def _read_exactly(fd, size):
    data = b''
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            if data:
                raise ParallelError('parallel walk: short read from the task queue')
            break
        data += chunk
    return data


def _read_all(fd):
    parts = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b''.join(parts)
        parts.append(chunk)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _flush_std():
    """Flush Python's buffers before a fork, so nothing buffered is written twice."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def take_chunks(runner, walker, tasks, chunk_fd):
    """Walk the chunks of tasks read from the shared pipe until it is empty."""
    while True:
        record = _read_exactly(chunk_fd, _CHUNK.size)
        if not record:
            return
        first, last = _CHUNK.unpack(record)
        runner.walk_tasks(walker, tasks, first, last)


def run_batch(runner, walker, tasks, jobs, fork):
    """Walk tasks (a batch of ``walker.tasks``) over ``jobs`` processes: the caller's and forked workers.

    The walker's fds of the directories holding the subtrees are open (on its
    stack or in ``kept_fds``); workers inherit them and enter each subtree with the
    same O_DIRECTORY|O_NOFOLLOW open relative to its parent's fd as the serial walk.
    ``fork``: ``os.fork`` (None: serial).  A failed fork means fewer workers, same result.
    """
    nproc = min(jobs, len(tasks))
    if nproc < 2 or fork is None:
        runner.walk_tasks(walker, tasks, 0, len(tasks))
        return
    nchunks = min(len(tasks), nproc * CHUNKS_PER_JOB)
    bounds = [len(tasks) * i // nchunks for i in range(nchunks + 1)]
    queue = b''.join(_CHUNK.pack(bounds[i], bounds[i + 1]) for i in range(nchunks))
    chunk_r, chunk_w = os.pipe()
    try:
        _write_all(chunk_w, queue)  # at most MAX_JOBS * CHUNKS_PER_JOB records (8 KiB): fits in a pipe
    finally:
        os.close(chunk_w)
    _flush_std()
    parent_pid = os.getpid()
    children = []
    try:
        try:
            for _i in range(nproc - 1):
                result_r, result_w = os.pipe()
                try:
                    pid = fork()
                except OSError:  # EAGAIN, ENOMEM: fewer workers (maybe none), same result
                    os.close(result_r)
                    os.close(result_w)
                    break
                if pid == 0:
                    runner.parent_pid = parent_pid
                    worker(runner, walker, tasks, chunk_r, result_w, [c[1] for c in children] + [result_r])
                os.close(result_w)
                children.append((pid, result_r))
            take_chunks(runner, walker, tasks, chunk_r)
        finally:
            os.close(chunk_r)
        failures = []
        while children:
            pid, result_r = children[0]
            try:
                data = _read_all(result_r)
            finally:
                os.close(result_r)
                children[0] = (pid, None)
            status = os.waitpid(pid, 0)[1]
            children.pop(0)
            try:
                payload = json.loads(data.decode('utf-8')) if data else {}
            except ValueError:
                payload = {}
            if 'report' in payload:
                runner.report.merge(payload['report'])
            else:
                failures.append(payload.get('error') or 'worker %d ended with wait status %d' % (pid, status))
        if failures:
            raise ParallelError(failures[0].strip())
    finally:
        for pid, result_r in children:  # only after an error here: stop and reap them
            if result_r is not None:
                os.close(result_r)
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass


def worker(runner, walker, tasks, chunk_r, result_w, other_fds):
    """A forked worker: walk chunks, send the report once, exit.  Never returns."""
    code = 70
    try:
        try:
            for fd in other_fds:
                os.close(fd)
            # nothing may reach the module's stdout (its JSON result) from here
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.close(null)
            sys.stdout = open(os.devnull, 'w')
            recording = walker.seen_dirs is not None
            runner.report = Report(max_samples=runner.report.max_samples, max_diff=runner.report.max_diff)
            walker.scanned = walker.excluded = walker.unchanged = 0
            walker.kept_fds = []
            # the directories this worker walks (incremental state), sent back with its report
            walker.seen_dirs = runner.report.dirs = set() if recording else None
            take_chunks(runner, walker, tasks, chunk_r)
            runner.report.scanned = walker.scanned
            runner.report.unchanged = walker.unchanged
            runner.report.excluded += walker.excluded
            payload = {'report': runner.report.state()}
            code = 0
        except BaseException:  # noqa: B902 - everything goes back to the parent
            payload = {'error': traceback.format_exc(limit=8)}
        _write_all(result_w, json.dumps(payload).encode('utf-8'))
    finally:
        os._exit(code)  # no atexit handlers, no buffered output flushed twice
