# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""uv's ``mode | 0o111``: others' x on a file behind a closed root is no finding; every other shape is.

Each hostile variant a member (or a careless admin) could plant next to uv's
0771 files must still be counted and repaired.
"""

from __future__ import absolute_import, division, print_function

import os
import stat

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms.policy import closed_to_others, others_x_grants_nothing

from perms_testlib import GID, MEMBER_UID, OTHER_GID, STRANGER_UID, good_tree, make_dir, make_file, mode_of, setfacl

MEMBERS = {MEMBER_UID}


def run(root, **kwargs):
    kwargs.setdefault('is_member', MEMBERS)
    kwargs.setdefault('max_samples', 100)
    return engine.run(root, GID, engine.Options(**kwargs))


def flagged(result, kind='others_perms'):
    return sorted(os.path.basename(s['path']) for s in result['samples'] if s['kind'] == kind)


class St(object):
    def __init__(self, mode, nlink=1):
        self.st_mode = mode
        self.st_nlink = nlink


REG = stat.S_IFREG
DIR = stat.S_IFDIR


def test_only_the_exact_shape_of_uvs_exec_bits_qualifies():
    assert others_x_grants_nothing(St(REG | 0o771), True)
    assert others_x_grants_nothing(St(REG | 0o751), True)
    assert not others_x_grants_nothing(St(REG | 0o771), False)          # root open to others
    assert not others_x_grants_nothing(St(REG | 0o771, nlink=2), True)  # another name may be reachable
    assert not others_x_grants_nothing(St(REG | 0o775), True)           # others may read
    assert not others_x_grants_nothing(St(REG | 0o773), True)           # others may write
    assert not others_x_grants_nothing(St(REG | 0o661), True)           # owner has no x: not uv's doing
    assert not others_x_grants_nothing(St(REG | 0o4771), True)          # setuid
    assert not others_x_grants_nothing(St(REG | 0o2771), True)          # setgid
    assert not others_x_grants_nothing(St(DIR | 0o2771), True)          # directories never
    assert not others_x_grants_nothing(St(REG | 0o770), True)           # nothing to tolerate


def test_a_closed_root_has_no_x_for_others_and_no_named_acl_entry():
    assert closed_to_others(St(DIR | 0o2770), None)
    assert not closed_to_others(St(DIR | 0o2771), None)
    minimal = [(0x01, 7, 0xFFFFFFFF), (0x04, 7, 0xFFFFFFFF), (0x10, 7, 0xFFFFFFFF), (0x20, 0, 0xFFFFFFFF)]
    assert closed_to_others(St(DIR | 0o2770), minimal)
    assert not closed_to_others(St(DIR | 0o2770), minimal + [(0x02, 5, STRANGER_UID)])
    assert not closed_to_others(St(DIR | 0o2770), minimal + [(0x08, 1, OTHER_GID)])


def test_uvs_0771_files_below_a_closed_root_are_clean_and_left_as_they_are(base):
    good_tree(base)
    lib = make_dir(os.path.join(base, 'archive-v0', 'abc', 'lib'))
    so = make_file(os.path.join(lib, '_speedups.cpython-311-x86_64-linux-gnu.so'), mode=0o771, uid=MEMBER_UID)
    script = make_file(os.path.join(base, 'archive-v0', 'abc', 'black'), mode=0o771)
    for kwargs in ({'repair': False}, {'repair': True, 'dry_run': True}, {'repair': True}):
        result = run(base, **kwargs)
        assert result['findings'] == {}, (kwargs, result['samples'])
        assert not result['changed']
    assert mode_of(so) == 0o771 and mode_of(script) == 0o771


def test_a_fix_for_another_reason_keeps_the_harmless_bit(base):
    good_tree(base)
    f = make_file(os.path.join(base, 'archive-v0', 'abc', 'tool2'), mode=0o751, gid=0)
    result = run(base, repair=True)
    assert result['findings'] == {'wrong_group': 1, 'group_perms': 1}
    assert mode_of(f) == 0o771 and os.lstat(f).st_gid == GID
    assert run(base, repair=False)['findings'] == {}


def test_every_hostile_variant_is_still_counted_and_repaired(base):
    good_tree(base)
    j = os.path.join
    d = j(base, 'archive-v0', 'abc')
    make_file(j(d, 'readable'), mode=0o775)                 # others r: they could read it if reachable
    make_file(j(d, 'noownerx'), mode=0o661)                 # not uv's shape
    make_file(j(d, 'suid'), mode=0o4771)                    # a setuid program
    make_file(j(d, 'sgid'), mode=0o2771)
    linked = make_file(j(d, 'linked'), mode=0o771, uid=MEMBER_UID)
    os.link(linked, j(base, 'archive-v0', 'linked-elsewhere'))  # a second name (could live outside)
    make_dir(j(base, 'opendir'), mode=0o2771)               # a directory is a door, never tolerated
    result = run(base, repair=False)
    assert flagged(result) == ['linked', 'linked-elsewhere', 'noownerx', 'opendir', 'readable', 'sgid', 'suid']
    assert result['findings']['setuid_setgid'] == 2
    run(base, repair=True)
    for name, mode in (('readable', 0o770), ('noownerx', 0o660), ('suid', 0o770), ('sgid', 0o770),
                       ('linked', 0o770)):
        assert mode_of(j(d, name)) == mode, name
    assert mode_of(j(base, 'opendir')) == 0o2770
    assert run(base, repair=False)['findings'] == {}


def test_a_root_open_to_others_makes_the_bit_count(base):
    good_tree(base)
    f = make_file(os.path.join(base, 'archive-v0', 'abc', 'black'), mode=0o771)
    os.chmod(base, 0o2771)
    result = run(base, repair=False)
    assert sorted(flagged(result)) == sorted([os.path.basename(base), 'black'])
    run(base, repair=True)
    assert mode_of(base) == 0o2770 and mode_of(f) == 0o770


def test_a_named_acl_entry_on_the_root_makes_the_bit_count(base):
    good_tree(base)
    make_file(os.path.join(base, 'archive-v0', 'abc', 'black'), mode=0o771)
    setfacl('-m', 'u:%d:rx' % STRANGER_UID, base)
    assert flagged(run(base, repair=False)) == ['black']


def test_others_read_policy_is_unchanged(base):
    good_tree(base)
    os.chmod(base, 0o2775)
    make_file(os.path.join(base, 'archive-v0', 'abc', 'black'), mode=0o775)
    make_file(os.path.join(base, 'archive-v0', 'abc', 'black2'), mode=0o771)
    result = run(base, repair=False, others='read')
    assert 'others_perms' not in result['findings'], result['samples']


def test_a_harmless_bit_seen_once_does_not_excuse_the_same_mode_where_it_counts(base):
    """The engine remembers compliant states; a 0771 file judged harmless must not vouch for a 0771 file
    with a second name, or below a root open to others, walked later in the same run."""
    j = os.path.join
    roots = []
    for name in ('closed', 'linked', 'open'):
        os.mkdir(j(base, name))
        roots.append(good_tree(j(base, name)))
        make_file(j(base, name, 'archive-v0', 'abc', 'black'), mode=0o771, uid=MEMBER_UID)
    os.link(j(base, 'linked', 'archive-v0', 'abc', 'black'), j(base, 'linked', 'archive-v0', 'black-elsewhere'))
    os.chmod(j(base, 'open'), 0o2771)
    result = run(roots, repair=False, jobs=1)  # one process: the roots in this order, the closed one first
    paths = sorted(s['path'] for s in result['samples'] if s['kind'] == 'others_perms')
    assert paths == sorted([j(base, 'linked', 'archive-v0', 'abc', 'black'), j(base, 'linked', 'archive-v0', 'black-elsewhere'),
                            j(base, 'open'), j(base, 'open', 'archive-v0', 'abc', 'black')])
