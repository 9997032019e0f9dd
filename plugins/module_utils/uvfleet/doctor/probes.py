# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the doctor looks at, as the member who runs it: files, locks, names, the mount table.

Small functions the checks share: the first lines of a file (``read_head``, through
``fileio.read_small``), the shared wrapper, flock and who holds uv's lock, an entry of
the cache another member made, user and group names, a file system's type, how long ago.
None of them changes anything.
"""

from __future__ import absolute_import, division, print_function

import errno
import fcntl
import grp
import os
import pwd
import re
import stat

from ..fs import fileio

WRAPPER_MARKER = '# uvfleet.uv.shared wrapper'
ENOTSUPP = 524  # the kernel's internal "not supported", seen from flock on NFS homes (uv#18073)
LOCK_BROKEN = set(e for e in (errno.ENOLCK, ENOTSUPP, getattr(errno, 'EOPNOTSUPP', None),
                              getattr(errno, 'ENOTSUP', None), errno.EINVAL, errno.EBADF, errno.EIO) if e)
LOCK_BUSY = set((errno.EWOULDBLOCK, errno.EAGAIN))
READ_SCAN_ENTRIES = 400


def which(name, path):
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or '.', name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


def uv_error(stderr, code):
    """uv's error in one line: its error/cause lines and the last message, without the TOML excerpt."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    kept = [line for line in lines if re.match(r'(error|cause|caused by)\b', line, re.I)]
    if lines and lines[-1] not in kept:
        kept.append(lines[-1])
    return ' / '.join(kept[:4]) or 'exit status %d' % code


def read_head(path, size, missing=''):
    """The first ``size`` bytes of the regular file path as text (``fileio.read_small``), else ``missing``."""
    try:
        return fileio.read_small(path, size)[1].decode('utf-8', 'replace')
    except OSError:
        return missing


def is_wrapper(path):
    """True when path is a shared wrapper: its second line carries the role's marker."""
    # the member's PATH may reach the wrapper through a symlink: resolved as that member (never root)
    return WRAPPER_MARKER in '\n'.join(read_head(os.path.realpath(path), 512).splitlines()[:2])


def same_path(a, b):
    if not a or not b:
        return False
    return os.path.normpath(a) == os.path.normpath(b) or os.path.realpath(a) == os.path.realpath(b)


def nearest_existing(path):
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def try_flock(fd, operation=fcntl.LOCK_SH | fcntl.LOCK_NB):
    """None when the lock was taken (and released), else the errno."""
    try:
        fcntl.flock(fd, operation)
    except OSError as exc:
        return exc.errno
    fcntl.flock(fd, fcntl.LOCK_UN)
    return None


def lock_holder(st):
    """'pid N (command, user U)' of the process holding a lock on the inode of st, from /proc/locks."""
    text = read_head('/proc/locks', 1 << 20)
    inode = str(st.st_ino)
    exact = '%02x:%02x:%s' % (os.major(st.st_dev), os.minor(st.st_dev), inode)
    candidates = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6 or '->' in fields[1] or fields[3] != 'WRITE':
            continue
        where = fields[5]
        if where == exact:
            candidates.insert(0, fields[4])
        elif where.rsplit(':', 1)[-1] == inode:
            candidates.append(fields[4])
    if not candidates:
        return None
    pid = candidates[0]
    command = read_head('/proc/%s/cmdline' % pid, 4096).replace('\0', ' ').strip()
    try:
        owner = user_name(os.stat('/proc/%s' % pid).st_uid)
    except OSError:
        owner = '?'
    if not command:
        return 'pid %s' % pid
    return 'pid %s (%s, user %s)' % (pid, command[:80], owner)


def find_foreign(root, uid):
    """(path, stat, error or None) of the first entry another user made, within a bounded scan; or None."""
    queue = [root]
    seen = 0
    fallback = None
    while queue and seen < READ_SCAN_ENTRIES:
        directory = queue.pop(0)
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            st = _lstat(directory)
            if st is not None and st.st_uid != uid:
                return directory, st, exc
            continue
        for entry in sorted(entries, key=lambda e: e.name)[:READ_SCAN_ENTRIES]:
            seen += 1
            if entry.name.startswith('.tmp') or entry.name.endswith('.lock'):
                continue
            st = _lstat(entry.path)
            if st is None or stat.S_ISLNK(st.st_mode):
                continue
            if stat.S_ISDIR(st.st_mode):
                queue.append(entry.path)
                if st.st_uid != uid and not os.access(entry.path, os.R_OK | os.X_OK):
                    return entry.path, st, OSError(errno.EACCES, os.strerror(errno.EACCES))
            elif stat.S_ISREG(st.st_mode) and st.st_uid != uid:
                error = _read_one(entry.path)
                if st.st_uid != 0 or error is not None:
                    return entry.path, st, error
                fallback = fallback or (entry.path, st, None)
    return fallback


def _lstat(path):
    try:
        return os.lstat(path)
    except OSError:
        return None


def _read_one(path):
    try:
        fd = os.open(path, fileio.FILE_FLAGS)
    except OSError as exc:
        return exc
    try:
        os.read(fd, 1)
    except OSError as exc:
        return exc
    finally:
        os.close(fd)
    return None


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return 'uid %d' % uid


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return 'gid %d' % gid


def describe_owner(path):
    try:
        st = os.lstat(path)
    except OSError as exc:
        return 'not reachable (%s)' % exc.strerror
    return '%s:%s %s' % (user_name(st.st_uid), group_name(st.st_gid), mode_text(st.st_mode))


def mode_text(mode):
    return '%04o' % stat.S_IMODE(mode)


def fs_type(path):
    """The file system type of path, from /proc/self/mountinfo (longest mount point prefix)."""
    path = os.path.realpath(path)
    best, kind = '', 'unknown file system'
    for line in read_head('/proc/self/mountinfo', 1 << 20).splitlines():
        left, _sep, right = line.partition(' - ')
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        point = fields[4].replace('\\040', ' ')
        if (path == point or path.startswith(point.rstrip('/') + '/')) and len(point) >= len(best):
            best, kind = point, right.split()[0]
    return kind


def ago(timestamp, now):
    if timestamp is None:
        return 'never'
    seconds = max(0, int(now - timestamp))
    for unit, size in (('d', 86400), ('h', 3600), ('min', 60)):
        if seconds >= size:
            return '%d %s ago' % (seconds // size, unit)
    return '%d s ago' % seconds
