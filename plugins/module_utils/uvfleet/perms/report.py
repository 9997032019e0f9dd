# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run's report: counts by kind, bounded samples, diff lines, the JSON-able result.

Memory is bounded: counters per kind, at most ``max_samples`` samples kept per
kind while walking (the report shows ``max_samples`` in all, spread over the
kinds), at most ``max_diff`` diff lines.  The kinds are in ``kinds.py``.
"""

from __future__ import absolute_import, division, print_function

from .kinds import COUNTED, KIND_ORDER, KINDS


def _sorted_counts(counts):
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: KIND_ORDER.get(kv[0], 99)))


def run_kind(runs):
    """The kind of a run of these roots (``runs``: the report's per-root ``runs``): incremental, full or mixed."""
    kinds = set(r['kind'] for r in runs)
    if len(kinds) == 1:
        return kinds.pop()
    return 'mixed' if kinds else 'full'


class Report(object):
    """Accumulates one run (one or more roots)."""

    def __init__(self, max_samples=20, max_diff=1000):
        self.max_samples = max(0, int(max_samples))
        self.max_diff = max(0, int(max_diff))
        self.scanned = 0
        self.excluded = 0
        #: incremental runs: entries that kept their last verdict (unchanged since the last clean run)
        self.unchanged = 0
        #: per root: {'path', 'kind' (full, incremental), 'reason'}
        self.runs = []
        #: the inode numbers of the directories walked in the root being walked (None: not recorded)
        self.dirs = None
        #: uids named in ACL entries found compliant (an incremental run checks they still may be)
        self.named_uids = set()
        self.entries_with_findings = 0
        self.entries_changed = 0
        self.findings = {}
        self.fixed = {}
        self.remaining = {}
        self.skipped_unsafe = {}
        self.would_fix = {}
        self._samples = {}
        self.diff_before = []
        self.diff_after = []
        self.diff_omitted = 0
        self.acl_supported = {}
        self.notes = []
        self.paths = []
        #: order key of what is recorded now: -1 in the serial walk, the task
        #: index in a parallel one (merge keeps the samples/diff lines of the
        #: lowest keys, so a parallel report does not depend on timing)
        self.task = -1
        self.diff_task = []
        #: tuples of kinds whose sample buckets are all full (wants_any_sample)
        self._full = set()
        #: tuple of table names -> {tuple of kinds: entries counted in those tables and
        #: not yet added to them} (tally, count_kinds; settle adds them up)
        self._tallies = {}

    # -- accumulation ------------------------------------------------------

    def finding(self, kind, path, current='', expected='', status='found'):
        """Count one finding of an entry and keep it as a sample if there is room."""
        self.findings[kind] = self.findings.get(kind, 0) + 1
        if self.max_samples:
            bucket = self._samples.setdefault(kind, [])
            if len(bucket) < self.max_samples:
                bucket.append({'path': path, 'kind': kind, 'current': current, 'expected': expected, 'status': status,
                               '_task': self.task})

    def wants_sample(self, kind):
        """True while samples of this kind are still kept (saves building their text)."""
        return len(self._samples.get(kind, ())) < self.max_samples

    def wants_any_sample(self, kinds):
        """True while a sample of one of these kinds would still be kept."""
        if not self.max_samples or kinds in self._full:
            return False
        samples = self._samples
        limit = self.max_samples
        for kind in kinds:
            if len(samples.get(kind, ())) < limit:
                return True
        self._full.add(kinds)  # buckets only grow: full stays full
        return False

    def count_kinds(self, tables, kinds):
        """Add 1 to each kind (a tuple) in the named tables (a tuple of names such as FOUND_REMAINING).

        A tree has few distinct tuples of kinds and may have millions of entries: an
        entry adds 1 to the tally of its tuple of kinds, and ``settle`` adds each
        tuple's count to every kind of it in every named table.
        """
        tally = self._tallies.get(tables)
        if tally is None:
            tally = self._tallies[tables] = {}
        tally[kinds] = tally.get(kinds, 0) + 1

    def settle(self):
        """Add the tallies to their tables (every reader of a table calls this first)."""
        for tables, tally in self._tallies.items():
            for name in tables:
                table = getattr(self, name)
                for kinds, n in tally.items():
                    for kind in kinds:
                        table[kind] = table.get(kind, 0) + n
            tally.clear()

    def set_status(self, kind, path, status):
        """Update the status of the sample kept for (kind, path), if any."""
        bucket = self._samples.get(kind)
        if bucket and bucket[-1]['path'] == path:
            bucket[-1]['status'] = status

    def count(self, table, kind, n=1):
        """Add n to a kind in one of the tables (fixed, remaining, skipped_unsafe, would_fix)."""
        table[kind] = table.get(kind, 0) + n

    def diff(self, path, before, after):
        """One changed (or would-be changed) entry for diff mode."""
        if len(self.diff_before) < self.max_diff:
            self.diff_before.append('%s: %s' % (path, before))
            self.diff_after.append('%s: %s' % (path, after))
            self.diff_task.append(self.task)
        else:
            self.diff_omitted += 1

    # -- parallel walk: one state per worker, merged once ---------------------

    _COUNTERS = ('scanned', 'excluded', 'entries_with_findings', 'entries_changed', 'diff_omitted', 'unchanged')
    _TABLES = ('findings', 'fixed', 'remaining', 'skipped_unsafe', 'would_fix')

    def state(self):
        """What a worker sends back (JSON-able, bounded: counts, kept samples, kept diff lines)."""
        self.settle()
        out = dict((name, getattr(self, name)) for name in self._COUNTERS + self._TABLES)
        out['samples'] = self._samples
        out['diff'] = [self.diff_task, self.diff_before, self.diff_after]
        out['dirs'] = None if self.dirs is None else list(self.dirs)
        out['named_uids'] = list(self.named_uids)
        return out

    def merge(self, state):
        """Add a worker's state: counts add up; samples and diff lines stay bounded."""
        self.settle()
        for name in self._COUNTERS:
            setattr(self, name, getattr(self, name) + state[name])
        for name in self._TABLES:
            table = getattr(self, name)
            for kind, n in state[name].items():
                table[kind] = table.get(kind, 0) + n
        if state['dirs'] is not None and self.dirs is not None:
            self.dirs.update(state['dirs'])
        self.named_uids.update(state['named_uids'])
        for kind, theirs in state['samples'].items():
            bucket = self._samples.get(kind, []) + theirs
            bucket.sort(key=lambda s: s['_task'])  # stable: walk order within a task
            self._samples[kind] = bucket[:self.max_samples]
        tasks, before, after = state['diff']
        lines = sorted(zip(self.diff_task + tasks, self.diff_before + before, self.diff_after + after),
                       key=lambda line: line[0])
        self.diff_omitted += max(0, len(lines) - self.max_diff)
        lines = lines[:self.max_diff]
        self.diff_task = [line[0] for line in lines]
        self.diff_before = [line[1] for line in lines]
        self.diff_after = [line[2] for line in lines]

    # -- output ------------------------------------------------------------

    def samples(self):
        """Up to max_samples samples, spread round-robin over the kinds found."""
        buckets = [self._samples[k] for k, _c in KINDS if self._samples.get(k)]
        out = []
        i = 0
        while len(out) < self.max_samples and buckets:
            still = []
            for bucket in buckets:
                if i < len(bucket):
                    out.append(bucket[i])
                    if len(out) >= self.max_samples:
                        break
                if i + 1 < len(bucket):
                    still.append(bucket)
            buckets = still
            i += 1
        return [dict((k, v) for k, v in sample.items() if k != '_task') for sample in out]

    def counted_remaining(self):
        """Number of remaining findings that make ``fail_on_findings`` fail."""
        self.settle()
        return sum(v for k, v in self.remaining.items() if k in COUNTED)

    def run_kind(self):
        """incremental (every root), full (none) or mixed."""
        return run_kind(self.runs)

    def diff_text(self):
        """(before, after) texts for Ansible's diff mode."""
        tail = ['... %d more entries' % self.diff_omitted] if self.diff_omitted else []
        before = '\n'.join(self.diff_before + tail)
        after = '\n'.join(self.diff_after + tail)
        return (before + '\n' if before else ''), (after + '\n' if after else '')

    def as_dict(self, changed, duration, mode):
        """The JSON-able report."""
        self.settle()
        return {
            'changed': bool(changed),
            'mode': mode,
            'paths': list(self.paths),
            'scanned': self.scanned,
            'excluded': self.excluded,
            'entries_with_findings': self.entries_with_findings,
            'entries_changed': self.entries_changed,
            'findings': _sorted_counts(self.findings),
            'fixed': _sorted_counts(self.fixed),
            'remaining': _sorted_counts(self.remaining),
            'skipped_unsafe': _sorted_counts(self.skipped_unsafe),
            'would_fix': _sorted_counts(self.would_fix),
            'samples': self.samples(),
            'acl_supported': dict(self.acl_supported),
            'run': self.run_kind(),
            'runs': [dict(r) for r in self.runs],
            'unchanged': self.unchanged,
            'checked_in_full': self.scanned - self.unchanged,
            'notes': list(self.notes),
            'duration': round(duration, 3),
        }
