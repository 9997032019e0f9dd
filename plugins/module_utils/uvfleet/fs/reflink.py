# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does a file system clone files (reflinks, ``FICLONE``)?  Asked inside a directory members can write.

uv's ``link-mode = "clone"`` needs reflinks; the shared role picks it where the cache's
file system has them (``cache_perms`` with ``probe_reflink``), and ``uvfleet doctor``
tells a member what their uv will do. Both ask in a directory other members write, so
everything here is relative to a directory fd the caller opened and checked: new files
are created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` under random names (nothing a member
planted is ever opened, written or followed), cloned fd to fd, and unlinked relative to
the same fd. No path is resolved.
"""

from __future__ import absolute_import, division, print_function

import binascii
import fcntl
import os

from .fileio import NEW_FLAGS, NEW_RW_FLAGS

#: ioctl FICLONE (linux/fs.h: _IOW(0x94, 9, int))
FICLONE = 0x40049409


def _new_name():
    return '.uvfleet-reflink-%d-%s' % (os.getpid(), binascii.hexlify(os.urandom(6)).decode())


def clone_into(src_fd, name, dir_fd):
    """Clone the open file src_fd (open for reading) into a new file ``name`` of dir_fd.

    True: cloned; False: the file system refused (no reflinks); None: the new file could
    not be created (nothing was made). A file made is left for the caller to remove.
    """
    try:
        dst_fd = os.open(name, NEW_FLAGS, 0o600, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
        return True
    except OSError:
        return False
    finally:
        os.close(dst_fd)


def supported(dir_fd):
    """True when files in dir_fd's file system can be cloned: two new files made, cloned, removed.

    Only the files it made are removed. Raises OSError when no file can be created in
    dir_fd (not writable, read-only, the name taken).
    """
    src_name, dst_name = _new_name(), _new_name()
    made = [src_name]
    src_fd = os.open(src_name, NEW_RW_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        os.write(src_fd, b'uvfleet reflink probe\n' * 256)
        cloned = clone_into(src_fd, dst_name, dir_fd)
        if cloned is not None:
            made.append(dst_name)
        return bool(cloned)
    finally:
        os.close(src_fd)
        for name in made:
            try:
                os.unlink(name, dir_fd=dir_fd)
            except OSError:
                pass
