# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/shared/files/managed-retire.py, run as the role runs it (as root): what a managed dir may hold.

A managed Python or tool dir that holds anything a user other than root could have
written is retired (renamed aside, nothing in it changed), never adopted; the
self-check and the check before root's uv runs find the same; retired dirs are removed
fd-based (uvfleet/pythons_tools/rmtree.py), never through a member's link.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, 'plugins', 'module_utils', 'uvfleet'))

from perms_testlib import GID, MEMBER_UID, cleanup, make_dir, make_file, temp_base  # noqa: E402 pylint: disable=wrong-import-position

SCRIPT = os.path.join(HERE, os.pardir, os.pardir, os.pardir, 'roles', 'shared', 'files', 'managed-retire.py')
LIB = os.path.join(HERE, os.pardir, os.pardir, os.pardir, 'plugins', 'module_utils')

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='runs the role\'s script as root')


@pytest.fixture
def opt():
    """base/opt (root 0755) with a managed Python dir and tool dir as root's installs leave them."""
    base = temp_base()
    top = os.path.join(base, 'opt')
    os.mkdir(top)
    os.chmod(top, 0o755)
    dirs = {'base': base, 'opt': top}
    for name in ('python', 'tools'):
        path = dirs[name] = make_dir(os.path.join(top, name), mode=0o2750)
        sub = make_dir(os.path.join(path, 'cpython-3.11.2' if name == 'python' else 'wheel'), mode=0o2750)
        make_file(os.path.join(sub, 'python3.11' if name == 'python' else 'uv-receipt.toml'), mode=0o750)
        os.symlink('cpython-3.11.2', os.path.join(path, 'cpython-3.11')) if name == 'python' else None
    make_file(os.path.join(dirs['tools'], '.lock'), mode=0o666)      # uv's lock: members' uvx takes it
    yield dirs
    cleanup(base)


