# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Audit and repair of shared trees: the one entry point of the permission engine.

::

    report = run(paths, group, Options(repair=True, dry_run=False, others='none', group_access='write',
                                       acl='auto', exclude=(), exclude_locks=(), acl_allow=(), link_roots=(),
                                       read_paths=(), max_samples=20, max_diff=1000, is_member=None,
                                       max_depth=256, jobs='auto'))

``run`` returns the JSON-able dict of ``Report.as_dict`` plus ``group`` (the GID),
``failed_count`` (remaining findings that count for ``fail_on_findings``) and ``diff``
(``{'before': ..., 'after': ...}``).  It raises ``PermsError`` (or a subclass, see
``errors.py``) when it refuses to start: a system directory or a symlink as root
(``roots.py``), an unknown group (``groups.py``), ACLs required but not supported.

A ``Runner`` walks each root (``fs/walk.py``, in parallel with ``parallel.py``) and hands
every entry to ``Entries`` (``entries.py``: read state, verdict, record, apply).
Repairs are made only through an fd (``repair.py``); nothing is changed by path.
"""

from __future__ import absolute_import, division, print_function

import os
import time

from ..fs import acl as aclmod
from ..fs import links
from ..fs import walk
from . import incremental
from . import parallel
from . import roots
from .entries import Entries
from .errors import PermsError, RefusedRoot
from .groups import Membership, parse_acl_allow, resolve_group
from .kinds import ERROR, OTHER_FILESYSTEM, SPECIAL_FILE, SWAPPED, TOO_DEEP, VANISHED
from .policy import Policy, closed_to_others
from .report import Report
from .verdict import special_text

#: the mode uv gives its lock files (chmod 0666 after creating them, uv >= 0.9.15)
UV_LOCK_MODE = 0o666
#: parallel walk (see parallel.py): the fork used (None: serial only)
_fork = getattr(os, 'fork', None)


class Options(object):
    """What a run does and by which policy: the options of the module and of ``uvfleet audit|check|repair``.

    ``repair`` (False: audit), ``dry_run`` (with repair: check mode, say what a repair
    would change); the policy: ``others`` (none, read), ``group_access`` (write, read),
    ``acl`` (auto, required, off); ``exclude``: globs of entries left alone, except what
    an exclusion never hides (setuid/setgid, world-writable directories, special files,
    foreign named ACL entries, links leaving the tree); ``exclude_locks``: globs of uv
    lock files, left alone only when they are regular files of mode 0666;
    ``acl_allow``: further principals named ACL entries may name (``user:NAME``,
    ``group:GID``, ...; ``groups.parse_acl_allow``); ``link_roots``: other trees a
    symlink may point into (links between the managed roots) without being
    ``symlink_outside``; ``read_paths``: further trees checked in the same run with
    ``group_access='read'`` (the shared role's ``managed`` Python and tool dirs beside
    its group-writable cache); ``max_samples``, ``max_diff``: bounds of the report;
    ``is_member``: callable uid -> bool, or a set of uids, deciding whether a hardlinked
    file's owner belongs to the group and which users a named ACL entry may name
    (default: the system's group database, uid 0 never a member); ``max_depth``;
    ``jobs``: processes walking subtrees in parallel (1: serial; 'auto', the default, 0
    or None: the CPUs available to this process, capped, and serial until the walk has
    seen enough entries; ``parallel.py``); ``state_dir``: where the state of incremental runs
    is kept (``incremental.py``; None, the engine's default: a full run, nothing kept; the
    module and the node command pass ``incremental.default_state_dir()``); ``full``: a full
    run even when the state allows an incremental one (the state is renewed all the same);
    ``margin``: seconds of ctime before the watermark not trusted (coarse timestamps);
    ``full_every``: seconds after which a root's next run is full again (None: never by age).
    """

    #: the options and their defaults (those of the module, except that an audit is repair=False)
    DEFAULTS = (
        ('repair', True), ('dry_run', False), ('others', 'none'), ('group_access', 'write'), ('acl', 'auto'),
        ('exclude', ()), ('exclude_locks', ()), ('acl_allow', ()), ('link_roots', ()), ('read_paths', ()),
        ('max_samples', 20), ('max_diff', 1000), ('is_member', None), ('max_depth', walk.DEFAULT_MAX_DEPTH),
        ('jobs', 'auto'), ('state_dir', None), ('full', False), ('margin', incremental.MARGIN), ('full_every', None),
    )

    def __init__(self, **options):
        unknown = sorted(set(options) - set(name for name, _default in self.DEFAULTS))
        if unknown:
            raise TypeError('unknown engine option(s): %s' % ', '.join(unknown))
        for name, default in self.DEFAULTS:
            setattr(self, name, options.get(name, default))
        if isinstance(self.read_paths, str):
            self.read_paths = [self.read_paths]
        self.read_paths = list(self.read_paths)

    @property
    def mode(self):
        """audit, check (a dry run of repair) or repair."""
        return 'audit' if not self.repair else ('check' if self.dry_run else 'repair')


def resolve_jobs(jobs):
    """Number of walking processes: an int >= 1; 0, None or 'auto': the CPUs available, capped (parallel.py)."""
    try:
        return parallel.resolve_jobs(jobs)
    except parallel.ParallelError as exc:
        raise PermsError(str(exc))


class Runner(object):
    """Walks the roots of one policy (a run has one per group access, write and read) into ``Entries``."""

    def __init__(self, options, policy, report, is_member, link_roots, tracker=None):
        self.options = options
        #: the incremental side of the run (incremental.Tracker), and the decision for the root walked
        self.tracker = tracker or incremental.Tracker(None)
        self.decision = self.facts = None
        self.entries = Entries(options, policy, report, is_member)
        self.exclude = walk.compile_excludes(options.exclude)
        self.lock_match = walk.compile_excludes(options.exclude_locks)
        self.jobs = resolve_jobs(options.jobs)
        #: jobs chosen automatically: serial until the walk has seen enough entries
        self.jobs_auto = parallel.is_auto(options.jobs)
        #: the other trees links may point into: (path, fd, st, mount ID) each
        self.link_roots = link_roots
        self.root = ''
        #: index of the first task of the batch being walked (the merge order across batches)
        self.task_base = 0
        #: CPU share the walk got since the last batch (jobs=auto forks only while it is high)
        self.cpu = None
        #: in a forked worker: the pid of the run's process (None there)
        self.parent_pid = None

    @property
    def report(self):
        """The report entries are recorded in (a forked worker records in one of its own: parallel.worker)."""
        return self.entries.report

    @report.setter
    def report(self, value):
        self.entries.report = value

    def walk_root(self, root, root_fd):
        """Walk one root through ``root_fd``, its fd from ``roots.open_root`` (pinned: that directory is walked)."""
        rep = self.report
        self.root = root
        walker = walk.Walker(root, exclude=self.exclude, max_depth=self.options.max_depth)
        walker.root_fd = root_fd
        walker.exclude_mode = 'mark'
        walker.ok_gid = self.entries.gid
        if self.jobs > 1 and _fork is not None:
            walker.split = parallel.Splitter(parallel.AUTO_MIN_ENTRIES if self.jobs_auto else 0)
            walker.task_limit = parallel.TASK_BATCH
        self.cpu = parallel.CpuShare()
        rep.paths.append(root)
        rep.settle()
        remaining = incremental.blocking(rep.remaining)
        try:
            events = iter(walker)
        except OSError as exc:
            raise RefusedRoot('cannot open %s: %s' % (root, exc.strerror))
        try:
            try:
                self.consume(walker, events, root)
            finally:
                events.close()
            self.flush_tasks(walker)
        finally:
            walker.close_kept()
            rep.scanned += walker.scanned
            rep.excluded += walker.excluded
            rep.unchanged += walker.unchanged
        rep.settle()
        if incremental.blocking(rep.remaining) == remaining and self.decision is not None:
            # nothing remaining on this root's files and dirs: its state is saved once the whole run has ended well
            self.tracker.clean(root, walker.root_stat, self.facts, self.decision, rep.dirs, rep.named_uids)
        rep.dirs = None

    def start_root(self, walker, root, fd, st):
        """The root's own DIR event: its ACL support, whether others can reach it, its link resolver."""
        policy = self.entries.policy
        supported = roots.probe_root(root, policy.acl, fd, st)
        self.report.acl_supported[root] = supported
        if not supported and policy.acl == 'auto':
            self.report.notes.append('%s: file system without POSIX ACL support; mode bits checked only' % root)
        use_acl = supported and policy.acl != 'off'
        try:
            access = aclmod.read(fd, aclmod.ACCESS) if supported else None
            root_closed = policy.others == 'none' and closed_to_others(st, access)
        except (OSError, aclmod.AclError):
            root_closed = False
        trees = [(root, fd, st.st_dev, walker.fence.root_mnt, walker.fence.mount_rels)]
        trees.extend((path, lfd, lst.st_dev, mnt, None) for path, lfd, lst, mnt in self.link_roots)
        # compliant file states the walk itself recognises from then on (Walker.ok_acl)
        walker.ok_acl = set() if use_acl else None
        self.facts = self.root_facts(root, st, supported, use_acl, root_closed)
        self.decision = decision = self.tracker.decide(root, fd, st, self.facts, policy.user_allowed)
        self.report.runs.append({'path': root, 'kind': decision.kind, 'reason': decision.reason})
        walker.known, walker.cutoff = decision.known, decision.cutoff
        walker.seen_dirs = self.report.dirs = set() if decision.watermark is not None else None
        self.entries.start_root(root, use_acl, root_closed, links.Resolver(trees), walker.ok_modes, walker.ok_acl)

    def root_facts(self, root, st, supported, use_acl, root_closed):
        """What the verdicts on a root's entries depend on (incremental.py: a change means a full run)."""
        options, policy = self.options, self.entries.policy
        return {
            'engine': incremental.engine_digest(), 'root': root, 'dev': st.st_dev, 'ino': st.st_ino,
            'gid': policy.gid, 'others': policy.others, 'group_access': policy.group_access, 'acl': policy.acl,
            'acl_supported': bool(supported), 'use_acl': bool(use_acl), 'root_closed': bool(root_closed),
            'groups_allowed': sorted(policy.groups_allowed), 'acl_allow': sorted(str(a) for a in options.acl_allow),
            'exclude': list(options.exclude), 'exclude_locks': list(options.exclude_locks),
            'link_roots': [lr[0] for lr in self.link_roots], 'max_depth': options.max_depth,
        }

    def consume(self, walker, events, root=None):
        """Check (and repair) every entry a walk yields."""
        entries = self.entries
        entry, symlink, simple = entries.entry, entries.symlink, entries.simple
        lock_match = self.lock_match
        FILE, DIR = walk.FILE, walk.DIR  # noqa: N806 - locals: looked up once per walk, not per entry
        for event, parent_fd, name, rel, st, extra in events:
            if event == FILE:
                if lock_match is not None and st.st_mode & 0o7777 == UV_LOCK_MODE and lock_match(rel):
                    # uv's own lock file: a regular file uv chmods to 0666 (nothing else matches)
                    entries.report.excluded += 1
                    continue
                entry(parent_fd, name, rel, st, None, False, False, extra)
            elif event == DIR:
                if parent_fd is None:
                    self.start_root(walker, root, extra, st)
                entry(parent_fd, name, rel, st, extra, True)
            elif event == walk.LINK:
                symlink(parent_fd, name, rel)
            elif event == walk.EXCLUDED:
                self.excluded(parent_fd, name, rel, st, extra)
            elif event == walk.TASKS:
                self.flush_tasks(walker)
            elif event == walk.SPECIAL:
                simple(SPECIAL_FILE, rel, special_text(st.st_mode), 'left alone (never opened)')
            elif event == walk.VANISHED:
                simple(VANISHED, rel)
            elif event == walk.SWAPPED:
                simple(SWAPPED, rel, 'directory replaced by a non-directory during the walk', 'left alone')
            elif event == walk.OTHER_FS:
                simple(OTHER_FILESYSTEM, rel, extra or 'mount point', 'not crossed')
            elif event == walk.TOO_DEEP:
                simple(TOO_DEEP, rel, 'deeper than %d levels' % walker.max_depth, 'not descended')
            else:
                simple(ERROR, rel, str(getattr(extra, 'strerror', None) or extra))

    def excluded(self, parent_fd, name, rel, st, extra):
        """An entry an exclusion matched: checked all the same, left alone unless it is dangerous."""
        inner, fd = extra
        if inner == walk.FILE:
            self.entries.entry(parent_fd, name, rel, st, None, False, True)
        elif inner == walk.DIR:
            self.entries.entry(parent_fd, name, rel, st, fd, True, True)
        elif inner == walk.LINK:
            self.entries.symlink(parent_fd, name, rel, True)
        else:
            # fifos, sockets and devices are never hidden by an exclusion
            self.entries.simple(SPECIAL_FILE, rel, special_text(st.st_mode) + ' (excluded, reported anyway)',
                                'left alone (never opened)')

    # -- parallel walk -----------------------------------------------------

    def walk_tasks(self, walker, tasks, first, last):
        """Walk tasks[first:last] here, recording under each task's index (the merge order)."""
        rep = self.report
        parent = self.parent_pid
        try:
            for index in range(first, last):
                if parent is not None and os.getppid() != parent:
                    os._exit(75)  # a worker whose parent died (killed module run): stop, change nothing more
                rep.task = self.task_base + index
                events = walker.walk_task(*tasks[index])
                try:
                    self.consume(walker, events)
                finally:
                    events.close()
        finally:
            rep.task = -1

    def flush_tasks(self, walker):
        """Walk the tasks the walker holds (a batch of at most ``parallel.TASK_BATCH``), then forget them."""
        tasks = walker.tasks
        if not tasks:
            return
        jobs = parallel.batch_jobs(self.jobs, self.jobs_auto, self.cpu)
        try:
            parallel.run_batch(self, walker, tasks, jobs, _fork)
        except parallel.ParallelError as exc:
            raise PermsError('parallel walk of %s failed in a worker: %s' % (self.root, exc))
        self.cpu.mark(min(jobs, len(tasks)))
        self.task_base += len(tasks)
        del tasks[:]
        walker.close_kept()  # fds of directories left behind: all their tasks are done


def _membership(is_member, gid):
    """The callable uid -> member of the group: the group database, or the set or callable given."""
    if is_member is None:
        return Membership(gid)
    if not callable(is_member):
        return frozenset(is_member).__contains__
    return is_member


def run(paths, group, options=None):
    """Audit (repair=False), check (repair=True, dry_run=True) or repair a list of trees (see ``Options``).

    ``group``: name or numeric GID of an existing group (``groups.resolve_group``).
    Raises PermsError before changing anything when a root or the group is refused.
    """
    options = options or Options()
    start = time.time()
    resolve_jobs(options.jobs)
    gid, _name = resolve_group(group)
    allow_users, allow_groups = parse_acl_allow(options.acl_allow)
    paths = [paths] if isinstance(paths, str) else list(paths)
    opened = []
    link_roots = []
    tracker = None
    try:
        for path in paths + options.read_paths:
            opened.append(roots.open_root(path))
        if not opened:
            raise RefusedRoot('no path given: pass the shared tree, e.g. /var/cache/uv')
        for root, fd, st in opened:
            roots.probe_root(root, options.acl, fd, st)
        is_member = _membership(options.is_member, gid)
        link_roots, notes = roots.open_link_roots(options.link_roots)
        report = Report(max_samples=options.max_samples, max_diff=options.max_diff)
        report.notes.extend(notes)
        tracker = incremental.Tracker(options.state_dir, options.full, options.dry_run, options.margin,
                                      options.full_every)

        def runner_for(access):
            policy = Policy(gid, others=options.others, group_access=access, acl=options.acl,
                            user_allowed=lambda uid: uid in allow_users or is_member(uid), groups_allowed=allow_groups)
            return Runner(options, policy, report, is_member, link_roots, tracker)

        runners = {'main': runner_for(options.group_access)}
        if options.read_paths:
            runners['read'] = runner_for('read')
        for index, (root, fd, _st) in enumerate(opened):
            runners['main' if index < len(paths) else 'read'].walk_root(root, fd)
        # the run ended (not interrupted): the states of the roots with nothing remaining
        report.notes.extend(tracker.save())
    finally:
        if tracker is not None:
            tracker.close()
        for item in opened + link_roots:
            os.close(item[1])
    return _result(report, options.mode, gid, time.time() - start)


def _result(report, mode, gid, duration):
    """The JSON-able result of a run (``Report.as_dict`` and group, failed_count, diff)."""
    report.settle()
    if mode == 'repair':
        changed = bool(report.fixed)
    elif mode == 'check':
        changed = bool(report.would_fix)
    else:
        changed = False
    result = report.as_dict(changed, duration, mode)
    result['group'] = gid
    result['failed_count'] = report.counted_remaining()
    before, after = report.diff_text()
    result['diff'] = {'before': before, 'after': after}
    return result
