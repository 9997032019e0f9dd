# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named ACL entries for outsiders (issue 7, hole 1): found, removed before any mask is raised, allow-listed."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import errors

from holes_testlib import JOBS, run, places, forked, samples_of
from perms_testlib import GID, MEMBER_UID, OTHER_GID, STRANGER_UID, can_open_as, getfacl, make_dir, make_file, mode_of, setfacl, snapshot


def plant_named_acls(d):
    """A member's named entries for an outsider: live, dormant (mask ---), default ACL, group entries."""
    j = os.path.join
    live = make_file(j(d, 'live.py'))
    setfacl('-m', 'u:%d:rwx' % STRANGER_UID, live)
    dormant = make_file(j(d, 'dormant.py'))
    setfacl('-m', 'u:%d:rw-' % STRANGER_UID, dormant)
    os.chmod(dormant, 0o600)  # mask::--- : the entry sleeps until a chmod raises the mask
    grp_file = make_file(j(d, 'group.py'))
    setfacl('-m', 'g:%d:rw-' % OTHER_GID, grp_file)
    nest = make_dir(j(d, 'nest'))
    setfacl('-m', 'u:%d:rwx' % STRANGER_UID, nest)
    setfacl('-d', '-m', 'u:%d:rwx,g:%d:rwx' % (STRANGER_UID, OTHER_GID), nest)
    member = make_file(j(d, 'member.py'))
    setfacl('-m', 'u:%d:rw-,g:%d:rw-' % (MEMBER_UID, GID), member)  # allowed: a member, the group itself
    return live, dormant, grp_file, nest, member


@JOBS
def test_named_acl_entries_for_outsiders_are_found_and_removed_before_any_mask_is_raised(base, forks, jobs):
    planted = [plant_named_acls(d) for d in places(base)]
    before = snapshot(base)
    audit = run(base, jobs, repair=False)
    assert audit['findings']['acl_named'] == 4 * len(planted)
    assert snapshot(base) == before  # the audit changed nothing
    named = samples_of(audit, 'acl_named')
    live, dormant = planted[-1][0], planted[-1][1]
    assert 'user:%d(' % STRANGER_UID in named[live]['current']  # the principal is named
    assert 'dormant' in named[dormant]['current']
    assert 'default ACL' in named[planted[0][3]]['current']

    result = run(base, jobs)
    assert result['fixed']['acl_named'] == 4 * len(planted)
    assert forked(forks, jobs)
    for live, dormant, grp_file, nest, member in planted:
        for path in (live, dormant, grp_file, nest):
            text = ','.join(getfacl(path) + getfacl(path, default=True) if os.path.isdir(path) else getfacl(path))
            assert ':%d:' % STRANGER_UID not in text and ':%d:' % OTHER_GID not in text, (path, text)
        assert mode_of(dormant) == 0o660  # the mask was raised for the group, the outsider's entry gone first
        assert 'user:%d:rw-' % MEMBER_UID in getfacl(member) and 'group:%d:rw-' % GID in getfacl(member)
    again = run(base, jobs)
    assert again['changed'] is False and again['findings'] == {}


@JOBS
def test_with_others_read_the_outsider_really_loses_write_access(base, forks, jobs):
    """others=read opens the directories to everyone: the outsider's named entry was the only way to write."""
    targets = []
    for d in places(base):
        target = make_file(os.path.join(d, 'appendable.py'), mode=0o640)
        setfacl('-m', 'u:%d:rw-' % STRANGER_UID, target)
        os.chmod(target, 0o604)  # dormant, mask ---; others r
        targets.append(target)
    for dirpath, dirs, _files in os.walk(base):
        os.chmod(dirpath, 0o2775)
    run(base, jobs, others='read')
    assert forked(forks, jobs)
    for target in targets:
        assert can_open_as(STRANGER_UID, STRANGER_UID, target, os.O_RDONLY)  # others: read
        assert not can_open_as(STRANGER_UID, STRANGER_UID, target, os.O_WRONLY | os.O_APPEND)
    assert not can_open_as(STRANGER_UID, STRANGER_UID, os.path.join(base, 'new.py'), os.O_WRONLY | os.O_CREAT)


@JOBS
def test_acl_allow_lists_principals(base, forks, jobs):
    for d in places(base):
        plant_named_acls(d)
    allow = ['user:%d' % STRANGER_UID, 'group:%d' % OTHER_GID]
    result = run(base, jobs, repair=False, acl_allow=allow)
    assert 'acl_named' not in result['findings']
    with pytest.raises(errors.PermsError) as err:
        run(base, jobs, acl_allow=['user:no-such-user-uvfleet'])
    assert 'no such user' in str(err.value)
    with pytest.raises(errors.PermsError):
        run(base, jobs, acl_allow=['someone'])
