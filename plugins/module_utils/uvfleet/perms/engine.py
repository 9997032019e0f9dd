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
import os
import pwd
import stat
import time

from ..fs import acl as aclmod
from ..fs import fileio
from ..fs import links as L
from ..fs import mounts as M
from . import parallel as P
from . import report as R
from ..fs import walk as W
from .policy import Policy, closed_to_others, mode_text, others_x_grants_nothing

#: Roots refused as such (their subdirectories are fine, e.g. /var/cache/uv, /opt/uv).
SYSTEM_DIRS = frozenset((
    '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32',
    '/media', '/mnt', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp',
    '/usr', '/usr/bin', '/usr/lib', '/usr/lib64', '/usr/libexec', '/usr/local', '/usr/local/bin',
    '/usr/local/lib', '/usr/local/sbin', '/usr/sbin', '/usr/share', '/var', '/var/cache', '/var/lib',
    '/var/log', '/var/spool', '/var/tmp',
))
#: System trees: refused with everything below them (a repair would hand them to the group).
SYSTEM_TREES = (
    '/bin', '/boot', '/dev', '/efi', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/root', '/run',
    '/sbin', '/snap', '/sys', '/usr', '/var/backups', '/var/lib/apt', '/var/lib/dpkg', '/var/lib/polkit-1',
    '/var/lib/private', '/var/lib/rpm', '/var/lib/sudo', '/var/lib/systemd', '/var/lib/ucf', '/var/log',
    '/var/mail', '/var/run', '/var/spool',
)
#: Roots refused with everything below them (kept for callers of earlier versions).
SYSTEM_PREFIXES = tuple(t + '/' for t in SYSTEM_TREES)
_ALLOWED_HINT = ('pass the shared tree itself, in a directory of its own outside the system trees, e.g. '
                 '/var/cache/uv, /opt/uv/python, /srv/uv/cache')

_PROC_FD = os.path.isdir('/proc/self/fd')

#: compliant directory states remembered (bounds memory on trees with many distinct ACLs)
_MAX_OK_DIRS = 4096
#: parallel walk (see parallel.py): upper bound of processes, the fork used (None: serial only)
_MAX_JOBS = P.MAX_JOBS
_fork = getattr(os, 'fork', None)


class PermsError(Exception):
    """The engine refuses to run; the message says why and what to do instead."""


class RefusedRoot(PermsError):
    """A root that must not be walked as root."""


class UnknownGroup(PermsError):
    """The group does not resolve."""


class AclUnsupported(PermsError):
    """acl=required on a file system without POSIX ACLs."""


#: the largest GID: 2**32 - 1 is (gid_t)-1, which chown/fchown take as "leave the group unchanged"
MAX_GID = 0xFFFFFFFE
_ASCII_DIGITS = frozenset('0123456789')


def _getgrnam(name):
    try:
        return grp.getgrnam(name)
    except (KeyError, ValueError, UnicodeError):
        return None


def _getgrgid(gid):
    try:
        return grp.getgrgid(gid)
    except (KeyError, OverflowError, ValueError):
        return None


def resolve_group(group):
    """(gid, name) for a group name or numeric GID that exists on this host; UnknownGroup otherwise.

    A GID is ASCII digits only (no sign, no other Unicode digits), at most 4294967294
    (4294967295 is -1 to fchown).  A name wins over a number: a group whose name is
    all digits is that group, unless the same digits are also the GID of *another*
    group, which is refused as ambiguous.  Nothing is changed before this resolves.
    """
    if isinstance(group, bool) or group is None:
        raise UnknownGroup('group must be a group name or a numeric GID, got %r' % (group,))
    if isinstance(group, int):
        text = str(group)
    else:
        text = str(group).strip()
    if not text:
        raise UnknownGroup('group is empty: pass the shared group by name (e.g. uvshared) or numeric GID')
    numeric = set(text) <= _ASCII_DIGITS
    by_name = _getgrnam(text) if not isinstance(group, int) else None
    by_gid = None
    if numeric:
        gid = int(text)
        if gid > MAX_GID and by_name is None:
            raise UnknownGroup('GID %s is out of range (0 to %d; %d means "no change" to chown): pass an existing '
                               'group name or GID' % (text, MAX_GID, MAX_GID + 1))
        if gid <= MAX_GID:
            by_gid = _getgrgid(gid)
    if by_name is not None:
        if by_gid is not None and by_gid.gr_gid != by_name.gr_gid:
            raise UnknownGroup('group %r is ambiguous: it is the name of group GID %d and the GID of group %r; '
                               'pass the name of the group you mean (%r or %r)'
                               % (text, by_name.gr_gid, by_gid.gr_name, by_gid.gr_name, text))
        return by_name.gr_gid, by_name.gr_name
    if numeric:
        if by_gid is None:
            raise UnknownGroup('GID %s does not exist on this host: create the group first (the uvfleet.uv.shared role '
                               'does) or pass the name of an existing group' % text)
        return by_gid.gr_gid, by_gid.gr_name
    if any(ch.isdigit() for ch in text) and all(ch.isdigit() for ch in text):
        raise UnknownGroup('group %r is not a GID: a GID is ASCII digits 0-9 only; pass the group name or an ASCII GID'
                           % text)
    raise UnknownGroup('group %r does not exist on this host; create it first (the uvfleet.uv.shared role does) '
                       'or pass the numeric GID of an existing group' % text)


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


