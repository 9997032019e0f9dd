# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The POSIX ACL xattr codec, checked against setfacl/getfacl."""

from __future__ import absolute_import, division, print_function

import os
import struct

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.fs import acl

from perms_testlib import getfacl, make_file, ramfs, setfacl


def getfacl_entries(path, default=False):
    """getfacl -n output parsed into codec entries."""
    lines = [line.replace('default:', '', 1) if default else line for line in getfacl(path, default)]
    # strip '#effective:' comments getfacl may add
    return acl.parse_text(','.join(line.split('\t')[0].split('#')[0] for line in lines))


def test_decode_known_blob():
    blob = struct.pack('<I', 2) + b''.join(struct.pack('<HHI', *e) for e in (
        (1, 7, 0xFFFFFFFF), (4, 5, 0xFFFFFFFF), (8, 7, 4343), (0x10, 7, 0xFFFFFFFF), (0x20, 0, 0xFFFFFFFF)))
    entries = acl.decode(blob)
    assert acl.to_text(entries) == 'user::rwx,group::r-x,group:4343:rwx,mask::rwx,other::---'
    assert acl.encode(entries) == blob


def test_encode_sorts_and_normalises_ids():
    entries = [(acl.OTHER, 0, 5), (acl.GROUP, 7, 20), (acl.USER_OBJ, 7, 0), (acl.GROUP, 5, 10),
               (acl.MASK, 7, 0), (acl.GROUP_OBJ, 7, 0), (acl.USER, 6, 1000)]
    out = acl.decode(acl.encode(entries))
    assert [e[0] for e in out] == [acl.USER_OBJ, acl.USER, acl.GROUP_OBJ, acl.GROUP, acl.GROUP, acl.MASK, acl.OTHER]
    assert [e[2] for e in out if e[0] == acl.GROUP] == [10, 20]
    assert all(e[2] == acl.UNDEFINED_ID for e in out if e[0] not in (acl.USER, acl.GROUP))


@pytest.mark.parametrize('blob', [b'', b'\x02\x00\x00', struct.pack('<I', 1), struct.pack('<I', 2) + b'\x01\x00',
                                  struct.pack('<I', 2) + struct.pack('<HHI', 0x40, 7, 0)])
def test_decode_rejects_garbage(blob):
    with pytest.raises(acl.AclError):
        acl.decode(blob)


def test_text_round_trip_and_errors():
    text = 'user::rwx,user:1000:rw-,group::r-x,group:4343:rwx,mask::rwx,other::---'
    assert acl.to_text(acl.parse_text(text)) == text
    assert acl.to_text(acl.parse_text('u::rwx,g::rwx,m::rwx,o::-')) == 'user::rwx,group::rwx,mask::rwx,other::---'
    for bad in ('x::rwx', 'u::rwz', 'm:5:rwx', 'u:rwx'):
        with pytest.raises(acl.AclError):
            acl.parse_text(bad)
    assert acl.to_text(None) == 'none'
    assert acl.to_text(acl.from_mode(0o750)) == 'user::rwx,group::r-x,other::---'


@pytest.mark.parametrize('spec', [
    'u::rw-,g::r--,o::---,g:4343:rw-,m::rw-',
    'u::rwx,u:4242:r-x,g::---,g:4343:rwx,g:17:r--,m::rwx,o::r--',
    'u::rw-,g::rw-,o::---,u:1:-w-,m::---',
])
def test_access_acl_read_matches_getfacl(base, spec):
    path = make_file(os.path.join(base, 'f'), mode=0o640)
    setfacl('-m', spec, path)
    ours = acl.read(path, acl.ACCESS)
    assert ours == getfacl_entries(path)


@pytest.mark.parametrize('spec', [
    'u::rwx,g::rwx,m::rwx,o::---',
    'u::rwx,g::r-x,g:4343:rwx,u:4242:rw-,m::rwx,o::r-x',
])
def test_write_then_getfacl(base, spec):
    """Our encoder's bytes, written with setxattr, read back by getfacl."""
    path = os.path.join(base, 'd')
    os.mkdir(path)
    entries = acl.parse_text(spec)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        acl.write(fd, acl.DEFAULT, entries)
        acl.write(fd, acl.ACCESS, entries)
        assert acl.read(fd, acl.DEFAULT) == entries
    finally:
        os.close(fd)
    assert getfacl_entries(path, default=True) == entries
    assert getfacl_entries(path) == entries
    # the access ACL drives the mode: group bits are the mask (or group::)
    mode = os.stat(path).st_mode
    mask = acl.get(entries, acl.MASK, acl.get(entries, acl.GROUP_OBJ))
    assert (mode >> 3) & 7 == mask


def test_setfacl_default_round_trip(base):
    path = os.path.join(base, 'd')
    os.mkdir(path)
    setfacl('-d', '-m', 'u::rwx,g::rwx,g:4343:r-x,m::rwx,o::---', path)
    data = os.getxattr(path, acl.DEFAULT)
    entries = acl.decode(data)
    assert entries == getfacl_entries(path, default=True)
    assert acl.encode(entries) == data  # byte for byte what the kernel/setfacl stored


def test_no_acl_is_none(base):
    path = make_file(os.path.join(base, 'plain'), mode=0o640)
    assert acl.read(path, acl.ACCESS) is None
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert acl.read(fd, acl.DEFAULT) is None
        assert acl.probe(fd) is True
    finally:
        os.close(fd)


def test_mask_of_0600_file_under_default_acl(base):
    """The uv#5496 case: a 0600 temp file under a default ACL gets mask::---, visible in st_mode."""
    d = os.path.join(base, 'd')
    os.mkdir(d)
    setfacl('-d', '-m', 'u::rwx,g::rwx,m::rwx,o::---', d)
    fd = os.open(os.path.join(d, 'tmp'), os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    entries = acl.read(os.path.join(d, 'tmp'), acl.ACCESS)
    assert acl.get(entries, acl.MASK) == 0
    assert acl.get(entries, acl.GROUP_OBJ) == 7
    assert (os.stat(os.path.join(d, 'tmp')).st_mode >> 3) & 7 == 0


def test_probe_without_acl_support(base):
    """ramfs has ownership but no POSIX ACLs: the probe says so (ENOTSUP)."""
    with ramfs(os.path.join(base, 'ram')) as mnt:
        fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert acl.probe(fd) is False
            with pytest.raises(OSError) as err:
                acl.read(fd, acl.DEFAULT)
            assert acl.is_unsupported(err.value)
        finally:
            os.close(fd)
