# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's checks of the cache, as the member: write, uv's lock, read what others made, the group's access.

``cache_write``: a temporary directory with two files is made in the cache and removed
again (``probe_cache``, relative to fds: another member may swap the new directory for a
symlink), which also shows the modes and group the member's entries get, whether flock
works and whether the file system clones; ``cache_lock``: uv's shared lock on
``<cache>/.lock`` (busy is not broken); ``cache_read``: an entry another member made;
``group_usable``: what this member creates is usable by the group (default ACL or umask).
"""

from __future__ import absolute_import, division, print_function

import errno
import fcntl
import os
import re
import stat
import time

from ..fs import acl
from ..fs import fileio
from ..fs import reflink
from .probes import (
    LOCK_BUSY, describe_owner, find_foreign, fs_type, group_name, lock_holder, mode_text, nearest_existing, same_path,
    try_flock, user_name,
)
from .report import OK, PROBLEM, WARNING


def check_cache_access(doc):
    """cache_write, cache_lock, cache_read: what uv does in the cache, as this user."""
    cache = doc.cache
    if not cache:
        return
    is_shared = same_path(cache, doc.shared('cache_dir') or '')
    try:
        st = os.stat(cache)
    except OSError as exc:
        if exc.errno == errno.ENOENT and not is_shared:
            parent = nearest_existing(cache)
            if os.access(parent, os.W_OK | os.X_OK):
                doc.add('cache_write', OK, '%s does not exist yet; uv will create it (%s is writable)'
                        % (cache, parent))
            else:
                doc.add('cache_write', PROBLEM, 'uv cannot create its cache %s: %s is not writable for you'
                        % (cache, parent), cause='the cache dir is missing and its parent is closed',
                        fix='point UV_CACHE_DIR at a directory you can write, or unset it')
            return
        cache_error(doc, exc)
        return
    if not stat.S_ISDIR(st.st_mode):
        doc.add('cache_write', PROBLEM, 'the cache %s is not a directory' % cache,
                cause='uv needs a directory there', fix='remove it, or point uv at another cache')
        return
    probe_cache(doc, cache)
    if doc.cache_reachable:
        check_lock(doc, cache)
        if is_shared:
            check_read(doc, cache)
        else:
            doc.add('cache_read', OK, 'not needed: %s is your own cache' % cache)


def cache_error(doc, exc, what=None):
    what = what or 'uv cannot use the cache %s (%s)' % (doc.cache, exc.strerror)
    if exc.errno == errno.EROFS:
        cause, fix = ('the file system is read-only; uv needs to write to its cache (read-only caches are '
                      'not supported, uv#15934)',
                      'use a writable cache: `export UV_CACHE_DIR=$HOME/.cache/uv` for now, and tell the admin')
    elif exc.errno in (errno.ENOSPC, getattr(errno, 'EDQUOT', errno.ENOSPC)):
        cause, fix = 'the file system is full or your quota is used up', "free space, or tell the node's admin"
    else:
        cause = doc.access_cause('you may not write in %s' % doc.cache)
        fix = doc.access_fix("ask the node's admin to run `uvfleet repair` (it gives the group its access back)")
    doc.add('cache_write', PROBLEM, what, cause=cause, fix=fix, errno=exc.errno)
    for name in ('cache_lock', 'cache_read'):
        doc.add(name, PROBLEM, 'not checked: the cache is not usable for you (see cache_write)',
                cause=cause, fix=fix, blocked_by='cache_write')


def probe_cache(doc, cache):
    """Create a temporary directory with two files in the cache as uv would, look at them, remove them.

    Relative to fds (the cache, then the new directory opened with O_NOFOLLOW): other
    members write the cache and may swap the new directory for a symlink, and whoever
    runs the doctor (root too) never writes through it.
    """
    umask, umask_from = uv_umask(doc)
    name = '.tmp-uvfleet-doctor-%d-%s' % (os.getpid(), os.urandom(4).hex())
    old = os.umask(umask)
    fds = []       # cache fd, then the new directory's fd
    made = []      # (dir fd index, name, is a directory), removed last first
    try:
        fds.append(os.open(cache, fileio.PATH_DIR_FLAGS))  # the member's own path to their cache
        os.mkdir(name, 0o777, dir_fd=fds[0])
        made.append((0, name, True))
        fds.append(os.open(name, fileio.DIR_FLAGS, dir_fd=fds[0]))
        dir_st = os.fstat(fds[1])
        # read and write: FICLONE needs a source open for reading
        fd = os.open('file', fileio.NEW_RW_FLAGS, 0o666, dir_fd=fds[1])
        made.append((1, 'file', False))
        try:
            os.write(fd, b'uvfleet doctor probe\n' * 200)
            file_st = os.fstat(fd)
            doc.probe.update(dir_mode=dir_st.st_mode, dir_gid=dir_st.st_gid, file_mode=file_st.st_mode,
                             file_gid=file_st.st_gid, dev=file_st.st_dev, umask=umask, umask_from=umask_from)
            doc.probe['flock_errno'] = try_flock(fd)
            doc.probe['reflink'] = reflink.clone_into(fd, 'clone', fds[1])
            if doc.probe['reflink'] is not None:
                made.append((1, 'clone', False))
        finally:
            os.close(fd)
    except OSError as exc:
        cache_error(doc, exc, 'you cannot create an entry in the cache %s (%s)' % (cache, exc.strerror))
        return
    finally:
        os.umask(old)
        for index, entry, is_dir in reversed(made):
            try:
                (os.rmdir if is_dir else os.unlink)(entry, dir_fd=fds[index])
            except OSError:
                pass
        for fd in fds:
            os.close(fd)
    doc.cache_reachable = True
    doc.add('cache_write', OK, 'you can create and remove entries in %s' % cache)


def uv_umask(doc):
    """The umask uv runs with: the wrapper's (fallback), else this process's."""
    found = re.search(r'^\s*umask\s+([0-7]{1,4})\s*$', doc.wrapper_text or '', re.M)
    if doc.uv_is_wrapper and found:
        return int(found.group(1), 8), 'the wrapper %s' % doc.uv
    mask = os.umask(0o022)
    os.umask(mask)
    return mask, 'your own'


def check_lock(doc, cache):
    path = os.path.join(cache, '.lock')
    broken = doc.probe.get('flock_errno')
    if broken:
        lock_broken(doc, cache, broken)
        return
    try:
        fd = os.open(path, fileio.LOCK_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            doc.add('cache_lock', OK, 'no %s yet: uv creates it, and flock works on this file system' % path)
        elif exc.errno == errno.ELOOP:
            doc.add('cache_lock', PROBLEM, '%s is a symlink' % path,
                    cause='uv opens its lock through it (a member may have planted it)',
                    fix="ask the node's admin to remove %s (uv recreates it)" % path)
        else:
            owner = describe_owner(path)
            doc.add('cache_lock', PROBLEM, 'you cannot open uv\'s lock %s for writing (%s)' % (path, exc.strerror),
                    cause=doc.access_cause('every uv command opens it for writing; it is %s' % owner),
                    fix=doc.access_fix("ask the node's admin to make it group-writable (`chmod g+w %s`)" % path))
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            doc.add('cache_lock', PROBLEM, '%s is not a regular file' % path,
                    cause='uv cannot lock it', fix="ask the node's admin to remove %s (uv recreates it)" % path)
            return
        start = time.monotonic()
        while True:
            code = try_flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            waited = time.monotonic() - start
            if code is None:
                doc.add('cache_lock', OK, "uv's shared lock on %s: taken and released" % path)
                return
            if code not in LOCK_BUSY:
                lock_broken(doc, cache, code)
                return
            if waited >= doc.lock_wait:
                holder = lock_holder(st)
                doc.add('cache_lock', WARNING, 'the cache lock %s is busy (not broken): %s holds it exclusively; '
                        'waited %.1f s' % (path, holder or 'another process', waited),
                        cause='a `uv cache clean` or `uv cache prune` is running; every uv command waits for it '
                        '(up to UV_LOCK_TIMEOUT, 300 s by default)',
                        fix='wait until it finishes, then run uv again (uv also waits on its own)',
                        busy=True, holder=holder, waited=round(waited, 2))
                return
            time.sleep(min(0.05, max(0.0, doc.lock_wait - waited)))
    finally:
        os.close(fd)


def lock_broken(doc, cache, code):
    fstype = fs_type(cache)
    doc.add('cache_lock', PROBLEM, 'flock does not work on the file system of %s (%s, os error %d): broken, '
            'not busy' % (cache, fstype, code),
            cause='uv takes a flock on %s/.lock for every command, so every uv command fails here '
            '(network homes often refuse flock: os error 524, uv#18073)' % cache,
            fix='use a cache on a local file system (`export UV_CACHE_DIR=/var/tmp/$USER-uv-cache`) and tell '
            "the node's admin that flock fails on %s (%s)" % (cache, fstype),
            broken=True, errno=code, fs_type=fstype)


def check_read(doc, cache):
    found = find_foreign(cache, doc.uid)
    if found is None:
        doc.add('cache_read', OK, 'no entry of another member in %s to read (nothing shared yet)' % cache)
        return
    path, st, error = found
    owner = user_name(st.st_uid)
    if error is None:
        doc.add('cache_read', OK, 'you can read %s, which %s made' % (path, owner), path=path, owner=owner)
        return
    doc.add('cache_read', PROBLEM, 'you cannot read %s, which %s made (mode %04o): %s'
            % (path, owner, stat.S_IMODE(st.st_mode), error.strerror),
            cause=doc.access_cause('uv fails with `Permission denied` when it reuses this entry'),
            fix=doc.access_fix("ask the node's admin to run `uvfleet repair` (it gives the group read and "
                               "write on everything in the cache)"),
            path=path, owner=owner)


def check_group_usable(doc):
    if not doc.cache_reachable:
        return
    shared = doc.shared('cache_dir')
    if not shared or not same_path(doc.cache, shared):
        doc.add('group_usable', OK, 'not needed: %s is your own cache' % doc.cache)
        return
    probe = doc.probe
    try:
        has_acl = bool(acl.read(doc.cache, acl.DEFAULT))
    except OSError:
        has_acl = False
    umask_text = '%04o' % probe['umask']
    bad = []
    if probe['file_mode'] & 0o060 != 0o060:
        bad.append('files come out %s (group cannot %s)' % (
            mode_text(probe['file_mode']), 'read or write' if not probe['file_mode'] & 0o040 else 'write'))
    if probe['dir_mode'] & 0o070 != 0o070:
        bad.append('directories come out %s' % mode_text(probe['dir_mode']))
    if doc.gid is not None and (probe['file_gid'] != doc.gid or probe['dir_gid'] != doc.gid):
        bad.append('they belong to group %s, not %s' % (group_name(probe['file_gid']), doc.config.get('group')))
    how = ('the default ACL of %s gives the group rw whatever your umask, %s' % (doc.cache, umask_text)
           if has_acl else 'no default ACL; %s umask %s' % (probe['umask_from'], umask_text))
    if not bad:
        doc.add('group_usable', OK, 'what you create in %s is usable by the group (%s)' % (doc.cache, how),
                acl=has_acl, umask=umask_text)
        return
    if has_acl or doc.gid is not None and probe['dir_gid'] != doc.gid:
        fix = "ask the node's admin to run `uvfleet repair` (it restores the default ACL and the setgid bit)"
    elif not doc.uv_is_wrapper:
        fix = 'use the shared wrapper (see the uv check), or run `umask 0007` before uv'
    else:
        fix = "ask the node's admin to rerun the uvfleet.uv.shared role (the wrapper's umask is %s)" % umask_text
    doc.add('group_usable', WARNING, 'what you create in %s will not be usable by the group: %s'
            % (doc.cache, '; '.join(bad)),
            cause='%s: other members get `Permission denied` on your entries' % how, fix=fix,
            acl=has_acl, umask=umask_text)
