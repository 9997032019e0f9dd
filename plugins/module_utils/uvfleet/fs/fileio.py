# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening files where members write: the open flags, and the one small-file reader and writer.

Root runs this library over trees members can write, and reads and writes small files
beside them (the node configuration, the metrics textfile).  Every ``os.open`` of the
library takes its flags from here, so that what "never through a symlink, never
blocking on a fifo, never a controlling tty" means is written down once:

* ``DIR_FLAGS``: a directory entered by name (never a symlink in its place);
* ``PATH_DIR_FLAGS``: a directory by a path its caller means to resolve with the
  kernel, symlinks included (the process's own working directory; a member's own
  cache path, resolved as that member);
* ``FILE_FLAGS``: a regular file read, or changed through its fd (fchown, fchmod,
  fsetxattr): no symlink followed, no blocking open of a fifo swapped in, no tty;
* ``LOCK_FLAGS``: a lock file opened for writing, as uv opens its own;
* ``NEW_FLAGS`` / ``NEW_RW_FLAGS``: a file created here and now, or the call fails
  (nothing a member planted under that name is opened, written or followed).

``read_small`` reads the start of a regular file through ``FILE_FLAGS`` and checks that
what it opened is a regular file (and, given ``expect``, the scanned inode) before it
reads a byte; ``replace`` writes a whole file beside its name and renames it over the
old one, relative to the directory's fd.
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import stat

O_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
O_NOCTTY = getattr(os, 'O_NOCTTY', 0)
O_NONBLOCK = getattr(os, 'O_NONBLOCK', 0)

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK
PATH_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC
LOCK_FLAGS = os.O_RDWR | os.O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC
NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | O_NOCTTY | O_CLOEXEC
NEW_RW_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | O_NOCTTY | O_CLOEXEC

#: one read of a small file (the node configuration, a uv.toml, a textfile) stops here
SMALL = 1 << 20

_GONE = frozenset(e for e in (errno.ENOENT, getattr(errno, 'ESTALE', None)) if e is not None)


class NotRegularFile(OSError):
    """What was opened is not a regular file (a fifo, a device, a directory), or not the inode expected."""


def vanished_error(exc):
    """True when an OSError means the entry is gone (deleted or stale)."""
    return exc.errno in _GONE


def read_small(path, limit=SMALL, dir_fd=None, expect=None):
    """``(st, data)``: the fstat of the regular file ``path`` and its first ``limit`` bytes.

    Opened with ``FILE_FLAGS`` (relative to ``dir_fd`` when given): a symlink in its place
    fails with ELOOP, a fifo does not block.  ``NotRegularFile`` when it is not a regular
    file, or not the ``(st_dev, st_ino)`` of ``expect`` (a stat of the scan); other
    OSErrors propagate.  Nothing is read before those checks.
    """
    fd = os.open(path, FILE_FLAGS, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(errno.EINVAL, 'not a regular file', path)
        if expect is not None and (st.st_dev, st.st_ino) != (expect.st_dev, expect.st_ino):
            raise NotRegularFile(errno.EINVAL, 'replaced since it was scanned', path)
        chunks = []
        left = limit
        while left > 0:
            chunk = os.read(fd, min(left, SMALL))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    return st, b''.join(chunks)


def replace(path, data, mode=0o644, dir_fd=None):
    """Write ``data`` (bytes) to ``path`` whole: a new file beside it, fsync, rename over it.

    The directory is opened once (``DIR_FLAGS``: not a symlink in place of its last
    component; or given: ``dir_fd``, an fd its caller checked, ``path`` a name in it) and
    everything happens relative to that fd; the temporary file
    (``.<name without its extension>.<pid>.tmp``, not a name a reader of ``*.prom`` or
    ``*.json`` picks up; one a killed run left is removed first) is created with
    ``NEW_FLAGS``, so nothing planted in the directory is written through.  A reader
    sees the old file or the new one, never half of one.
    """
    if dir_fd is not None:
        _replace_in(dir_fd, path, data, mode)
        return
    directory, name = os.path.split(os.path.abspath(path))
    dir_fd = os.open(directory, DIR_FLAGS)
    try:
        _replace_in(dir_fd, name, data, mode)
    finally:
        os.close(dir_fd)


def _replace_in(dir_fd, name, data, mode):
    """``replace`` relative to the directory's fd."""
    tmp = '.%s.%d.tmp' % (os.path.splitext(name)[0], os.getpid())
    try:
        os.unlink(tmp, dir_fd=dir_fd)
    except OSError:
        pass
    fd = os.open(tmp, NEW_FLAGS, mode, dir_fd=dir_fd)
    try:
        try:
            os.fchmod(fd, mode)  # whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
