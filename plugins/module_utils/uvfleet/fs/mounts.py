# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a directory entry on the walk's mount?  Without entering it, without triggering automounts.

A second file system, or a second view of one, can appear inside a tree in several ways:

* another file system mounted there (another ``st_dev``; also each btrfs subvolume);
* a bind mount of a directory of the *same* file system (same ``st_dev``, another mount);
* an autofs/automount point, which an ``open`` (or a stat that follows it) would mount.

``probe(dir_fd, name)`` answers with one ``statx(dir_fd, name, AT_SYMLINK_NOFOLLOW |
AT_NO_AUTOMOUNT, STATX_MNT_ID)`` (called through ctypes: the standard library has no
statx before Python 3.15): the mount ID, ``STATX_ATTR_MOUNT_ROOT`` and
``STATX_ATTR_AUTOMOUNT`` of the entry, never triggering an automount and never
following a symlink.  Where statx is missing (old kernel or libc, no ctypes) it
returns None and the walk falls back on ``mount_points_below`` (the mount table in
``/proc/self/mountinfo``, read once per root) plus the ``st_dev`` check.
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import stat
import struct

from .fileio import PATH_DIR_FLAGS

AT_SYMLINK_NOFOLLOW = 0x100
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_STATX_DONT_SYNC = 0x4000
STATX_TYPE = 0x1
STATX_MODE = 0x2
STATX_INO = 0x100
STATX_MNT_ID = 0x1000
STATX_ATTR_AUTOMOUNT = 0x1000
STATX_ATTR_MOUNT_ROOT = 0x2000

_FLAGS = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC
_MASK = STATX_TYPE | STATX_MODE | STATX_INO | STATX_MNT_ID
#: stx_mask, stx_attributes, stx_mode, stx_ino, stx_attributes_mask, dev major/minor, stx_mnt_id
_HEAD = struct.Struct('<I4xQ12xH2xQ16xQ')
_DEV = struct.Struct('<II')
_DEV_OFFSET = 136
_MNT_OFFSET = 144
_MNT = struct.Struct('<Q')


class Probe(object):
    """What statx says about an entry: mode, dev, ino, mount ID, mount root, automount point."""

    __slots__ = ('mode', 'dev', 'ino', 'mnt_id', 'mount_root', 'automount')

    def __init__(self, mode, dev, ino, mnt_id, mount_root, automount):
        self.mode = mode
        self.dev = dev
        self.ino = ino
        self.mnt_id = mnt_id
        self.mount_root = mount_root
        self.automount = automount


def _load():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.statx
    except (ImportError, OSError, AttributeError):
        return None
    func.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p)
    func.restype = ctypes.c_int
    return ctypes, func


class _Statx(object):
    def __init__(self, loaded):
        self.ctypes, self.func = loaded
        self.buf = self.ctypes.create_string_buffer(256)
        self.addr = self.ctypes.addressof(self.buf)

    def __call__(self, dir_fd, name, flags=_FLAGS):
        path = name if isinstance(name, bytes) else os.fsencode(name)
        if self.func(dir_fd, path, flags, _MASK, self.addr) != 0:
            err = self.ctypes.get_errno()
            raise OSError(err, os.strerror(err), name)
        raw = self.buf.raw
        mask, attrs, mode, ino, attrs_mask = _HEAD.unpack_from(raw, 0)
        major, minor = _DEV.unpack_from(raw, _DEV_OFFSET)
        mnt_id = _MNT.unpack_from(raw, _MNT_OFFSET)[0] if mask & STATX_MNT_ID else None
        mount_root = bool(attrs & STATX_ATTR_MOUNT_ROOT) if attrs_mask & STATX_ATTR_MOUNT_ROOT else None
        return Probe(mode, os.makedev(major, minor), ino, mnt_id, mount_root, bool(attrs & STATX_ATTR_AUTOMOUNT))