def _normalise_root(path):
    """Normalise a root path and refuse system directories and trees by name; return the normalised path."""
    if not path or not str(path).strip():
        raise RefusedRoot('empty path: pass the shared tree, e.g. /var/cache/uv')
    norm = os.path.normpath(os.path.abspath(str(path)))
    if norm.startswith('//'):
        norm = '/' + norm.lstrip('/')
    if norm in SYSTEM_DIRS:
        raise RefusedRoot('refusing to work on system directory %s: %s' % (norm, _ALLOWED_HINT))
    for tree in SYSTEM_TREES:
        if norm.startswith(tree + '/'):
            raise RefusedRoot('refusing to work on %s: it is inside the system directory %s, which is refused with '
                              'everything below it; %s' % (norm, tree, _ALLOWED_HINT))
    return norm


def _writable_by_others(st):
    """Can someone other than root change entries of this directory (owner, group or others with w)?"""
    return st.st_uid != 0 or st.st_mode & 0o022


def _root_component_check(norm):
    """The check open_path runs on each component of a root path (see ``open_root``)."""
    def check(parent_path, parent_st, name, st):
        if parent_st is None:
            return
        if parent_st.st_mode & stat.S_ISVTX and parent_st.st_uid == 0:
            # sticky: only the owner of an entry (and root) can rename or remove it
            if st.st_uid != 0:
                raise RefusedRoot('refusing %s: %s/%s is owned by uid %d in the sticky directory %s, so that user could '
                                  'swap it for another directory; make root its owner first, or %s'
                                  % (norm, parent_path.rstrip('/'), name, st.st_uid, parent_path, _ALLOWED_HINT))
        elif _writable_by_others(parent_st):
            raise RefusedRoot('refusing %s: its ancestor %s (owner uid %d, mode %04o) can be changed by users other than '
                              'root, who could swap a directory on the way for another one; use a root whose '
                              'ancestors are owned by root and not group- or world-writable (%s)'
                              % (norm, parent_path, parent_st.st_uid, parent_st.st_mode & 0o7777, _ALLOWED_HINT))
    return check


def open_root(path):
    """Refuse or open one root: (normalised path, fd, st).

    The path is refused by name when it is a system directory or inside a system tree;
    then opened component by component from ``/`` with O_NOFOLLOW (a symlink anywhere
    in it is refused, never followed).  Each ancestor must be owned by root and not
    group- or world-writable, or be a root-owned sticky directory (``/tmp``) whose
    next component is owned by root: nobody but root can then swap a component.  The
    fd returned is the one that is walked: its (st_dev, st_ino) is what was checked.
    """
    norm = _normalise_root(path)
    try:
        fd, st = W.open_path(norm, _root_component_check(norm))
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            link = _first_symlink(norm)
            if link is not None:
                raise RefusedRoot('refusing %s: %s is a symlink; a path through a symlink could be swapped while we '
                                  'work. Pass the real directory instead, after checking it is the tree you mean'
                                  % (norm, link))
            raise RefusedRoot('refusing %s: not a directory; pass the directory of the shared tree' % norm)
        raise RefusedRoot('cannot use %s: %s; pass an existing directory' % (norm, exc.strerror))
    return norm, fd, st


