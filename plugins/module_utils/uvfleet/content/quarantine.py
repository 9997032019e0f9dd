# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Repair of the content check: move bad ``archive-v0`` entries out of the cache.

An entry is never edited: it is renamed (``renameat`` from the verified fd of
``archive-v0`` to the fd of a fresh directory in the quarantine) as a whole,
after checking that the name still is the directory the check scanned (same
st_dev, st_ino).  Beside it goes ``note.json``: when, why, the findings.

The quarantine directory must be outside the cache (``uv cache prune`` deletes
whatever is not a bucket) and on the same file system (a rename does not cross
file systems; copying would be editing).  It is created root-only (0700) and
refused if it is a symlink, not owned by root, or open to group or others.

uv recovers by itself: the ``wheels-v*``/``sdists-v*``/``environments-v*``
pointer to a moved entry dangles, and the next uv command that needs the
distribution downloads (or builds) it again and rewrites the pointer.

While it moves entries the repair holds ``<cache>/.lock`` exclusively, the lock
every uv command holds shared (as ``uv cache clean`` does): no uv command is
installing from an entry while it moves away.
"""

from __future__ import absolute_import, division, print_function

import errno
import fcntl
import json
import os
import stat
import time

from . import check as content
from . import record
from ..fs import fileio
from ..fs import walk
from ..perms.errors import RefusedRoot

DEFAULT_LOCK_TIMEOUT = 60


class QuarantineError(Exception):
    """The quarantine cannot run safely (explains how to fix it)."""


def default_dir(cache):
    """The default quarantine directory: beside the cache, ``<cache>.quarantine``."""
    return os.path.normpath(cache) + '.quarantine'


def open_quarantine(qdir, cache, cache_st, create=True):
    """Open (create) the quarantine dir; check it is root-only, outside the cache, same fs; return its fd.

    It is opened component by component from ``/`` without following a symlink,
    and every ancestor must be root's and not writable by anyone else (the same
    rule as for the root-held record, ``record.dir_check``).
    """
    qdir = os.path.normpath(os.path.abspath(qdir))
    real_cache = os.path.realpath(cache)
    real_q = os.path.realpath(qdir)
    if real_q == real_cache or real_q.startswith(real_cache.rstrip('/') + '/'):
        raise QuarantineError('the quarantine directory %s is inside the cache %s: uv cache prune would delete it; '
                              'choose a directory beside the cache' % (qdir, cache))
    try:
        qfd, st = walk.open_path(qdir, record.dir_check(qdir, cache_st), create=0o700 if create else None)
    except (record.RecordError, RefusedRoot) as exc:
        raise QuarantineError('the quarantine directory %s is refused: %s' % (qdir, exc))
    except OSError as exc:
        raise QuarantineError('cannot open the quarantine directory %s: %s (a symlink is refused)'
                              % (qdir, exc.strerror))
    problem = None
    if st.st_uid != os.geteuid():
        problem = 'belongs to uid %d, not to uid %d' % (st.st_uid, os.geteuid())
    elif stat.S_IMODE(st.st_mode) & 0o077:
        problem = 'has mode %04o: group and others must have no access' % stat.S_IMODE(st.st_mode)
    elif st.st_dev != cache_st.st_dev:
        problem = 'is on another file system than the cache (a move cannot cross file systems)'
    if problem:
        os.close(qfd)
        raise QuarantineError('the quarantine directory %s %s; fix it (root-owned, mode 0700, beside the cache) '
                              'or choose another one' % (qdir, problem))
    return qfd


def lock_cache(root_fd, timeout):
    """Take ``<cache>/.lock`` exclusively (wait up to ``timeout`` s); return its fd, or None if there is none."""
    try:
        fd = os.open('.lock', walk.FILE_FLAGS, dir_fd=root_fd)
    except OSError as exc:
        if walk.vanished_error(exc):
            return None
        raise QuarantineError('cannot open the cache lock .lock: %s' % exc.strerror)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise QuarantineError('the cache lock .lock is not a regular file; remove it (uv recreates it)')
    deadline = time.time() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.time() >= deadline:
                os.close(fd)
                raise QuarantineError('the cache is busy: a uv command holds its lock (.lock) for more than %d s; '
                                      'run the repair again later' % timeout)
        time.sleep(0.2)


def _note(cache, bad, now):
    return {
        'entry': bad['entry'],
        'from': os.path.join(cache, content.ARCHIVE, bad['entry']),
        'kind': bad['kind'],
        'quarantined_at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now)),
        'reason': ('content check: a name in archive-v0 that is not a directory (uv makes only directories there)'
                   if bad['kind'] == 'other' else
                   'content check: the entry differs from its RECORD, or from what the check recorded when it '
                   'first saw it'),
        'findings': bad['findings'],
        'samples': bad['samples'],
        'undo': 'nothing to undo: uv fetches the distribution again when it needs it',
    }


def quarantine(cache, bad_entries, qdir=None, dry_run=False, lock_timeout=DEFAULT_LOCK_TIMEOUT):
    """Move the bad entries of a check result out of the cache; return a list of {entry, status, to}."""
    qdir = os.path.normpath(os.path.abspath(qdir or default_dir(cache)))
    out = []
    if not bad_entries:
        return out
    root_fd, root_st, archive_fd = content.open_cache(cache)
    if archive_fd is None:
        if root_fd is not None:
            os.close(root_fd)
        return [{'entry': b['entry'], 'status': 'vanished', 'to': ''} for b in bad_entries]
    qfd = lock_fd = None
    try:
        if dry_run:
            return [{'entry': b['entry'], 'status': 'would_quarantine', 'to': os.path.join(qdir, b['entry'])}
                    for b in bad_entries]
        qfd = open_quarantine(qdir, cache, root_st)
        lock_fd = lock_cache(root_fd, lock_timeout)
        for bad in bad_entries:
            out.append(_move(cache, bad, archive_fd, qfd, qdir))
    finally:
        for fd in (lock_fd, qfd, archive_fd, root_fd):
            if fd is not None:
                os.close(fd)
    return out


def _move(cache, bad, archive_fd, qfd, qdir):
    name = bad['entry']
    try:
        st = os.stat(name, dir_fd=archive_fd, follow_symlinks=False)
    except OSError as exc:
        return {'entry': name, 'status': 'vanished' if walk.vanished_error(exc) else 'error', 'to': '',
                'msg': exc.strerror}
    # an entry is a directory; a name in archive-v0 that is not one (kind 'other') is moved as it is
    if (bad.get('kind') != 'other' and not stat.S_ISDIR(st.st_mode)) \
            or (st.st_dev, st.st_ino) != (bad['dev'], bad['ino']):
        return {'entry': name, 'status': 'changed', 'to': '', 'msg': 'replaced since the check; check again'}
    now = time.time()
    slot = '%s-%s' % (time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now)), name)
    try:
        os.mkdir(slot, 0o700, dir_fd=qfd)
    except OSError as exc:
        return {'entry': name, 'status': 'error', 'to': '', 'msg': 'cannot create %s/%s: %s'
                % (qdir, slot, exc.strerror)}
    sfd = os.open(slot, walk.DIR_FLAGS, dir_fd=qfd)
    try:
        nfd = os.open('note.json', fileio.NEW_FLAGS, 0o600, dir_fd=sfd)
        with os.fdopen(nfd, 'w') as handle:
            json.dump(_note(cache, bad, now), handle, indent=2, sort_keys=True)
            handle.write('\n')
        os.rename(name, 'entry', src_dir_fd=archive_fd, dst_dir_fd=sfd)
        moved = os.stat('entry', dir_fd=sfd, follow_symlinks=False)
    except OSError as exc:
        return {'entry': name, 'status': 'error', 'to': '', 'msg': exc.strerror}
    finally:
        os.close(sfd)
    result = {'entry': name, 'status': 'quarantined', 'to': os.path.join(qdir, slot, 'entry')}
    if (moved.st_dev, moved.st_ino) != (bad['dev'], bad['ino']):
        result['msg'] = 'the name was replaced while it was moved: what was moved is another archive-v0 entry'
    return result
