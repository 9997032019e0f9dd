# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One entry at a time: read its state, get the verdict on it, record the findings, apply the repair.

``Entries`` is what the engine does with each regular file and directory the walk
yields (``entry``), each symlink (``symlink``: inside, dangling or outside, decided hop
by hop by ``fs/links.py``) and each entry it only reports (``simple``).  The cost per
entry stays small on a tree of millions: the walk itself counts files whose state was
found compliant before (``ok_modes``, ``ok_acl``), a directory state found compliant is
recognised from its raw ACL bytes (``ok_dirs``), the verdict on a state is made once
(``verdicts``), ACLs are decoded only for a new state or a sample, and the texts of
samples and diff lines are built only while there is room for them.
"""

from __future__ import absolute_import, division, print_function

import errno
import os

from ..fs import acl as aclmod
from ..fs import fileio
from ..fs import links
from .kinds import (
    COUNTED, ERROR, FIXED, FOUND, FOUND_REMAINING, HARDLINK_FOREIGN, INFO, KIND_CLASS, REMAINING, SWAPPED,
    SYMLINK_DANGLING, SYMLINK_OUTSIDE, UNSAFE, VANISHED, WOULD_FIX,
)
from .repair import Fixer
from .verdict import Judge, dangerous, decode

#: compliant states remembered (bounds memory on trees with many distinct ACLs)
MAX_STATES = 4096
_PROC_FD = os.path.isdir('/proc/self/fd')


class Entries(object):
    """Checks (and repairs) the entries of a run, one root after the other (``start_root``)."""

    def __init__(self, options, policy, report, is_member):
        self.policy, self.gid, self.report, self.is_member = policy, policy.gid, report, is_member
        #: repair (False: audit), act (False: audit, or check mode: say what a repair would do)
        self.repair, self.act = options.repair, options.repair and not options.dry_run
        self.judge, self.fixer = Judge(policy), Fixer(policy, is_member)
        #: (is_dir, st_mode, group ok, raw access ACL, raw default ACL, closed single-link file, directory of a
        #: root with ACLs) -> verdict: one run may walk roots with and without ACLs (a directory of the second
        #: needs no default ACL), and roots others can or cannot search
        self.verdicts = {}
        #: (st_mode, raw access ACL, raw default ACL, root with ACLs) of directories found compliant (st_gid == gid)
        self.ok_dirs = set()
        #: the root being walked (start_root), whether its entries have ACLs, and its link resolver
        self.root, self.use_acl, self.resolver = '', False, None
        #: others cannot search the root: uv's others-x on files below grants nothing
        self.root_closed = False
        #: the walker's sets of compliant file states (Walker.ok_modes, Walker.ok_acl; None without ACLs),
        #: filled here from the verdicts and consulted by the walk
        self.ok_modes = set()
        self.ok_acl = None

    def start_root(self, root, use_acl, root_closed, resolver, ok_modes, ok_acl):
        """The root walked from now on, what is known about it, and the walker's sets to fill."""
        self.root, self.use_acl, self.root_closed, self.resolver = root, use_acl, root_closed, resolver
        self.ok_modes, self.ok_acl = ok_modes, ok_acl

    def path(self, rel):
        return self.root + '/' + rel if rel else self.root

    def simple(self, kind, rel, current='', expected='', status=None):
        """Record a single report-only/unsafe/info finding for an entry."""
        rep = self.report
        if status is None:
            status = {UNSAFE: 'skipped', INFO: 'ignored'}.get(KIND_CLASS[kind], 'reported')
        rep.finding(kind, self.path(rel), current, expected, status)
        rep.entries_with_findings += 1
        if kind in COUNTED:
            rep.count(rep.remaining, kind)
        if KIND_CLASS[kind] == UNSAFE:
            rep.count(rep.skipped_unsafe, kind)

    # -- a regular file or a directory ------------------------------------------------

    def entry(self, parent_fd, name, rel, st, fd, is_dir, excluded=False, acl_read=None):
        """Check (and repair) a regular file or a directory: read its state, get the verdict, ``found``.

        ``excluded``: the entry matched an exclusion (or lies below an excluded
        directory): it is left alone unless it is dangerous (``verdict.dangerous``).
        ``acl_read``: ``(raw access ACL,)`` of a regular file as the walk read it
        (``Walker.ok_acl``); None: read it here.  The common case of each step is inline
        (every entry of a tree comes through here), the rare one a method of its own.
        """
        use_acl = self.use_acl
        if not is_dir and not use_acl and st.st_gid == self.gid and not self.policy.file_mode(st.st_mode)[1]:
            self.ok_modes.add(st.st_mode)  # the walk counts the next files of this mode itself
            if excluded:
                self.report.excluded += 1
            return
        # the state: mode, group and the raw ACLs, read once and decoded only for a new state or a sample
        raw_access = raw_default = None
        if use_acl:
            if acl_read is not None:
                raw_access = acl_read[0]
            else:
                try:
                    if is_dir:
                        raw_access, raw_default = aclmod.read_raw(fd, aclmod.ACCESS), aclmod.read_raw(fd, aclmod.DEFAULT)
                    else:
                        # every file's access ACL: a named entry for an outsider shows nowhere in st_mode
                        raw_access = self.read_file_acl_raw(parent_fd, name)
                except OSError as exc:
                    self.unreadable(rel, is_dir, exc)
                    return
        ok_key = None
        if is_dir and st.st_gid == self.gid:
            ok_key = (st.st_mode, raw_access, raw_default, use_acl)
            if ok_key in self.ok_dirs:
                if excluded:
                    self.report.excluded += 1
                return
        # the verdict, made once per state: a file's on others' x depends on its link count and the root
        # (policy.others_x_grants_nothing), a directory's on its root's ACL support
        key = (is_dir, st.st_mode, st.st_gid == self.gid, raw_access, raw_default,
               not is_dir and st.st_nlink == 1 and self.root_closed, is_dir and use_acl)
        verdict = self.verdicts.get(key)
        acls = None
        if verdict is None:
            verdict, acls = self.judge_state(key, st, is_dir, raw_access, raw_default, rel)
            if verdict is None:
                return
        kinds = verdict[0]
        if not kinds and st.st_gid == self.gid:
            if is_dir:
                if ok_key is not None and len(self.ok_dirs) < MAX_STATES:
                    self.ok_dirs.add(ok_key)
            elif self.ok_acl is not None and len(self.ok_acl) < MAX_STATES:
                self.ok_acl.add((st.st_mode, raw_access, st.st_nlink == 1))
        if not kinds or (excluded and not dangerous(kinds, is_dir)):
            if excluded:
                self.report.excluded += 1
            return
        self.found(parent_fd, name, rel, st, fd, is_dir, verdict, raw_access, raw_default, acls)

    def unreadable(self, rel, is_dir, exc):
        """Record an entry whose ACLs could not be read: gone, a symlink swapped in, or an error."""
        if fileio.vanished_error(exc):
            self.simple(VANISHED, rel)
        elif exc.errno == errno.ELOOP or (not is_dir and aclmod.is_unsupported(exc)):
            # a symlink swapped in for the file: no ACL xattrs on a symlink
            self.simple(SWAPPED, rel, 'became a symlink during the walk', 'left alone')
        else:
            self.simple(ERROR, rel, 'reading ACL: %s' % exc.strerror, '')

    @staticmethod
    def read_file_acl_raw(parent_fd, name):
        """Undecoded access ACL of a non-directory without following a symlink (one lgetxattr)."""
        if _PROC_FD:
            return aclmod.read_raw('/proc/self/fd/%d/%s' % (parent_fd, name), aclmod.ACCESS, follow_symlinks=False)
        tmp = os.open(name, fileio.FILE_FLAGS, dir_fd=parent_fd)
        try:
            return aclmod.read_raw(tmp, aclmod.ACCESS)
        finally:
            os.close(tmp)

    def judge_state(self, key, st, is_dir, raw_access, raw_default, rel):
        """The verdict on a new state (remembered under key) and its decoded ACLs; (None, None): a bad ACL (recorded)."""
        try:
            acls = decode(raw_access, raw_default)
        except aclmod.AclError as exc:
            self.simple(ERROR, rel, 'unreadable ACL: %s' % exc, '')
            return None, None
        verdict = self.judge.evaluate(st, is_dir, acls[0], acls[1], self.root_closed, self.use_acl)
        if not verdict[0]:
            # users a compliant ACL names: an incremental run checks they still may be named (incremental.py)
            self.report.named_uids.update(e[2] for acl in acls if acl for e in acl if e[0] == aclmod.USER)
        if len(self.verdicts) < MAX_STATES:
            self.verdicts[key] = verdict
        return verdict, acls

    def found(self, parent_fd, name, rel, st, fd, is_dir, verdict, raw_access, raw_default, acls):
        """An entry with findings: record them (counted, sampled while there is room), then apply the repair.

        A finding that is counted and not sampled costs dict updates: its path and texts
        are built only for a sample or a diff line (``acls``: the decoded ACLs, or None).
        A hardlinked file of someone outside the group is never changed; in check mode
        the repair is only described.
        """
        rep = self.report
        rep.entries_with_findings += 1
        kinds = verdict[0]
        sampled = rep.wants_any_sample(kinds)
        want_diff = self.repair and len(rep.diff_before) < rep.max_diff
        if (sampled or want_diff) and acls is None:
            acls = decode(raw_access, raw_default)  # decoded fine before: same bytes
        path = None
        if sampled:
            path = self.sample(rel, st, is_dir, verdict, acls)
        elif not self.repair and (is_dir or st.st_nlink == 1):
            # an audit's finding that is neither sampled nor a hardlink: found and remaining, one tally
            rep.count_kinds(FOUND_REMAINING, kinds)
            return
        else:
            rep.count_kinds(FOUND, kinds)
        # apply
        unsafe = detail = before = None
        if not is_dir and st.st_nlink > 1 and not self.is_member(st.st_uid):
            unsafe = HARDLINK_FOREIGN
            detail = 'nlink %d, owner uid %d is not a member of group %d' % (st.st_nlink, st.st_uid, self.gid)
        elif self.act:
            if want_diff:
                before = self.judge.state_text(st.st_mode, st.st_gid, acls[1], is_dir, self.use_acl)
            unsafe, detail = self.fixer.fix(parent_fd, name, st, fd, is_dir, verdict)
        if unsafe is not None:
            self.left_alone(rel, kinds, path, unsafe, detail)
            return
        if not self.repair:
            rep.count_kinds(REMAINING, kinds)
            return
        if self.act:
            tables, status = FIXED, 'fixed'
        else:
            # check mode: what a repair would do; nothing is changed, all remains
            tables, status = WOULD_FIX, 'would fix'
            rep.count_kinds(REMAINING, kinds)
            if want_diff:
                before = self.judge.state_text(st.st_mode, st.st_gid, acls[1], is_dir, self.use_acl)
        rep.count_kinds(tables, kinds)
        if path is not None:
            for kind in kinds:
                rep.set_status(kind, path, status)
        rep.entries_changed += 1
        if want_diff:
            rep.diff(path or self.path(rel), before,
                     self.judge.state_text(verdict[1], self.gid, verdict[3] or acls[1], is_dir, self.use_acl))
        else:
            rep.diff_omitted += 1

    def sample(self, rel, st, is_dir, verdict, acls):
        """Keep the findings of an entry as samples (their texts) while there is room; return its path."""
        rep = self.report
        path = self.path(rel)
        for kind in verdict[0]:
            if rep.wants_sample(kind):
                current, expected = self.judge.describe(kind, st, is_dir, verdict, acls[0], acls[1])
                rep.finding(kind, path, current, expected)
            else:
                rep.finding(kind, path)
        return path

    def left_alone(self, rel, kinds, path, unsafe, detail):
        """Record an entry the repair left alone: vanished, swapped, a foreign hardlink, or a failed change."""
        rep = self.report
        path = path or self.path(rel)
        if unsafe == VANISHED:
            self.simple(VANISHED, rel, detail, '')
            for kind in kinds:
                rep.set_status(kind, path, 'vanished')
            return
        status = 'skipped' if unsafe != ERROR else 'failed'
        rep.finding(unsafe, path, detail, 'left alone', status)
        for kind in kinds:
            rep.set_status(kind, path, status)
        rep.count_kinds(REMAINING, kinds)
        rep.count(rep.remaining, unsafe)
        if KIND_CLASS[unsafe] == UNSAFE:
            rep.count(rep.skipped_unsafe, unsafe)

    # -- a symlink -------------------------------------------------------------------------

    def symlink(self, parent_fd, name, rel, excluded=False):
        """Report a symlink whose target leaves the root (or cannot be resolved) or dangles; never changed.

        Decided hop by hop from the walk's fds (``links.Resolver``): no path is
        resolved by the kernel as root, the cost per link is bounded.
        """
        try:
            target = os.readlink(name, dir_fd=parent_fd)
        except OSError as exc:
            if fileio.vanished_error(exc) or exc.errno == errno.EINVAL:
                self.simple(VANISHED, rel)
            else:
                self.simple(ERROR, rel, 'readlink: %s' % exc.strerror)
            return
        verdict, detail = self.resolver.resolve(self.root, parent_fd, rel, target)
        shown = target if len(target) <= 200 else target[:200] + '...'
        if verdict == links.INSIDE or (verdict == links.DANGLING and excluded):
            if excluded:
                self.report.excluded += 1
        elif verdict == links.DANGLING:
            self.simple(SYMLINK_DANGLING, rel, '-> %s (%s)' % (shown, detail), 'an existing target')
        else:
            self.simple(SYMLINK_OUTSIDE, rel, '-> %s (%s)' % (shown, detail), 'a target inside %s' % self.root)