def _first_symlink(norm):
    """The first component of norm that is a symlink (for the message only; lstat, never followed)."""
    current = ''
    for name in [c for c in norm.split('/') if c]:
        current += '/' + name
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return current
        except OSError:
            return None
    return None


def check_root(path):
    """Normalise a root path and refuse what must not be walked; return the normalised path (see ``open_root``)."""
    norm, fd, _st = open_root(path)
    os.close(fd)
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
        #: jobs chosen automatically: serial until the walk has seen enough entries
        self.jobs_auto = False
        #: index of the first task of the batch being walked (the merge order across batches)
        self.task_base = 0
        #: CPU share the walk got since the last batch (jobs=auto forks only while it is high)
        self.cpu = None
        #: in a forked worker: the pid of the run's process (None there)
        self.parent_pid = None
        #: the pinned fd of the root being walked, the symlink resolver for it, the
        #: other trees links may point into ((path, fd, st) each), the lock-file matcher
        self.root_fd = None
        self.resolver = None
        self.link_roots = []
        self.lock_match = None
        #: the walker's set of compliant file states (Walker.ok_acl), None without ACLs: filled
        #: here from the verdicts, consulted by the walk (a file that reaches entry() with its
        #: ACL read here, excluded or after a failed read in the walk, gets its verdict below)
        self.ok_acl = None
        #: (is_dir, st_mode, group ok, raw access ACL, raw default ACL) -> (kinds, target,
        #: access_expected, default_expected): the evaluation of a state, made once
        self.verdicts = {}

    # -- helpers -----------------------------------------------------------

    def path(self, rel):
        return self.root + '/' + rel if rel else self.root

    def read_file_acl(self, parent_fd, name, fd=None):
        """Access ACL of a non-directory without following a symlink."""
        data = self.read_file_acl_raw(parent_fd, name, fd)
        return None if data is None else aclmod.decode(data)

    def read_file_acl_raw(self, parent_fd, name, fd=None):
        """Undecoded access ACL of a non-directory without following a symlink (one lgetxattr)."""
        if fd is not None:
            return aclmod.read_raw(fd, aclmod.ACCESS)
        if _PROC_FD:
            return aclmod.read_raw('/proc/self/fd/%d/%s' % (parent_fd, name), aclmod.ACCESS, follow_symlinks=False)
        tmp = os.open(name, fileio.FILE_FLAGS, dir_fd=parent_fd)
        try:
            return aclmod.read_raw(tmp, aclmod.ACCESS)
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
        if policy.foreign_named(access) or policy.foreign_named(default):
            # removed before any mask is raised (see fix): a dormant entry would wake up
            kinds.append(R.ACL_NAMED)
            if policy.foreign_named(access):
                access_expected = policy.without_foreign(access)
            if policy.foreign_named(default):
                default_expected = policy.default_acl(default)[1]
        return kinds, target, access_expected, default_expected

    def describe(self, kind, st, target, access, access_expected, default, default_expected, is_dir):
        if kind == R.WRONG_GROUP:
            return 'group %d' % st.st_gid, 'group %d' % self.gid
        if kind == R.ACL_NAMED:
            return self.named_text(access, default), (
                'no named ACL entry for users or groups outside group %d (members, the group and acl_allow only)'
                % self.gid)
        if kind in (R.DEFAULT_ACL_MISSING, R.DEFAULT_ACL_WRONG):
            return 'default ACL ' + _acl_text(default), 'default ACL ' + _acl_text(default_expected)
        if kind == R.ACL_GROUP:
            return 'ACL ' + _acl_text(access), 'ACL ' + _acl_text(access_expected)
        if kind == R.ACL_MASK:
            mask = aclmod.get(access or (), aclmod.MASK)
            return ('mask::%s (%s)' % (aclmod.perm_text(mask or 0), mode_text(st.st_mode, is_dir)),
                    'mask::%s (%s)' % (aclmod.perm_text((target >> 3) & 7), mode_text(target, is_dir)))
        return mode_text(st.st_mode, is_dir), mode_text(target, is_dir)

    def named_text(self, access, default):
        """The named entries the policy refuses, with the principal's name, e.g. ``access ACL user:4545(carol):rwx``."""
        parts = []
        for label, entries in (('access ACL', access), ('default ACL', default)):
            bad = self.policy.foreign_named(entries)
            if not bad:
                continue
            mask = aclmod.get(entries, aclmod.MASK)
            texts = []
            for tag, perm, ident in bad:
                text = '%s:%d(%s):%s' % ('user' if tag == aclmod.USER else 'group', ident,
                                         _principal_name(tag, ident), aclmod.perm_text(perm))
                if mask is not None and not perm & mask:
                    text += ' (dormant under mask::%s, wakes when a chmod raises the mask)' % aclmod.perm_text(mask)
                texts.append(text)
            parts.append('%s %s' % (label, ', '.join(texts)))
        return '; '.join(parts)

    def state_text(self, perm, gid, default, is_dir):
        text = 'mode %04o group %d' % (perm & 0o7777, gid)
        if is_dir and self.use_acl:
            text += ' default ACL ' + _acl_text(default)
        return text

    # -- entries -----------------------------------------------------------

    def entry(self, parent_fd, name, rel, st, fd, is_dir, excluded=False, acl_read=None):
        """Check (and repair) a regular file or a directory.

        ``excluded``: the entry matched an exclusion (or lies below an excluded
        directory): it is left alone unless it is dangerous (see ``_dangerous``).
        ``acl_read``: ``(raw access ACL,)`` of a regular file as the walk read it
        (``Walker.ok_acl``); None: read it here.

        Cost per finding: the evaluation of a state (mode, group ok, raw ACLs) is
        remembered (``verdicts``), ACLs are decoded only for a new state or a sample,
        and the paths and texts of samples and diff lines are built only while there
        is room for them: a finding that is counted and not sampled costs dict updates.
        """
        policy = self.policy
        use_acl = self.use_acl
        access = default = None
        ok_key = None
        if not is_dir and not use_acl and st.st_gid == self.gid and not policy.file_mode(st.st_mode)[1]:
            self.ok_modes.add(st.st_mode)
            if excluded:
                self.report.excluded += 1
            return
        try:
            if is_dir:
                if use_acl:
                    access = aclmod.read_raw(fd, aclmod.ACCESS)
                    default = aclmod.read_raw(fd, aclmod.DEFAULT)
                if st.st_gid == self.gid:
                    ok_key = (st.st_mode, access, default)
                    if ok_key in self.ok_dirs:
                        if excluded:
                            self.report.excluded += 1
                        return
            elif use_acl:
                # every file's access ACL: a named entry for an outsider shows nowhere in st_mode
                access = self.read_file_acl_raw(parent_fd, name) if acl_read is None else acl_read[0]
        except OSError as exc:
            if fileio.vanished_error(exc):
                self.simple(R.VANISHED, rel)
            elif exc.errno == errno.ELOOP or (not is_dir and aclmod.is_unsupported(exc)):
                # a symlink swapped in for the file: no ACL xattrs on a symlink
                self.simple(R.SWAPPED, rel, 'became a symlink during the walk', 'left alone')
            else:
                self.simple(R.ERROR, rel, 'reading ACL: %s' % exc.strerror, '')
            return
        raw_access, raw_default = access, default
        # a file's verdict on others' x depends on its link count and the root (others_x_grants_nothing)
        vkey = (is_dir, st.st_mode, st.st_gid == self.gid, access, default,
                not is_dir and st.st_nlink == 1 and self.root_closed)
        verdict = self.verdicts.get(vkey)
        decoded = False
        if verdict is None:
            try:
                access, default = self.decode(raw_access, raw_default)
            except aclmod.AclError as exc:
                self.simple(R.ERROR, rel, 'unreadable ACL: %s' % exc, '')
                return
            decoded = True
            kinds, target, access_expected, default_expected = self.evaluate(st, is_dir, access, default)
            verdict = (tuple(kinds), target, access_expected, default_expected)
            if len(self.verdicts) < _MAX_OK_DIRS:
                self.verdicts[vkey] = verdict
        kinds, target, access_expected, default_expected = verdict
        if not kinds and st.st_gid == self.gid:
            if is_dir:
                if ok_key is not None and len(self.ok_dirs) < _MAX_OK_DIRS:
                    self.ok_dirs.add(ok_key)
            elif self.ok_acl is not None and len(self.ok_acl) < _MAX_OK_DIRS:
                self.ok_acl.add((st.st_mode, raw_access, st.st_nlink == 1))
        if not kinds or (excluded and not _dangerous(kinds, is_dir)):
            if excluded:
                self.report.excluded += 1
            return
        rep = self.report
        rep.entries_with_findings += 1
        sampled = rep.wants_any_sample(kinds)
        want_diff = self.repair and len(rep.diff_before) < rep.max_diff
        path = None
        if (sampled or want_diff) and not decoded:
            access, default = self.decode(raw_access, raw_default)  # decoded fine before: same bytes
        if sampled:
            path = self.path(rel)
            for kind in kinds:
                if rep.wants_sample(kind):
                    current, expected = self.describe(kind, st, target, access, access_expected, default,
                                                      default_expected, is_dir)
                    rep.finding(kind, path, current, expected)
                else:
                    rep.finding(kind, path)
        elif not self.repair and (is_dir or st.st_nlink == 1):
            # an audit's finding that is neither sampled nor a hardlink: found and remaining, one tally
            rep.count_kinds(R.FOUND_REMAINING, kinds)
            return
        else:
            rep.count_kinds(R.FOUND, kinds)
        # hardlinked file of someone outside the group: never changed
        unsafe = detail = None
        if not is_dir and st.st_nlink > 1 and not self.is_member(st.st_uid):
            unsafe = R.HARDLINK_FOREIGN
            detail = 'nlink %d, owner uid %d is not a member of group %d' % (st.st_nlink, st.st_uid, self.gid)
        before = None
        if unsafe is None and self.act:
            if want_diff:
                before = self.state_text(st.st_mode, st.st_gid, default, is_dir)
            unsafe, detail = self.fix(parent_fd, name, st, fd, is_dir, target, access_expected, default_expected)
        if unsafe is not None:
            path = path or self.path(rel)
            if unsafe == R.VANISHED:
                self.simple(R.VANISHED, rel, detail, '')
                for kind in kinds:
                    rep.set_status(kind, path, 'vanished')
                return
            rep.finding(unsafe, path, detail, 'left alone', 'skipped' if unsafe != R.ERROR else 'failed')
            for kind in kinds:
                rep.set_status(kind, path, 'skipped' if unsafe != R.ERROR else 'failed')
            rep.count_kinds(R.REMAINING, kinds)
            rep.count(rep.remaining, unsafe)
            if R.KIND_CLASS[unsafe] == R.UNSAFE:
                rep.count(rep.skipped_unsafe, unsafe)
            return
        if not self.repair:
            rep.count_kinds(R.REMAINING, kinds)
            return
        if self.act:
            tables, status = R.FIXED, 'fixed'
        else:
            # check mode: what a repair would do; nothing is changed, all remains
            tables, status = R.WOULD_FIX, 'would fix'
            rep.count_kinds(R.REMAINING, kinds)
            if want_diff:
                before = self.state_text(st.st_mode, st.st_gid, default, is_dir)
        rep.count_kinds(tables, kinds)
        if sampled:
            for kind in kinds:
                rep.set_status(kind, path, status)
        rep.entries_changed += 1
        if want_diff:
            after_default = default_expected or default
            rep.diff(path or self.path(rel), before, self.state_text(target, self.gid, after_default, is_dir))
        else:
            rep.diff_omitted += 1

    @staticmethod
    def decode(raw_access, raw_default):
        """Decoded (access, default) ACL entries of raw xattr values (None stays None); AclError on bad data."""
        return (None if raw_access is None else aclmod.decode(raw_access),
                None if raw_default is None else aclmod.decode(raw_default))

    def fix(self, parent_fd, name, st, fd, is_dir, target, access_expected, default_expected):
        """Apply the repair through a verified fd.  Returns (unsafe kind or None, detail)."""
        own_fd = None
        try:
            if fd is None:
                try:
                    own_fd = fd = os.open(name, fileio.FILE_FLAGS, dir_fd=parent_fd)
                except OSError as exc:
                    if fileio.vanished_error(exc):
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
            # ACLs first: a named entry the policy refuses goes before any chmod raises the
            # mask (that would wake it up); then the owning group, then the mode
            if access_expected is not None:
                current = aclmod.read(fd, aclmod.ACCESS)
                if current is not None:
                    expected = self.policy.without_foreign(current)
                    raised = self.policy.access_acl(expected, is_dir, target)[1]
                    if raised is not None:
                        expected = raised
                    if expected != current:
                        aclmod.write(fd, aclmod.ACCESS, expected)
            if default_expected is not None:
                aclmod.write(fd, aclmod.DEFAULT, default_expected)
            if st.st_gid != self.gid:
                os.fchown(fd, -1, self.gid)
            if target != st.st_mode & 0o7777:
                os.fchmod(fd, target)
        except OSError as exc:
            if fileio.vanished_error(exc):
                return R.VANISHED, 'vanished during repair'
            return R.ERROR, 'repair failed: %s' % (exc.strerror or exc)
        finally:
            if own_fd is not None:
                os.close(own_fd)
        return None, ''

    def symlink(self, parent_fd, name, rel, excluded=False):
        """Report a symlink whose target leaves the root (or cannot be resolved) or dangles; never changed.

        Decided hop by hop from the walk's fds (``links.Resolver``): no path is
        resolved by the kernel as root, the cost per link is bounded.
        """
        try:
            target = os.readlink(name, dir_fd=parent_fd)
        except OSError as exc:
            if fileio.vanished_error(exc) or exc.errno == errno.EINVAL:
                self.simple(R.VANISHED, rel)
            else:
                self.simple(R.ERROR, rel, 'readlink: %s' % exc.strerror)
            return
        verdict, detail = self.resolver.resolve(self.root, parent_fd, rel, target)
        shown = target if len(target) <= 200 else target[:200] + '...'
        if verdict == L.INSIDE or (verdict == L.DANGLING and excluded):
            if excluded:
                self.report.excluded += 1
        elif verdict == L.DANGLING:
            self.simple(R.SYMLINK_DANGLING, rel, '-> %s (%s)' % (shown, detail), 'an existing target')
        else:
            self.simple(R.SYMLINK_OUTSIDE, rel, '-> %s (%s)' % (shown, detail), 'a target inside %s' % self.root)

    # -- one root ----------------------------------------------------------

    def walk_root(self, root, root_fd=None):
        """Walk one root; ``root_fd``: its fd from ``open_root`` (pinned: that directory is walked)."""
        rep = self.report
        own = None
        if root_fd is None:
            root, root_fd, _st = open_root(root)
            own = root_fd
        self.root = root
        self.root_real = root  # opened without following any symlink: the path is the real one
        self.root_fd = root_fd
        walker = W.Walker(root, exclude=self.exclude, max_depth=self.max_depth)
        walker.root_fd = root_fd
        walker.exclude_mode = 'mark'
        walker.ok_gid = self.gid
        self.ok_modes = walker.ok_modes
        if self.jobs > 1 and _fork is not None:
            walker.split = P.Splitter(P.AUTO_MIN_ENTRIES if self.jobs_auto else 0)
            walker.task_limit = P.TASK_BATCH
        self.cpu = P.CpuShare()
        rep.paths.append(root)
        try:
            try:
                walker_iter = iter(walker)
            except OSError as exc:
                raise RefusedRoot('cannot open %s: %s' % (root, exc.strerror))
            roots = [(root, root_fd, walker.root_stat.st_dev, walker.root_mnt, walker.mount_rels)]
            for path, fd, st, mnt in self.link_roots:
                roots.append((path, fd, st.st_dev, mnt, None))
            self.resolver = L.Resolver(roots)
            try:
                try:
                    self.consume(walker, walker_iter, root)
                finally:
                    walker_iter.close()
                self.flush_tasks(walker)
            finally:
                walker.close_kept()
                rep.scanned += walker.scanned
                rep.excluded += walker.excluded
        finally:
            if own is not None:
                os.close(own)

    def consume(self, walker, events, root=None):
        """Check (and repair) every entry a walk yields."""
        entry = self.entry
        lock_match = self.lock_match
        FILE, DIR = W.FILE, W.DIR  # noqa: N806 - locals: looked up once per walk, not per entry
        for event, parent_fd, name, rel, st, extra in events:
            if event == FILE:
                if lock_match is not None and st.st_mode & 0o7777 == UV_LOCK_MODE and lock_match(rel):
                    # uv's own lock file: a regular file uv chmods to 0666 (nothing else matches)
                    self.report.excluded += 1
                    continue
                entry(parent_fd, name, rel, st, None, False, False, extra)
            elif event == DIR:
                if parent_fd is None:
                    self.start_root(root, extra, st)
                    # compliant file states the walk itself recognises from then on (Walker.ok_acl)
                    walker.ok_acl = self.ok_acl = set() if self.use_acl else None
                entry(parent_fd, name, rel, st, extra, True)
            elif event == W.LINK:
                self.symlink(parent_fd, name, rel)
            elif event == W.EXCLUDED:
                inner, fd = extra
                if inner == W.FILE:
                    entry(parent_fd, name, rel, st, None, False, True)
                elif inner == W.DIR:
                    entry(parent_fd, name, rel, st, fd, True, True)
                elif inner == W.LINK:
                    self.symlink(parent_fd, name, rel, True)
                else:
                    # fifos, sockets and devices are never hidden by an exclusion
                    self.simple(R.SPECIAL_FILE, rel, _special_text(st.st_mode) + ' (excluded, reported anyway)',
                                'left alone (never opened)')
            elif event == W.TASKS:
                self.flush_tasks(walker)
            elif event == W.SPECIAL:
                self.simple(R.SPECIAL_FILE, rel, _special_text(st.st_mode), 'left alone (never opened)')
            elif event == W.VANISHED:
                self.simple(R.VANISHED, rel)
            elif event == W.SWAPPED:
                self.simple(R.SWAPPED, rel, 'directory replaced by a non-directory during the walk', 'left alone')
            elif event == W.OTHER_FS:
                self.simple(R.OTHER_FILESYSTEM, rel, extra or 'mount point', 'not crossed')
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
        jobs = P.batch_jobs(self.jobs, self.jobs_auto, self.cpu)
        try:
            P.run_batch(self, walker, tasks, jobs, _fork)
        except P.ParallelError as exc:
            raise PermsError('parallel walk of %s failed in a worker: %s' % (self.root, exc))
        self.cpu.mark(min(jobs, len(tasks)))
        self.task_base += len(tasks)
        del tasks[:]
        walker.close_kept()  # fds of directories left behind: all their tasks are done

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


