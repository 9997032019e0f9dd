# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 18 (c) and (d) for the content check: paths a member can swap, names a member can forge."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import main as command
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import check as content
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import verify

from content_testlib import GID, as_member, make_cache, make_wheel_entry, share, write


@pytest.fixture
def cache(base):
    return make_cache(base)


def test_a_cache_below_a_directory_members_can_change_is_refused(base):
    """She could swap the tree under root's check, record and quarantine for one of hers."""
    shared = os.path.join(base, 'shared')
    os.mkdir(shared)
    os.chown(shared, 0, GID)
    os.chmod(shared, 0o2770)
    cache = make_cache(shared)
    make_wheel_entry(cache)
    with pytest.raises(content.ContentError, match='can be changed by users other than root'):
        content.check_cache(cache)


def test_a_quarantine_reached_through_a_symlink_is_refused_and_nothing_moves(cache, base):
    top = make_wheel_entry(cache, entry='Bad1')
    write(os.path.join(top, 'demo', 'core.py'), b'')
    os.makedirs(os.path.join(base, 'real', 'sub'))
    os.symlink(os.path.join(base, 'real'), os.path.join(base, 'via'))
    # a symlink on the way, not only as the last component
    with pytest.raises(Exception, match='symlink'):
        verify.run(cache, repair=True, quarantine_dir=os.path.join(base, 'via', 'sub', 'q'))
    assert os.path.isdir(top) and os.listdir(os.path.join(base, 'real', 'sub')) == []


def test_a_quarantine_below_a_member_writable_directory_is_refused(cache, base):
    top = make_wheel_entry(cache, entry='Bad1')
    write(os.path.join(top, 'demo', 'core.py'), b'')
    shared = os.path.join(base, 'shared')
    os.mkdir(shared)
    os.chown(shared, 0, GID)
    os.chmod(shared, 0o2770)
    with pytest.raises(Exception, match='can be changed by users other than root'):
        verify.run(cache, repair=True, quarantine_dir=os.path.join(shared, 'q'))
    assert os.path.isdir(top) and os.listdir(shared) == []


EVIL = 'x\n\x1b[2J\x1b[1;1Huvfleet verify: ok: 0 entries\u202e\udcff'


def test_names_a_member_forges_never_reach_the_terminal_raw(cache, base, capsys):
    make_wheel_entry(cache, entry='Good1')
    share(cache)

    def plant(archive):
        os.makedirs(os.path.join(archive, EVIL, 'evil-1.dist-info'))
        with open(os.path.join(archive, EVIL, 'evil-1.dist-info', 'RECORD'), 'w') as handle:
            handle.write('evil-1.dist-info/RECORD,,\n')
        with open(os.path.join(archive, EVIL, 'evil\n\x1b]0;pwned\x07.pth'), 'w') as handle:
            handle.write('import os\n')
        os.symlink('/etc/shadow', os.path.join(archive, 'link\x1b[31m'))
    as_member(plant, os.path.join(cache, 'archive-v0'))
    code = command.main(['verify', '--compact', '--no-record', '--fail-on-findings', cache])
    out = capsys.readouterr()
    assert code == 1
    # one summary line, no control character, the names escaped
    assert out.err.count('\n') == 1 and not any(ord(c) < 0x20 and c != '\n' for c in out.err)
    assert '\\n\\x1b[2J\\x1b[1;1Huvfleet verify: ok: 0 entries\\u202e\\xff' in out.err
    assert 'link\\x1b[31m' in out.err
    # the JSON is one line and gives the names back exactly
    assert out.out.count('\n') == 1
    report = json.loads(out.out)
    assert sorted(report['remaining']) == sorted([EVIL, 'link\x1b[31m'])
