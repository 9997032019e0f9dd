# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Audit and repair of a shared tree: walk + policy + fixes through checked fds.

Public entry point::

    report = run(paths, group, repair=True, dry_run=False, others='none',
                 group_access='write', acl='auto', exclude=(), max_samples=20,
                 max_diff=1000, is_member=None, check_file_acls=False, max_depth=256)

``run`` returns the JSON-able dict of ``Report.as_dict`` plus ``failed_count``
(remaining findings that count for ``fail_on_findings``) and ``diff``
(``{'before': ..., 'after': ...}``).  It raises ``PermsError`` (or a subclass)
when it refuses to start: a system directory or a symlink as root, an unknown
group, ACLs required but not supported.

Repairs are made only through an fd: directories through the verified
O_DIRECTORY|O_NOFOLLOW fd of the walk, regular files through an fd opened with
O_NOFOLLOW|O_NONBLOCK relative to the parent's fd and checked against the
(st_dev, st_ino) of the scan.  Nothing is changed by path.
"""

from __future__ import absolute_import, division, print_function

import errno
import grp
import json
import os
import pwd
import stat
import struct
import sys
import time
import traceback

from . import acl as aclmod
from . import report as R
from . import walk as W
from .policy import Policy, closed_to_others, mode_text, others_x_grants_nothing

#: Roots refused as such (their subdirectories are fine, e.g. /var/cache/uv, /opt/uv).
SYSTEM_DIRS = frozenset((
    '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32',
    '/media', '/mnt', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp',
    '/usr', '/usr/bin', '/usr/lib', '/usr/lib64', '/usr/libexec', '/usr/local', '/usr/local/bin',
    '/usr/local/lib', '/usr/local/sbin', '/usr/sbin', '/usr/share', '/var', '/var/cache', '/var/lib',
    '/var/log', '/var/spool', '/var/tmp',
))
#: Roots refused with everything below them (pseudo file systems).
SYSTEM_PREFIXES = ('/proc/', '/sys/', '/dev/')

_PROC_FD = os.path.isdir('/proc/self/fd')

#: compliant directory states remembered (bounds memory on trees with many distinct ACLs)
_MAX_OK_DIRS = 4096
#: parallel walk: chunks of tasks per process (dynamic balance), upper bound of processes
_CHUNKS_PER_JOB = 16
_MAX_JOBS = 64
_CHUNK = struct.Struct('<II')
_fork = getattr(os, 'fork', None)


class PermsError(Exception):
    """The engine refuses to run; the message says why and what to do instead."""


class RefusedRoot(PermsError):
    """A root that must not be walked as root."""


class UnknownGroup(PermsError):
    """The group does not resolve."""


class AclUnsupported(PermsError):
    """acl=required on a file system without POSIX ACLs."""


def resolve_group(group):
    """(gid, name or None) for a group name or numeric GID."""
    text = str(group).strip()
    if text.isdigit():
        gid = int(text)
        try:
            return gid, grp.getgrgid(gid).gr_name
        except KeyError:
            return gid, None
    try:
        return grp.getgrnam(text).gr_gid, text
    except KeyError:
        raise UnknownGroup('group %r does not exist on this host; create it first (the uvfleet.uv.shared role does) '
                           'or pass a numeric GID' % text)


class Membership(object):
    """Is a uid a member of the group (primary gid or listed member)?  Cached per uid.

    uid 0 is never counted as a member: a hardlinked root-owned file is never changed.
    """

    def __init__(self, gid):
        self.gid = gid
        self._cache = {0: False}
        self._names = None

    def _member_names(self):
        if self._names is None:
            try:
                self._names = frozenset(grp.getgrgid(self.gid).gr_mem)
            except KeyError:
                self._names = frozenset()
        return self._names

    def __call__(self, uid):
        known = self._cache.get(uid)
        if known is not None:
            return known
        try:
            pw = pwd.getpwuid(uid)
            member = pw.pw_gid == self.gid or pw.pw_name in self._member_names()
        except KeyError:
            member = False
        self._cache[uid] = member
        return member


def check_root(path):
    """Normalise a root path and refuse what must not be walked; return the normalised path."""
    if not path or not str(path).strip():
        raise RefusedRoot('empty path: pass the shared tree, e.g. /var/cache/uv')
    norm = os.path.normpath(os.path.abspath(str(path)))
    if norm.startswith('//'):
        norm = '/' + norm.lstrip('/')
    hint = 'pass the shared tree itself, e.g. /var/cache/uv or /opt/uv'
    if norm in SYSTEM_DIRS or norm.startswith(SYSTEM_PREFIXES):
        raise RefusedRoot('refusing to work on system directory %s: %s' % (norm, hint))
    real = os.path.realpath(norm)
    if real in SYSTEM_DIRS or real.startswith(SYSTEM_PREFIXES):
        raise RefusedRoot('refusing to work on %s: it resolves to system directory %s; %s' % (norm, real, hint))
    try:
        st = os.lstat(norm)
    except OSError as exc:
        raise RefusedRoot('cannot use %s: %s; pass an existing directory' % (norm, exc.strerror))
    if stat.S_ISLNK(st.st_mode):
        raise RefusedRoot('refusing %s: it is a symlink (to %s); a root that is a symlink could be swapped while we work. '
                          'Pass the real directory instead, after checking it is the tree you mean' % (norm, real))
    if not stat.S_ISDIR(st.st_mode):
        raise RefusedRoot('refusing %s: not a directory; pass the directory of the shared tree' % norm)
    return norm


_ACL_SUPPORT = {}


def acl_supported(fd, st):
    """Does the file system of this directory fd support POSIX ACLs?  Cached per st_dev."""
    known = _ACL_SUPPORT.get(st.st_dev)
    if known is None:
        known = _ACL_SUPPORT[st.st_dev] = aclmod.probe(fd)
    return known


def _acl_text(entries):
    return aclmod.to_text(entries)


class _Run(object):
    """One run over one or more roots; all per-entry logic lives here."""

    def __init__(self, policy, report, repair, dry_run, is_member, check_file_acls, exclude):
        self.policy = policy
        self.report = report
        self.repair = repair
        self.act = repair and not dry_run
        self.is_member = is_member
        self.check_file_acls = check_file_acls
        self.exclude = exclude
        self.gid = policy.gid
        self.use_acl = False
        self.root = ''
        self.root_real = ''
        #: others cannot search the root: uv's others-x on files below grants nothing
        self.root_closed = False
        self.ok_modes = set()
        #: (st_mode, raw access ACL, raw default ACL) of directories found
        #: compliant (st_gid == gid): the next ones are recognised without decoding
        self.ok_dirs = set()
        self.max_depth = W.DEFAULT_MAX_DEPTH
        self.jobs = 1
        #: in a forked worker: the pid of the run's process (None there)
        self.parent_pid = None

    # -- helpers -----------------------------------------------------------

    def path(self, rel):
        return self.root + '/' + rel if rel else self.root

    def read_file_acl(self, parent_fd, name, fd=None):
        """Access ACL of a non-directory without following a symlink."""
        if fd is not None:
            return aclmod.read(fd, aclmod.ACCESS)
        if _PROC_FD:
            return aclmod.read('/proc/self/fd/%d/%s' % (parent_fd, name), aclmod.ACCESS, follow_symlinks=False)
        tmp = os.open(name, W.FILE_FLAGS, dir_fd=parent_fd)
        try:
            return aclmod.read(tmp, aclmod.ACCESS)
        finally:
            os.close(tmp)

    def simple(self, kind, rel, current='', expected='', status=None):
        """Record a single report-only/unsafe/info finding for an entry."""
        rep = self.report
        if status is None:
            status = {R.UNSAFE: 'skipped', R.INFO: 'ignored'}.get(R.KIND_CLASS[kind], 'reported')
        rep.finding(kind, self.path(rel), current, expected, status)
        rep.entries_with_findings += 1
        if kind in R.COUNTED:
            rep.count(rep.remaining, kind)
        if R.KIND_CLASS[kind] == R.UNSAFE:
            rep.count(rep.skipped_unsafe, kind)

    # -- evaluation --------------------------------------------------------

    def evaluate(self, st, is_dir, access, default):
        """Finding kinds and targets for an entry; access/default are ACL entries or None."""
        policy = self.policy
        if is_dir:
            target, kinds = policy.dir_mode(st.st_mode)
        else:
            target, kinds = policy.file_mode(st.st_mode)
        kinds = list(kinds)
        if R.OTHERS_PERMS in kinds and others_x_grants_nothing(st, self.root_closed):
            kinds.remove(R.OTHERS_PERMS)  # uv's mode | 0o111 behind a closed root (docs/maintenance.md)
            target |= 0o001
        if st.st_gid != self.gid:
            kinds.insert(0, R.WRONG_GROUP)
        access_expected = None
        default_expected = None
        if access is not None:
            akinds, access_expected = policy.access_acl(access, is_dir, st.st_mode & 0o7777)
            if R.ACL_MASK in akinds and R.GROUP_PERMS in kinds:
                kinds.remove(R.GROUP_PERMS)
            for kind in akinds:
                if kind not in kinds:
                    kinds.append(kind)
            if R.ACL_GROUP not in akinds:
                access_expected = None  # the chmod alone rewrites the mask
        if is_dir and self.use_acl:
            dkind, dexp = policy.default_acl(default)
            if dkind:
                kinds.append(dkind)
                default_expected = dexp
        return kinds, target, access_expected, default_expected

    def describe(self, kind, st, target, access, access_expected, default, default_expected, is_dir):
        if kind == R.WRONG_GROUP:
            return 'group %d' % st.st_gid, 'group %d' % self.gid
        if kind in (R.DEFAULT_ACL_MISSING, R.DEFAULT_ACL_WRONG):
            return 'default ACL ' + _acl_text(default), 'default ACL ' + _acl_text(default_expected)
        if kind == R.ACL_GROUP:
            return 'ACL ' + _acl_text(access), 'ACL ' + _acl_text(access_expected)
        if kind == R.ACL_MASK:
            mask = aclmod.get(access or (), aclmod.MASK)
            return ('mask::%s (%s)' % (aclmod.perm_text(mask or 0), mode_text(st.st_mode, is_dir)),
                    'mask::%s (%s)' % (aclmod.perm_text((target >> 3) & 7), mode_text(target, is_dir)))
        return mode_text(st.st_mode, is_dir), mode_text(target, is_dir)

    def state_text(self, perm, gid, default, is_dir):
        text = 'mode %04o group %d' % (perm & 0o7777, gid)
        if is_dir and self.use_acl:
            text += ' default ACL ' + _acl_text(default)
        return text

    # -- entries -----------------------------------------------------------

    def entry(self, parent_fd, name, rel, st, fd, is_dir):
        """Check (and repair) a regular file or a directory."""
        policy = self.policy
        use_acl = self.use_acl
        access = default = None
        ok_key = None
        if is_dir:
            target, mkinds = policy.dir_mode(st.st_mode)
        else:
            target, mkinds = policy.file_mode(st.st_mode)
            if not mkinds and st.st_gid == self.gid and not (use_acl and self.check_file_acls):
                self.ok_modes.add(st.st_mode)
                return
        try:
            if is_dir:
                if use_acl:
                    access = aclmod.read_raw(fd, aclmod.ACCESS)
                    default = aclmod.read_raw(fd, aclmod.DEFAULT)
                if st.st_gid == self.gid:
                    ok_key = (st.st_mode, access, default)
                    if ok_key in self.ok_dirs:
                        return
                if access is not None:
                    access = aclmod.decode(access)
                if default is not None:
                    default = aclmod.decode(default)
            elif use_acl and (self.check_file_acls or R.GROUP_PERMS in mkinds):
                access = self.read_file_acl(parent_fd, name)
        except OSError as exc:
            if W.vanished_error(exc):
                self.simple(R.VANISHED, rel)
            elif exc.errno == errno.ELOOP or (not is_dir and aclmod.is_unsupported(exc)):
                # a symlink swapped in for the file: no ACL xattrs on a symlink
                self.simple(R.SWAPPED, rel, 'became a symlink during the walk', 'left alone')
            else:
                self.simple(R.ERROR, rel, 'reading ACL: %s' % exc.strerror, '')
            return
        except aclmod.AclError as exc:
            self.simple(R.ERROR, rel, 'unreadable ACL: %s' % exc, '')
            return
        kinds, target, access_expected, default_expected = self.evaluate(st, is_dir, access, default)
        if not kinds:
            if ok_key is not None and len(self.ok_dirs) < _MAX_OK_DIRS:
                self.ok_dirs.add(ok_key)
            return
        rep = self.report
        path = self.path(rel)
        rep.entries_with_findings += 1
        for kind in kinds:
            if rep.wants_sample(kind):
                current, expected = self.describe(kind, st, target, access, access_expected, default, default_expected, is_dir)
                rep.finding(kind, path, current, expected)
            else:
                rep.finding(kind, path)
        # hardlinked file of someone outside the group: never changed
        unsafe = detail = None
        if not is_dir and st.st_nlink > 1 and not self.is_member(st.st_uid):
            unsafe = R.HARDLINK_FOREIGN
            detail = 'nlink %d, owner uid %d is not a member of group %d' % (st.st_nlink, st.st_uid, self.gid)
        before = None
        if unsafe is None and self.act:
            before = self.state_text(st.st_mode, st.st_gid, default, is_dir)
            unsafe, detail = self.fix(parent_fd, name, st, fd, is_dir, target, access_expected, default_expected)
        if unsafe is not None:
            if unsafe == R.VANISHED:
                self.simple(R.VANISHED, rel, detail, '')
                for kind in kinds:
                    rep.set_status(kind, path, 'vanished')
                return
            rep.finding(unsafe, path, detail, 'left alone', 'skipped' if unsafe != R.ERROR else 'failed')
            for kind in kinds:
                rep.set_status(kind, path, 'skipped' if unsafe != R.ERROR else 'failed')
                rep.count(rep.remaining, kind)
            rep.count(rep.remaining, unsafe)
            if R.KIND_CLASS[unsafe] == R.UNSAFE:
                rep.count(rep.skipped_unsafe, unsafe)
            return
        if not self.repair:
            for kind in kinds:
                rep.count(rep.remaining, kind)
            return
        if self.act:
            table, status = rep.fixed, 'fixed'
        else:
            # check mode: what a repair would do; nothing is changed, all remains
            table, status = rep.would_fix, 'would fix'
            for kind in kinds:
                rep.count(rep.remaining, kind)
            before = self.state_text(st.st_mode, st.st_gid, default, is_dir)
        for kind in kinds:
            rep.count(table, kind)
            rep.set_status(kind, path, status)
        rep.entries_changed += 1
        if len(rep.diff_before) < rep.max_diff:
            after_default = default_expected or default
            rep.diff(path, before, self.state_text(target, self.gid, after_default, is_dir))
        else:
            rep.diff_omitted += 1

    def fix(self, parent_fd, name, st, fd, is_dir, target, access_expected, default_expected):
        """Apply the repair through a verified fd.  Returns (unsafe kind or None, detail)."""
        own_fd = None
        try:
            if fd is None:
                try:
                    own_fd = fd = os.open(name, W.FILE_FLAGS, dir_fd=parent_fd)
                except OSError as exc:
                    if W.vanished_error(exc):
                        return R.VANISHED, 'vanished before repair'
                    if exc.errno == errno.ELOOP:
                        return R.SWAPPED, 'replaced by a symlink between scan and repair'
                    raise
                fst = os.fstat(fd)
                if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(fst.st_mode):
                    return R.SWAPPED, 'replaced by another entry between scan and repair'
                if fst.st_nlink > 1 and not self.is_member(fst.st_uid):
                    return R.HARDLINK_FOREIGN, 'nlink %d, owner uid %d is not a member of group %d' % (
                        fst.st_nlink, fst.st_uid, self.gid)
                if fst.st_mode != st.st_mode:
                    # changed since the scan (uv running): repair what is there now
                    target = self.policy.file_mode(fst.st_mode)[0]
                st = fst
            if st.st_gid != self.gid:
                os.fchown(fd, -1, self.gid)
            if target != st.st_mode & 0o7777:
                os.fchmod(fd, target)
            if access_expected is not None:
                current = aclmod.read(fd, aclmod.ACCESS)
                if current is not None:
                    expected = self.policy.access_acl(current, is_dir, target)[1]
                    if expected is not None:
                        aclmod.write(fd, aclmod.ACCESS, expected)
            if default_expected is not None:
                aclmod.write(fd, aclmod.DEFAULT, default_expected)
        except OSError as exc:
            if W.vanished_error(exc):
                return R.VANISHED, 'vanished during repair'
            return R.ERROR, 'repair failed: %s' % (exc.strerror or exc)
        finally:
            if own_fd is not None:
                os.close(own_fd)
        return None, ''

    def symlink(self, parent_fd, name, rel):
        """Report a symlink whose target leaves the root or dangles; never changed."""
        try:
            target = os.readlink(name, dir_fd=parent_fd)
        except OSError as exc:
            if W.vanished_error(exc) or exc.errno == errno.EINVAL:
                self.simple(R.VANISHED, rel)
            else:
                self.simple(R.ERROR, rel, 'readlink: %s' % exc.strerror)
            return
        base = os.path.dirname(self.root_real + '/' + rel)
        resolved = os.path.realpath(os.path.join(base, target))
        root_real = self.root_real
        if resolved != root_real and not resolved.startswith(root_real.rstrip('/') + '/'):
            self.simple(R.SYMLINK_OUTSIDE, rel, '-> %s (resolves to %s)' % (target, resolved),
                        'a target inside %s' % self.root)
        elif not os.path.lexists(resolved):
            self.simple(R.SYMLINK_DANGLING, rel, '-> %s (missing)' % target, 'an existing target')

    # -- one root ----------------------------------------------------------

    def walk_root(self, root):
        rep = self.report
        self.root = root
        self.root_real = os.path.realpath(root)
        walker = W.Walker(root, exclude=self.exclude, max_depth=self.max_depth)
        walker.ok_gid = self.gid
        self.ok_modes = walker.ok_modes
        if self.jobs > 1 and _fork is not None:
            walker.split = _Splitter()
        rep.paths.append(root)
        try:
            walker_iter = iter(walker)
        except OSError as exc:
            raise RefusedRoot('cannot open %s: %s' % (root, exc.strerror))
        try:
            try:
                self.consume(walker, walker_iter, root)
            finally:
                walker_iter.close()
            if walker.tasks:
                self.run_tasks(walker)
        finally:
            walker.close_kept()
            rep.scanned += walker.scanned
            rep.excluded += walker.excluded

    def consume(self, walker, events, root=None):
        """Check (and repair) every entry a walk yields."""
        entry = self.entry
        for event, parent_fd, name, rel, st, extra in events:
            if event == W.FILE:
                entry(parent_fd, name, rel, st, None, False)
            elif event == W.DIR:
                if parent_fd is None:
                    self.start_root(root, extra, st)
                entry(parent_fd, name, rel, st, extra, True)
            elif event == W.LINK:
                self.symlink(parent_fd, name, rel)
            elif event == W.SPECIAL:
                self.simple(R.SPECIAL_FILE, rel, _special_text(st.st_mode), 'left alone (never opened)')
            elif event == W.VANISHED:
                self.simple(R.VANISHED, rel)
            elif event == W.SWAPPED:
                self.simple(R.SWAPPED, rel, 'directory replaced by a non-directory during the walk', 'left alone')
            elif event == W.OTHER_FS:
                self.simple(R.OTHER_FILESYSTEM, rel, 'mount point (st_dev %d)' % st.st_dev, 'not crossed')
            elif event == W.TOO_DEEP:
                self.simple(R.TOO_DEEP, rel, 'deeper than %d levels' % walker.max_depth, 'not descended')
            else:
                self.simple(R.ERROR, rel, str(getattr(extra, 'strerror', None) or extra))

    # -- parallel walk -----------------------------------------------------

    def walk_tasks(self, walker, tasks, first, last):
        """Walk tasks[first:last] here, recording under each task's index (the merge order)."""
        rep = self.report
        parent = self.parent_pid
        try:
            for index in range(first, last):
                if parent is not None and os.getppid() != parent:
                    os._exit(75)  # a worker whose parent died (killed module run): stop, change nothing more
                rep.task = index
                events = walker.walk_task(*tasks[index])
                try:
                    self.consume(walker, events)
                finally:
                    events.close()
        finally:
            rep.task = -1

    def take_chunks(self, walker, tasks, chunk_fd):
        """Walk the chunks of tasks read from the shared pipe until it is empty."""
        while True:
            record = _read_exactly(chunk_fd, _CHUNK.size)
            if not record:
                return
            first, last = _CHUNK.unpack(record)
            self.walk_tasks(walker, tasks, first, last)

    def run_tasks(self, walker):
        """Walk the subtrees the walker handed out: here, or over forked workers.

        The walker's fds of the directories holding the subtrees stay open
        (``kept_fds``); workers inherit them and enter each subtree with the
        same O_DIRECTORY|O_NOFOLLOW open relative to its parent's fd as the
        serial walk.  Work is handed out in chunks of task indices through one
        pipe (a queue filled before the fork); the parent takes chunks too.
        Each worker sends its report back once, as JSON over its own pipe: the
        counts add up, samples and diff lines stay bounded.
        """
        tasks = walker.tasks
        nproc = min(self.jobs, len(tasks))
        if nproc < 2:
            self.walk_tasks(walker, tasks, 0, len(tasks))
            return
        nchunks = min(len(tasks), nproc * _CHUNKS_PER_JOB)
        bounds = [len(tasks) * i // nchunks for i in range(nchunks + 1)]
        queue = b''.join(_CHUNK.pack(bounds[i], bounds[i + 1]) for i in range(nchunks))
        chunk_r, chunk_w = os.pipe()
        try:
            _write_all(chunk_w, queue)  # at most _MAX_JOBS * _CHUNKS_PER_JOB records (8 KiB): fits in a pipe
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
                        pid = _fork()
                    except OSError:  # EAGAIN, ENOMEM: fewer workers (maybe none), same result
                        os.close(result_r)
                        os.close(result_w)
                        break
                    if pid == 0:
                        self.parent_pid = parent_pid
                        self.worker(walker, tasks, chunk_r, result_w, [c[1] for c in children] + [result_r])
                    os.close(result_w)
                    children.append((pid, result_r))
                self.take_chunks(walker, tasks, chunk_r)
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
                    self.report.merge(payload['report'])
                else:
                    failures.append(payload.get('error') or 'worker %d ended with wait status %d' % (pid, status))
            if failures:
                raise PermsError('parallel walk of %s failed in a worker: %s' % (self.root, failures[0].strip()))
        finally:
            for pid, result_r in children:  # only after an error here: stop and reap them
                if result_r is not None:
                    os.close(result_r)
                try:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                except OSError:
                    pass

    def worker(self, walker, tasks, chunk_r, result_w, other_fds):
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
                self.report = R.Report(max_samples=self.report.max_samples, max_diff=self.report.max_diff)
                walker.scanned = walker.excluded = 0
                walker.kept_fds = []
                self.take_chunks(walker, tasks, chunk_r)
                self.report.scanned = walker.scanned
                self.report.excluded = walker.excluded
                payload = {'report': self.report.state()}
                code = 0
            except BaseException:  # noqa: B902 - everything goes back to the parent
                payload = {'error': traceback.format_exc(limit=8)}
            _write_all(result_w, json.dumps(payload).encode('utf-8'))
        finally:
            os._exit(code)  # no atexit handlers, no buffered output flushed twice

    def start_root(self, root, fd, st):
        policy = self.policy
        supported = probe_root(root, policy.acl, fd, st)
        self.report.acl_supported[root] = supported
        if not supported and policy.acl == 'auto':
            self.report.notes.append('%s: file system without POSIX ACL support; mode bits checked only' % root)
        self.use_acl = supported and policy.acl != 'off'
        try:
            access = aclmod.read(fd, aclmod.ACCESS) if supported else None
            self.root_closed = policy.others == 'none' and closed_to_others(st, access)
        except (OSError, aclmod.AclError):
            self.root_closed = False


def probe_root(root, acl_option, fd=None, st=None):
    """ACL support of a root's file system; raises AclUnsupported when required and missing."""
    own = None
    try:
        if fd is None:
            try:
                own = fd = os.open(root, W.DIR_FLAGS)
                st = os.fstat(fd)
            except OSError as exc:
                raise RefusedRoot('cannot open %s: %s; pass an existing directory that is not a symlink' % (root, exc.strerror))
        try:
            supported = acl_supported(fd, st)
        except OSError as exc:
            raise PermsError('cannot probe ACL support on %s: %s' % (root, exc))
    finally:
        if own is not None:
            os.close(own)
    if not supported and acl_option == 'required':
        raise AclUnsupported('the file system of %s does not support POSIX ACLs and acl=required; '
                             'mount it with ACL support or use acl=auto to check mode bits only' % root)
    return bool(supported)


def _special_text(mode):
    if stat.S_ISFIFO(mode):
        return 'fifo'
    if stat.S_ISSOCK(mode):
        return 'socket'
    if stat.S_ISCHR(mode):
        return 'character device'
    if stat.S_ISBLK(mode):
        return 'block device'
    return 'special file (mode %o)' % mode


def resolve_jobs(jobs):
    """Number of walking processes: an int >= 1; 0, None or 'auto' mean one per available CPU."""
    if jobs is None or (isinstance(jobs, str) and jobs.strip().lower() in ('auto', '')):
        jobs = 0
    try:
        jobs = int(jobs)
    except (TypeError, ValueError):
        raise PermsError('jobs must be a number of processes (1 = serial) or 0/auto (one per CPU), got %r' % (jobs,))
    if jobs < 0:
        raise PermsError('jobs must be 0 (one per CPU) or more, got %d' % jobs)
    if jobs == 0:
        try:
            jobs = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            jobs = os.cpu_count() or 1
    return max(1, min(jobs, _MAX_JOBS))


class _Splitter(object):
    """Where the parent stops and hands subtrees out (Walker.split).

    The parent enters the first level (a uv cache has few top-level buckets),
    and deeper directories while their parent has fewer than ``LOW_FANOUT``
    subdirectories (``wheels-v5/pypi``, ``lib/python3.12``), down to
    ``MAX_DEPTH``; every other subdirectory becomes a task (``archive-v0/<id>``:
    most of a cache).  At most ``MAX_KEPT`` directories are entered by the
    parent, which bounds the fds it keeps open for the workers.
    """

    LOW_FANOUT = 4
    MAX_DEPTH = 4
    MAX_KEPT = 64

    def __init__(self):
        self.entered = 0

    def __call__(self, depth, fanout):
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
                raise PermsError('parallel walk: short read from the task queue')
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


def run(paths, group, repair=True, dry_run=False, others='none', group_access='write', acl='auto', exclude=(),
        max_samples=20, max_diff=1000, is_member=None, check_file_acls=False, max_depth=W.DEFAULT_MAX_DEPTH,
        jobs=1):
    """Audit (repair=False), check (repair=True, dry_run=True) or repair a list of trees.

    ``group``: name or numeric GID.  ``is_member``: callable uid -> bool, or a
    set of uids, deciding whether a hardlinked file's owner belongs to the
    group (default: the system's group database, uid 0 never a member).
    ``jobs``: processes walking subtrees in parallel (1: serial; 0 or None:
    one per CPU available to this process); see ``resolve_jobs``.
    Raises PermsError before changing anything when a root or the group is refused.
    """
    start = time.time()
    jobs = resolve_jobs(jobs)
    if isinstance(paths, str):
        paths = [paths]
    roots = [check_root(p) for p in paths]
    if not roots:
        raise RefusedRoot('no path given: pass the shared tree, e.g. /var/cache/uv')
    for root in roots:
        probe_root(root, acl)
    gid, _name = resolve_group(group)
    policy = Policy(gid, others=others, group_access=group_access, acl=acl)
    if is_member is None:
        is_member = Membership(gid)
    elif not callable(is_member):
        members = frozenset(is_member)
        is_member = members.__contains__
    report = R.Report(max_samples=max_samples, max_diff=max_diff)
    runner = _Run(policy, report, repair, dry_run, is_member, check_file_acls, W.compile_excludes(exclude))
    runner.max_depth = max_depth
    runner.jobs = jobs
    for root in roots:
        runner.walk_root(root)
    mode = 'audit' if not repair else ('check' if dry_run else 'repair')
    if mode == 'repair':
        changed = bool(report.fixed)
    elif mode == 'check':
        changed = bool(report.would_fix)
    else:
        changed = False
    result = report.as_dict(changed, time.time() - start, mode)
    result['group'] = gid
    result['failed_count'] = report.counted_remaining()
    before, after = report.diff_text()
    result['diff'] = {'before': before, 'after': after}
    return result


def audit(paths, group, **kwargs):
    """Audit only: report, change nothing."""
    return run(paths, group, repair=False, **kwargs)


def repair(paths, group, **kwargs):
    """Repair what is fixable and safe; report the rest."""
    return run(paths, group, repair=True, **kwargs)