#: the mode uv gives its lock files (chmod 0666 after creating them, uv >= 0.9.15)
UV_LOCK_MODE = 0o666
#: kinds an exclusion never hides (for directories also world_writable)
_DANGEROUS = frozenset((R.SETUID_SETGID, R.ACL_NAMED))


def _dangerous(kinds, is_dir):
    """Does an excluded entry with these finding kinds stay reported (and repaired)?"""
    for kind in kinds:
        if kind in _DANGEROUS or (is_dir and kind == R.WORLD_WRITABLE):
            return True
    return False


def _principal_name(tag, ident):
    try:
        if tag == aclmod.USER:
            return pwd.getpwuid(ident).pw_name
        return grp.getgrgid(ident).gr_name
    except (KeyError, OverflowError):
        return 'unknown'


def parse_acl_allow(principals):
    """(uids, gids) from ``user:NAME``, ``user:UID``, ``group:NAME``, ``group:GID`` (``u:``/``g:`` too).

    Names must resolve; ids are ASCII digits.  PermsError otherwise.
    """
    uids = set()
    gids = set()
    for item in principals or ():
        text = str(item).strip()
        kind, sep, who = text.partition(':')
        kind = kind.strip().lower()
        who = who.strip()
        if not sep or kind not in ('user', 'u', 'group', 'g') or not who:
            raise PermsError('acl_allow entry %r: expected user:NAME, user:UID, group:NAME or group:GID' % text)
        if kind in ('group', 'g'):
            gids.add(resolve_group(who)[0])
            continue
        try:
            uids.add(pwd.getpwnam(who).pw_uid)
            continue
        except KeyError:
            pass
        if set(who) <= _ASCII_DIGITS and int(who) <= MAX_GID:
            uids.add(int(who))
        else:
            raise PermsError('acl_allow entry %r: no such user; pass an existing user name or an ASCII numeric UID' % text)
    return frozenset(uids), frozenset(gids)