def run(mode, dirs, **conf):
    done = subprocess.run([sys.executable, SCRIPT, json.dumps(dict({'mode': mode, 'dirs': dirs, 'check': False,
                                                                    'lib': LIB}, **conf))],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert done.stdout, done.stderr
    return json.loads(done.stdout), done.returncode


def test_roots_own_installs_are_kept_uvs_lock_too_even_hardlinked(opt):
    os.link(os.path.join(opt['tools'], '.lock'), os.path.join(opt['base'], 'members-link-to-the-lock'))
    result, code = run('retire', [opt['python'], opt['tools'], os.path.join(opt['opt'], 'bin')])
    assert code == 0 and result == {'changed': False, 'retired': [], 'retiring': []}, result
    assert run('verify', [opt['python'], opt['tools']], fail=True) == ({'changed': False, 'findings': []}, 0)


@pytest.mark.parametrize('plant,why', [
    (lambda d: make_file(os.path.join(d['python'], 'cpython-3.11.2', 'sitecustomize.py'), mode=0o640, uid=MEMBER_UID),
     'owned by uid %d' % MEMBER_UID),
    (lambda d: os.symlink('/etc', os.path.join(d['tools'], 'wheel', 'hers')) or os.lchown(
        os.path.join(d['tools'], 'wheel', 'hers'), MEMBER_UID, GID), 'owned by uid %d' % MEMBER_UID),
    (lambda d: os.chmod(os.path.join(d['python'], 'cpython-3.11.2', 'python3.11'), 0o770), 'writable by the group'),
    (lambda d: os.chmod(os.path.join(d['tools'], 'wheel'), 0o2770), 'writable by the group'),
    (lambda d: os.chmod(d['python'], 0o2757), 'writable by the group or others'),
    (lambda d: subprocess.check_call(['setfacl', '-m', 'u:%d:rwx' % MEMBER_UID,
                                      os.path.join(d['tools'], 'wheel', 'uv-receipt.toml')]), 'writable by the group'),
    (lambda d: os.link(os.path.join(d['python'], 'cpython-3.11.2', 'python3.11'), os.path.join(d['base'], 'x')),
     '2 links'),
    (lambda d: make_file(os.path.join(d['tools'], 'wheel', 'x.lock'), mode=0o666, uid=MEMBER_UID), 'owned by uid'),
], ids=['members-file', 'members-symlink', 'group-writable-file', 'group-writable-dir', 'world-writable-top',
        'acl-grants-write', 'second-link', 'members-lock-file'])
def test_anything_another_user_could_have_written_retires_the_dir_as_it_is(opt, plant, why):
    plant(opt)
    before = sorted(os.listdir(opt['python'])), sorted(os.listdir(opt['tools']))
    result, code = run('retire', [opt['python'], opt['tools']], check=True)
    assert code == 0 and len(result['retired']) == 1 and why in result['retired'][0]['why'], result
    assert (sorted(os.listdir(opt['python'])), sorted(os.listdir(opt['tools']))) == before  # check mode: nothing moved
    dir_ = result['retired'][0]['dir']
    assert run('verify', [dir_])[0]['findings'][0]['why'] == result['retired'][0]['why']
    failed, code = run('verify', [dir_], fail=True)
    assert code == 1 and 'uv_shared_dirs' in failed['msg'] and why in failed['msg'], failed
    st = os.lstat(dir_)
    result, code = run('retire', [opt['python'], opt['tools']])
    assert code == 0 and result['changed'] and result['retiring'] == [dir_], result
    moved = result['retired'][0]['to']
    assert moved.startswith(dir_ + '.retired-') and not os.path.exists(dir_)
    assert (os.lstat(moved).st_ino, os.lstat(moved).st_mode) == (st.st_ino, st.st_mode)  # renamed, not changed
    assert run('retire', [opt['python'], opt['tools']])[0]['retired'] == []                 # idempotent


def test_names_in_the_report_are_escaped(opt):
    name = 'evil\n\x1b[31mname'
    make_dir(os.path.join(opt['tools'], name), uid=MEMBER_UID)
    done = subprocess.run([sys.executable, SCRIPT, json.dumps({'mode': 'verify', 'dirs': [opt['tools']], 'check': True})],
                          stdout=subprocess.PIPE, check=True)
    assert b'\x1b' not in done.stdout and done.stdout.count(b'\n') == 1
    assert 'evil\\nname' not in json.loads(done.stdout)['findings'][0]['why']
    assert 'evil\\n\\u001b[31mname' in json.loads(done.stdout)['findings'][0]['why']


@pytest.mark.parametrize('mode,uid', [(0o775, 0), (0o1777, 0), (0o755, MEMBER_UID)])
def test_a_parent_someone_else_can_change_fails_and_nothing_moves(opt, mode, uid):
    os.chown(opt['opt'], uid, GID)
    os.chmod(opt['opt'], mode)
    make_file(os.path.join(opt['python'], 'hers'), uid=MEMBER_UID)
    make_dir(os.path.join(opt['opt'], 'python.retired-20261206T000000Z'), uid=MEMBER_UID)  # a name she made there
    for action in ('retire', 'verify', 'remove'):
        result, code = run(action, [opt['python']])
        assert code == 1 and 'only root can change' in result['msg'], result
    assert os.path.isdir(opt['python']) and os.path.isdir(opt['python'] + '.retired-20261206T000000Z')


def test_retired_dirs_are_removed_fd_based_and_nothing_else(opt):
    victim = make_file(os.path.join(opt['base'], 'roots-file'), mode=0o600, gid=0, data=b'root')
    hers = make_dir(os.path.join(opt['python'], 'hers'), mode=0o700, uid=MEMBER_UID)
    os.symlink(opt['base'], os.path.join(hers, 'to-base'))
    os.link(victim, os.path.join(hers, 'hardlink'))
    os.mkfifo(os.path.join(hers, 'fifo'))
    retired = run('retire', [opt['python']])[0]['retired'][0]['to']
    others = [os.path.join(opt['opt'], n) for n in ('python.retired-x', 'python.old', 'tools.retired-20261206T000000Z')]
    for path in others:
        os.mkdir(path)
    result, code = run('remove', [opt['python']], check=True)
    assert code == 0 and [r['path'] for r in result['removed']] == [retired] and os.path.isdir(retired), result
    result, code = run('remove', [opt['python']])
    assert code == 0 and result['changed'] and result['removed'][0]['done'] and not result['warnings'], result
    assert not os.path.lexists(retired)
    assert open(victim, 'rb').read() == b'root' and os.stat(victim).st_nlink == 1
    assert all(os.path.isdir(p) for p in others)   # not a retired name of this dir: left alone
    assert run('remove', [opt['python']])[0] == {'changed': False, 'removed': [], 'warnings': []}


def test_purge_removes_each_dir_and_its_retired_ones_fd_based_and_nothing_else(opt):
    """uv_shared_state: absent with uv_shared_purge: the shared dirs members wrote go as a retired dir goes."""
    victim = make_file(os.path.join(opt['base'], 'roots-file'), mode=0o600, gid=0, data=b'root')
    hers = make_dir(os.path.join(opt['tools'], 'hers'), mode=0o2770, uid=MEMBER_UID, gid=GID)
    os.symlink(opt['base'], os.path.join(hers, 'to-base'))
    os.link(victim, os.path.join(hers, 'hardlink'))
    old = make_dir(os.path.join(opt['opt'], 'tools.retired-20261206T000000Z'), mode=0o2770, gid=GID)
    os.symlink(victim, os.path.join(old, 'to-roots-file'))
    inner = make_dir(os.path.join(opt['tools'], 'bin'), mode=0o2770, gid=GID)   # a listed dir inside another
    dirs = [inner, opt['python'], opt['tools'], os.path.join(opt['opt'], 'never-made')]
    result, code = run('purge', dirs, check=True)
    assert code == 0 and sorted(r['path'] for r in result['removed']) == sorted([opt['python'], opt['tools'], old])
    assert all(os.path.isdir(p) for p in (opt['python'], opt['tools'], old)), 'check mode removed something'
    result, code = run('purge', dirs)
    assert code == 0 and result['changed'] and all(r['done'] for r in result['removed']) and not result['warnings'], result
    assert os.listdir(opt['opt']) == []
    assert open(victim, 'rb').read() == b'root' and os.stat(victim).st_nlink == 1 and os.path.isdir(opt['base'])
    assert run('purge', dirs)[0] == {'changed': False, 'removed': [], 'warnings': []}
