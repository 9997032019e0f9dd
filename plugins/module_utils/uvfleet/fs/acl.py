# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""POSIX ACL codec for the Linux extended attributes.

The kernel stores an ACL in ``system.posix_acl_access`` (the access ACL) and
``system.posix_acl_default`` (a directory's default ACL) as a little-endian
binary blob: a 4-byte header holding the version (2), then one 8-byte entry per
ACL entry: tag (u16), permissions (u16), id (u32).  Entries are sorted by tag,
then by id; the id of USER_OBJ, GROUP_OBJ, MASK and OTHER is ACL_UNDEFINED_ID.

An ACL here is a list of ``(tag, perm, id)`` tuples.  Reading and writing go
through ``os.getxattr``/``os.setxattr`` on a file descriptor (or on a
``/proc/self/fd/N/name`` path that does not follow the last component), so no
process is started per file and no path is resolved twice.
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import struct

ACCESS = 'system.posix_acl_access'
DEFAULT = 'system.posix_acl_default'

VERSION = 2
UNDEFINED_ID = 0xFFFFFFFF

USER_OBJ = 0x01
USER = 0x02
GROUP_OBJ = 0x04
GROUP = 0x08
MASK = 0x10
OTHER = 0x20

READ = 4
WRITE = 2
EXECUTE = 1

_HEADER = struct.Struct('<I')
_ENTRY = struct.Struct('<HHI')
_TAG_TEXT = {USER_OBJ: 'user', USER: 'user', GROUP_OBJ: 'group', GROUP: 'group', MASK: 'mask', OTHER: 'other'}
_TEXT_TAG = {'u': USER_OBJ, 'user': USER_OBJ, 'g': GROUP_OBJ, 'group': GROUP_OBJ,
             'm': MASK, 'mask': MASK, 'o': OTHER, 'other': OTHER}
_UNSUPPORTED = set(e for e in (getattr(errno, 'ENOTSUP', None), getattr(errno, 'EOPNOTSUPP', None)) if e is not None)


class AclError(ValueError):
    """A malformed ACL blob or text."""


def is_unsupported(exc):
    """True when an OSError means the file system has no POSIX ACLs."""
    return isinstance(exc, OSError) and exc.errno in _UNSUPPORTED


def decode(data):
    """Decode an xattr blob into a sorted list of (tag, perm, id)."""
    if len(data) < _HEADER.size or (len(data) - _HEADER.size) % _ENTRY.size:
        raise AclError('ACL blob of %d bytes has a bad length' % len(data))
    (version,) = _HEADER.unpack_from(data, 0)
    if version != VERSION:
        raise AclError('unsupported ACL version %d' % version)
    entries = []
    for offset in range(_HEADER.size, len(data), _ENTRY.size):
        tag, perm, ident = _ENTRY.unpack_from(data, offset)
        if tag not in _TAG_TEXT:
            raise AclError('unknown ACL tag 0x%x' % tag)
        entries.append((tag, perm & 7, ident))
    return entries


def encode(entries):
    """Encode (tag, perm, id) entries into the kernel's xattr format (sorted, ids normalised)."""
    out = [_HEADER.pack(VERSION)]
    for tag, perm, ident in normalize(entries):
        out.append(_ENTRY.pack(tag, perm & 7, ident))
    return b''.join(out)


def normalize(entries):
    """Sort entries the way the kernel wants them; qualifier-less tags get ACL_UNDEFINED_ID."""
    norm = []
    for tag, perm, ident in entries:
        if tag not in (USER, GROUP):
            ident = UNDEFINED_ID
        norm.append((tag, perm & 7, ident))
    norm.sort(key=lambda e: (e[0], e[2]))
    return norm


def get(entries, tag, default=None):
    """Permission of the first entry with this tag (for the *_OBJ, MASK and OTHER tags)."""
    for etag, perm, _ident in entries:
        if etag == tag:
            return perm
    return default


def replace(entries, tag, perm):
    """Return a new ACL with the tag's (qualifier-less) entry set to perm, added if missing."""
    out = [e for e in entries if e[0] != tag]
    out.append((tag, perm & 7, UNDEFINED_ID))
    return normalize(out)


def has_named(entries):
    """True when the ACL has named user or group entries."""
    return any(e[0] in (USER, GROUP) for e in entries)


def from_mode(mode):
    """The minimal three-entry ACL equivalent to a mode."""
    return normalize([(USER_OBJ, (mode >> 6) & 7, UNDEFINED_ID),
                      (GROUP_OBJ, (mode >> 3) & 7, UNDEFINED_ID),
                      (OTHER, mode & 7, UNDEFINED_ID)])


def perm_text(perm):
    """rwx text of a 3-bit permission."""
    return ''.join(c if perm & b else '-' for c, b in (('r', READ), ('w', WRITE), ('x', EXECUTE)))


def to_text(entries):
    """Short text form, e.g. ``user::rwx,group::rwx,group:4343:r-x,mask::rwx,other::---`` (numeric ids)."""
    if entries is None:
        return 'none'
    parts = []
    for tag, perm, ident in entries:
        qual = str(ident) if tag in (USER, GROUP) else ''
        parts.append('%s:%s:%s' % (_TAG_TEXT[tag], qual, perm_text(perm)))
    return ','.join(parts)


def parse_text(text):
    """Parse the short text form (``u::rwx,g::r-x,g:4343:rwx,m::rwx,o::---``); ids must be numeric."""
    entries = []
    for part in text.replace('\n', ',').split(','):
        part = part.strip()
        if not part or part.startswith('#'):
            continue
        fields = part.split(':')
        if len(fields) != 3 or fields[0] not in _TEXT_TAG:
            raise AclError('bad ACL entry %r' % part)
        tag = _TEXT_TAG[fields[0]]
        ident = UNDEFINED_ID
        if fields[1]:
            if tag not in (USER_OBJ, GROUP_OBJ):
                raise AclError('entry %r takes no qualifier' % part)
            tag = USER if tag == USER_OBJ else GROUP
            ident = int(fields[1])
        perm = 0
        for char in fields[2]:
            if char in 'rwx':
                perm |= {'r': READ, 'w': WRITE, 'x': EXECUTE}[char]
            elif char != '-':
                raise AclError('bad permission %r in %r' % (fields[2], part))
        entries.append((tag, perm, ident))
    return normalize(entries)


def read(target, name, follow_symlinks=True):
    """Read one ACL xattr from an fd or path: entries, or None when there is none.

    OSError with ENOTSUP/EOPNOTSUPP propagates (see ``is_unsupported``).
    """
    data = read_raw(target, name, follow_symlinks)
    return None if data is None else decode(data)


def read_raw(target, name, follow_symlinks=True):
    """The undecoded xattr blob of one ACL of an fd or path (bytes), or None when there is none."""
    try:
        return os.getxattr(target, name, follow_symlinks=follow_symlinks)
    except OSError as exc:
        if exc.errno == errno.ENODATA:
            return None
        raise


def write(fd, name, entries):
    """Write an ACL xattr through an open fd."""
    os.setxattr(fd, name, encode(entries))


def probe(fd):
    """True when the file system of the open directory fd supports POSIX ACLs."""
    try:
        os.getxattr(fd, DEFAULT)
    except OSError as exc:
        if is_unsupported(exc):
            return False
        if exc.errno == errno.ENODATA:
            return True
        raise
    return True