def _open_link_roots(paths):
    """Open the other trees links may point into: [(path, fd, st, mount ID)]; missing ones are skipped."""
    out = []
    notes = []
    for path in paths or ():
        try:
            norm, fd, st = open_root(path)
        except RefusedRoot as exc:
            notes.append('link root not used: %s' % exc)
            continue
        if any(o[0] == norm for o in out):
            os.close(fd)
            continue
        info = M.probe(fd, '')
        out.append((norm, fd, st, info.mnt_id if info is not None else None))
    return out, notes


def probe_root(root, acl_option, fd=None, st=None):
    """ACL support of a root's file system; raises AclUnsupported when required and missing."""
    own = None
    try:
        if fd is None:
            try:
                own = fd = os.open(root, fileio.DIR_FLAGS)
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
    """Number of walking processes: an int >= 1; 0, None or 'auto': the CPUs available, capped (parallel.py)."""
    try:
        return P.resolve_jobs(jobs)
    except P.ParallelError as exc:
        raise PermsError(str(exc))


#: kept for callers of earlier versions
_Splitter = P.Splitter


def run(paths, group, repair=True, dry_run=False, others='none', group_access='write', acl='auto', exclude=(),
        max_samples=20, max_diff=1000, is_member=None, check_file_acls=False, max_depth=W.DEFAULT_MAX_DEPTH,
        jobs='auto', acl_allow=(), exclude_locks=(), link_roots=(), read_paths=()):
    """Audit (repair=False), check (repair=True, dry_run=True) or repair a list of trees.

    ``read_paths``: further trees checked in the same run with ``group_access='read'``
    (the shared role's ``managed`` Python and tool dirs beside its group-writable cache).

    ``group``: name or numeric GID of an existing group (see ``resolve_group``).
    ``is_member``: callable uid -> bool, or a set of uids, deciding whether a
    hardlinked file's owner belongs to the group and which users a named ACL
    entry may name (default: the system's group database, uid 0 never a member).
    ``jobs``: processes walking subtrees in parallel (1: serial; 'auto', the
    default, 0 or None: the CPUs available to this process, capped, and serial
    until the walk has seen enough entries); see ``parallel.py``.
    ``acl_allow``: further principals named ACL entries may name (``user:NAME``,
    ``group:GID``, ...; see ``parse_acl_allow``).  ``exclude``: globs of entries left
    alone, except what an exclusion never hides (setuid/setgid, world-writable
    directories, special files, foreign named ACL entries, links leaving the tree).
    ``exclude_locks``: globs of uv lock files: a match is left alone only when it is a
    regular file of mode 0666.  ``link_roots``: other trees a symlink may point into
    (links between the managed roots) without being ``symlink_outside``.
    ``check_file_acls``: kept for callers; every regular file's access ACL is read
    wherever ACLs are used (named entries do not show in st_mode).
    Raises PermsError before changing anything when a root or the group is refused.
    """
    start = time.time()
    jobs_auto = P.is_auto(jobs)
    jobs = resolve_jobs(jobs)
    gid, _name = resolve_group(group)
    allow_users, allow_groups = parse_acl_allow(acl_allow)
    if isinstance(paths, str):
        paths = [paths]
    if isinstance(read_paths, str):
        read_paths = [read_paths]
    paths, read_paths = list(paths), list(read_paths)
    opened = []
    links = []
    try:
        for path in paths + read_paths:
            opened.append(open_root(path))
        if not opened:
            raise RefusedRoot('no path given: pass the shared tree, e.g. /var/cache/uv')
        for root, fd, st in opened:
            probe_root(root, acl, fd, st)
        if is_member is None:
            is_member = Membership(gid)
        elif not callable(is_member):
            members = frozenset(is_member)
            is_member = members.__contains__
        member = is_member
        links, notes = _open_link_roots(link_roots)
        report = R.Report(max_samples=max_samples, max_diff=max_diff)
        report.notes.extend(notes)

        def runner_for(access):
            policy = Policy(gid, others=others, group_access=access, acl=acl,
                            user_allowed=lambda uid: uid in allow_users or member(uid), groups_allowed=allow_groups)
            runner = _Run(policy, report, repair, dry_run, is_member, check_file_acls, W.compile_excludes(exclude))
            runner.max_depth = max_depth
            runner.jobs = jobs
            runner.jobs_auto = jobs_auto
            runner.link_roots = links
            runner.lock_match = W.compile_excludes(exclude_locks)
            return runner

        runners = {'main': runner_for(group_access)}
        if read_paths:
            runners['read'] = runner_for('read')
        for index, (root, fd, _st) in enumerate(opened):
            runners['main' if index < len(paths) else 'read'].walk_root(root, fd)
    finally:
        for item in opened + links:
            os.close(item[1])
    mode = 'audit' if not repair else ('check' if dry_run else 'repair')
    report.settle()
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
