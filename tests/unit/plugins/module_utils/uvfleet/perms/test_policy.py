# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy: pure functions of st_mode and ACL entries."""

from __future__ import absolute_import, division, print_function

import stat

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.fs import acl
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms.policy import Policy, PolicyError, mode_text

F = stat.S_IFREG
D = stat.S_IFDIR


@pytest.mark.parametrize('mode,target,kinds', [
    (0o660, 0o660, ()),
    (0o770, 0o770, ()),
    (0o644, 0o660, ('group_perms', 'others_perms')),
    (0o600, 0o660, ('group_perms',)),
    (0o755, 0o770, ('group_perms', 'others_perms')),
    (0o666, 0o660, ('others_perms', 'world_writable')),
    (0o4770, 0o770, ('setuid_setgid',)),
    (0o2760, 0o770, ('setuid_setgid', 'group_perms')),
    (0o670, 0o670, ()),          # group x without owner x is tolerated
    (0o662, 0o660, ('world_writable',)),
])
def test_file_default_policy(mode, target, kinds):
    assert Policy(4343).file_mode(F | mode) == (target, kinds)


@pytest.mark.parametrize('mode,target,kinds', [
    (0o2770, 0o2770, ()),
    (0o770, 0o2770, ('dir_not_setgid',)),
    (0o3770, 0o2770, ('dir_sticky',)),
    (0o2750, 0o2770, ('group_perms',)),
    (0o2775, 0o2770, ('others_perms',)),
    (0o1777, 0o2770, ('dir_not_setgid', 'dir_sticky', 'others_perms', 'world_writable')),
])
def test_dir_default_policy(mode, target, kinds):
    assert Policy(4343).dir_mode(D | mode) == (target, kinds)


def test_read_only_group_and_others_read():
    pol = Policy(4343, others='read', group_access='read')
    assert pol.file_mode(F | 0o644) == (0o644, ())
    assert pol.file_mode(F | 0o755) == (0o755, ())
    assert pol.file_mode(F | 0o664) == (0o644, ('group_perms',))
    assert pol.file_mode(F | 0o647) == (0o644, ('others_perms', 'world_writable'))
    assert pol.file_mode(F | 0o645) == (0o644, ('others_perms',))   # o+x without owner x
    assert pol.dir_mode(D | 0o2755) == (0o2755, ())
    assert pol.dir_mode(D | 0o2775) == (0o2755, ('group_perms',))
    assert pol.dir_mode(D | 0o2750) == (0o2750, ())                 # others may read, need not


def test_bad_options():
    for kwargs in ({'others': 'all'}, {'group_access': 'rw'}, {'acl': 'yes'}):
        with pytest.raises(PolicyError):
            Policy(1, **kwargs)


def test_default_acl_checks():
    pol = Policy(4343)
    kind, expected = pol.default_acl(None)
    assert kind == 'default_acl_missing'
    assert acl.to_text(expected) == 'user::rwx,group::rwx,mask::rwx,other::---'
    assert pol.default_acl(acl.parse_text('u::rwx,g::rwx,m::rwx,o::---'))[0] is None
    assert pol.default_acl(acl.parse_text('u::rwx,g::rwx,o::---'))[0] is None          # no named entries: no mask needed
    for bad in ('u::rwx,g::r-x,m::rwx,o::---', 'u::rwx,g::rwx,m::r-x,o::---', 'u::rwx,g::rwx,m::rwx,o::r-x',
                'u::rw-,g::rwx,m::rwx,o::---', 'u::rwx,g::rwx,g:17:rwx,o::---'):
        assert pol.default_acl(acl.parse_text(bad))[0] == 'default_acl_wrong', bad
    # named entries: the policy's allowed ones are kept, the others dropped (acl_named)
    kind, expected = pol.default_acl(acl.parse_text('u::rwx,g::r-x,g:17:r-x,u:5:rwx,m::r-x,o::r--'))
    assert kind == 'default_acl_wrong'
    assert acl.to_text(expected) == 'user::rwx,group::rwx,mask::rwx,other::---'
    members = Policy(4343, user_allowed=lambda uid: uid == 5, groups_allowed=(17,))
    kind, expected = members.default_acl(acl.parse_text('u::rwx,g::r-x,g:17:r-x,u:5:rwx,m::r-x,o::r--'))
    assert acl.to_text(expected) == 'user::rwx,user:5:rwx,group::rwx,group:17:r-x,mask::rwx,other::---'
    ro = Policy(4343, group_access='read', others='read')
    assert acl.to_text(ro.default_acl(None)[1]) == 'user::rwx,group::r-x,mask::r-x,other::r-x'
    assert ro.default_acl(acl.parse_text('u::rwx,g::r-x,m::r-x,o::---'))[0] is None


def test_access_acl_checks():
    pol = Policy(4343)
    kinds, expected = pol.access_acl(acl.parse_text('u::rw-,g::rwx,m::---,o::---'), False, 0o600)
    assert kinds == ('acl_mask',)
    assert acl.to_text(expected) == 'user::rw-,group::rwx,mask::rw-,other::---'
    kinds, expected = pol.access_acl(acl.parse_text('u::rw-,g::r--,g:17:rw-,m::rw-,o::---'), False, 0o660)
    assert kinds == ('acl_group',)
    assert acl.to_text(expected) == 'user::rw-,group::rw-,group:17:rw-,mask::rw-,other::---'
    assert pol.access_acl(acl.parse_text('u::rwx,g::rwx,m::rwx,o::---'), True, 0o2770) == ((), None)
    assert pol.access_acl(None, False, 0o660) == ((), None)


def test_mode_text():
    assert mode_text(0o2770, True) == '2770 (drwxrws---)'
    assert mode_text(0o4755) == '4755 (-rwsr-xr-x)'
    assert mode_text(0o1666, True) == '1666 (drw-rw-rwT)'
