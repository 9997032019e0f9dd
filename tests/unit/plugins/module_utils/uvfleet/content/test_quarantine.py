# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Repair of the content check: bad entries moved, never edited, into a root-only quarantine."""

from __future__ import absolute_import, division, print_function

import fcntl
import json
import os
import stat

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import main as command
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import check as content
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet import nodeconfig
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import quarantine
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import verify

from content_testlib import make_cache, make_wheel_entry, write


@pytest.fixture
def cache(base):
    return make_cache(base)


def damaged(cache, entry='Bad1'):
    top = make_wheel_entry(cache, entry=entry)
    write(os.path.join(top, 'demo', '__init__.py'), b'VALUE = "poison!"\n')
    os.symlink('../../../archive-v0/' + entry, os.path.join(cache, 'wheels-v8', 'pypi', 'demo', entry))
    return top


def tree_snapshot(path):
    out = {}
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            data = open(full, 'rb').read() if stat.S_ISREG(st.st_mode) else os.readlink(full) \
                if stat.S_ISLNK(st.st_mode) else None
            out[os.path.relpath(full, path)] = (st.st_ino, st.st_mode, data)
    return out


def test_repair_moves_only_the_bad_entry_with_a_note(cache, base):
    good = make_wheel_entry(cache, entry='Good1')
    bad = damaged(cache)
    inside = tree_snapshot(bad)
    result = verify.run(cache, repair=True)
    assert result['changed'] and result['remaining'] == []
    [moved] = result['quarantined']
    qdir = cache + '.quarantine'
    assert moved['to'].startswith(qdir + '/') and moved['to'].endswith('-Bad1/entry')
    assert not os.path.exists(bad) and os.path.isdir(good)
    assert tree_snapshot(moved['to']) == inside  # moved as it was: same inodes, same bytes
    qst = os.stat(qdir)
    assert stat.S_IMODE(qst.st_mode) == 0o700 and qst.st_uid == 0
    note = json.load(open(os.path.join(os.path.dirname(moved['to']), 'note.json')))
    assert note['from'] == bad and note['findings'] == {'wrong_hash': 1}
    assert note['samples'][0]['path'] == 'demo/__init__.py'
    assert stat.S_IMODE(os.stat(os.path.join(os.path.dirname(moved['to']), 'note.json')).st_mode) == 0o600
    # the pointer now dangles (uv fetches again; proven with real uv in molecule/content)
    assert os.path.islink(os.path.join(cache, 'wheels-v8', 'pypi', 'demo', 'Bad1'))
    after = verify.run(cache, repair=True)
    assert after['findings'] == {} and not after['changed']


def test_audit_and_check_mode_change_nothing(cache):
    damaged(cache)
    before = tree_snapshot(os.path.dirname(cache))
    audit = verify.run(cache)
    check = verify.run(cache, repair=True, dry_run=True)
    assert audit['mode'] == 'audit' and not audit['changed'] and audit['remaining'] == ['Bad1']
    assert check['mode'] == 'check' and check['changed'] and check['quarantined'] == []
    assert [w['entry'] for w in check['would_quarantine']] == ['Bad1']
    assert tree_snapshot(os.path.dirname(cache)) == before  # no quarantine dir created either


def test_quarantine_inside_the_cache_is_refused(cache):
    damaged(cache)
    with pytest.raises(quarantine.QuarantineError, match='inside the cache'):
        verify.run(cache, repair=True, quarantine_dir=os.path.join(cache, 'q'))
    assert os.path.isdir(os.path.join(cache, 'archive-v0', 'Bad1'))


@pytest.mark.parametrize('setup,match', [
    (lambda q, base: (os.mkdir(q), os.chmod(q, 0o770)), 'mode 0770'),
    (lambda q, base: (os.mkdir(q, 0o700), os.chown(q, 4242, 0)), 'belongs to uid 4242'),
    (lambda q, base: (os.mkdir(os.path.join(base, 'elsewhere'), 0o700), os.symlink(os.path.join(base, 'elsewhere'), q)),
     'symlink'),
])
def test_unsafe_quarantine_directory_is_refused(cache, base, setup, match):
    damaged(cache)
    qdir = os.path.join(base, 'q')
    setup(qdir, base)
    with pytest.raises(quarantine.QuarantineError, match=match):
        verify.run(cache, repair=True, quarantine_dir=qdir)
    assert os.path.isdir(os.path.join(cache, 'archive-v0', 'Bad1'))


def test_entry_replaced_since_the_check_is_not_moved(cache, base):
    top = damaged(cache)
    result = content.check_cache(cache)
    os.rename(top, os.path.join(base, 'aside'))
    make_wheel_entry(cache, entry='Bad1')  # a member put another directory under the name
    moved = quarantine.quarantine(cache, result['bad_entries'])
    assert [m['status'] for m in moved] == ['changed']
    assert os.path.isdir(top)


def test_vanished_entry_is_skipped(cache):
    top = damaged(cache)
    result = content.check_cache(cache)
    os.rename(top, top + '-gone')
    assert [m['status'] for m in quarantine.quarantine(cache, result['bad_entries'])] == ['vanished']


def test_repair_waits_for_the_cache_lock_and_gives_up(cache):
    damaged(cache)
    fd = os.open(os.path.join(cache, '.lock'), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)  # a running uv command
    try:
        with pytest.raises(quarantine.QuarantineError, match='busy'):
            verify.run(cache, repair=True, lock_timeout=1)
    finally:
        os.close(fd)
    assert os.path.isdir(os.path.join(cache, 'archive-v0', 'Bad1'))


def test_lock_that_is_a_fifo_is_never_opened_blocking(cache):
    damaged(cache)
    os.unlink(os.path.join(cache, '.lock'))
    os.mkfifo(os.path.join(cache, '.lock'))
    with pytest.raises(quarantine.QuarantineError, match='not a regular file'):
        verify.run(cache, repair=True)


def test_uvfleet_verify_command(cache, tmp_path, monkeypatch, capsys):
    damaged(cache)
    conf = tmp_path / 'config.json'
    rec = tmp_path / 'record'
    conf.write_text(json.dumps({'cache_dir': cache, 'content_record_dir': str(rec)}))
    os.chmod(str(conf), 0o644)
    monkeypatch.setattr(nodeconfig, 'DEFAULT_PATH', str(conf))
    assert 'verify' in command.SUBCOMMANDS
    assert command.main(['verify', '--fail-on-findings']) == 1
    report = json.loads(capsys.readouterr().out)
    assert report['remaining'] == ['Bad1'] and report['findings'] == {'wrong_hash': 1}
    assert command.main(['verify', '--repair', '--fail-on-findings', '--compact']) == 0
    report = json.loads(capsys.readouterr().out)
    assert [q['entry'] for q in report['quarantined']] == ['Bad1']
    assert command.main(['verify', '--fail-on-findings', cache]) == 0
    out = capsys.readouterr()
    # the node's record directory also when CACHE is given
    assert json.loads(out.out)['record']['file'].startswith(str(rec) + '/')
    assert 'uvfleet verify: ok: ' in out.err
    conf.write_text('{}')
    assert command.main(['verify']) == 2
    assert 'no CACHE given' in capsys.readouterr().err
    assert command.main(['verify', '--jobs', '0', cache]) == 2


def test_usage_lists_verify(capsys):
    command.main(['--help'])
    assert 'verify' in capsys.readouterr().out