def _make():
    loaded = _load()
    if loaded is None:
        return None
    statx = _Statx(loaded)
    fd = os.open('/', PATH_DIR_FLAGS)
    try:
        probe_root = statx(fd, b'', AT_EMPTY_PATH)
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EINVAL, errno.EPERM):
            return None
        raise
    finally:
        os.close(fd)
    if probe_root.mnt_id is None or probe_root.mount_root is None:
        return None  # kernel older than 5.8: no mount IDs, use the mount table
    return statx


_STATX = []


def statx_func():
    """The statx wrapper, or None where it (or STATX_MNT_ID) is not available.  Loaded once."""
    if not _STATX:
        _STATX.append(_make())
    return _STATX[0]


def probe(dir_fd, name):
    """statx of ``name`` in ``dir_fd`` (no symlink followed, no automount triggered), or None without statx.

    ``name`` '' probes the fd itself.  OSError propagates (ENOENT: the entry is gone).
    """
    func = statx_func()
    if func is None:
        return None
    if name == '' or name == b'':
        return func(dir_fd, b'', AT_EMPTY_PATH | AT_NO_AUTOMOUNT)
    return func(dir_fd, name)


_OCTAL = frozenset('01234567')


def _unescape(field):
    """Undo mountinfo's octal escapes (\\040 for a space, ...)."""
    if '\\' not in field:
        return field
    out = []
    i = 0
    while i < len(field):
        code = field[i + 1:i + 4]
        if field[i] == '\\' and len(code) == 3 and set(code) <= _OCTAL:
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return ''.join(out)


def mount_points_below(path, mountinfo='/proc/self/mountinfo'):
    """Paths relative to ``path`` of every mount point strictly below it (any file system type).

    Read once per root from the mount table: a bind mount of the same file system, an
    autofs trigger and a btrfs subvolume mount all appear there.  Empty set when the
    table cannot be read.
    """
    prefix = path.rstrip('/') + '/'
    found = set()
    try:
        with open(mountinfo) as handle:
            for line in handle:
                fields = line.split(' ')
                if len(fields) > 4:
                    point = _unescape(fields[4])
                    if point.startswith(prefix) and len(point) > len(prefix):
                        found.add(point[len(prefix):].rstrip('/'))
    except (IOError, OSError):
        return frozenset()
    return frozenset(found)


class Fence(object):
    """The walk's boundary: is a subdirectory another file system or another mount?  Answered without entering it.

    ``note(fd, path)`` takes the root's mount: its statx mount ID, or, without statx,
    the mount points below it from the mount table (``mount_rels``).  ``why_other``
    then answers for each subdirectory before it is opened, with one statx per
    directory (an automount point is never triggered).
    """

    __slots__ = ('root_mnt', 'mount_rels', 'probe')

    def __init__(self):
        self.root_mnt = None
        self.mount_rels = frozenset()
        self.probe = None

    def note(self, fd, path):
        """Remember the mount of the root open as fd (its statx mount ID, else the mount points below path)."""
        info = probe(fd, '')
        if info is not None:
            self.root_mnt = info.mnt_id
            self.probe = probe
        else:
            self.probe = None
            self.mount_rels = mount_points_below(path)

    def why_other(self, fd, name, rel, dev):
        """Why the subdirectory ``name`` of fd is another file system or mount (None: it is not), not entering it.

        ``rel``: its path relative to the root; ``dev``: the root's st_dev.  Returns
        (reason or None, the statx Probe or None); OSError propagates.
        """
        probe_at = self.probe
        if probe_at is None:
            if rel in self.mount_rels:
                return 'mount point (from the mount table)', None
            return None, None
        info = probe_at(fd, name)
        if not stat.S_ISDIR(info.mode):
            return None, info
        if info.automount:
            return 'automount point (not triggered)', info
        if info.dev != dev:
            return 'mount point (st_dev %d)' % info.dev, info
        if info.mount_root or (self.root_mnt is not None and info.mnt_id != self.root_mnt):
            return 'mount point (mount ID %s, bind mount or a second view of the file system)' % info.mnt_id, info
        return None, info
