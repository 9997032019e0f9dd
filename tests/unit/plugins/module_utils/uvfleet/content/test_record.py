# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 18 (a): the root-held record of each entry's first sight, attacked the way a member would.

The cache is shared as the role shares it (root:GID, 2770/0660); every attack is made
by a real process of a member's uid (``as_member``), every check by root, serially and
with two workers (processes and threads).
"""

from __future__ import absolute_import, division, print_function

import os
import stat

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import check as content
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import record
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import verify

from content_testlib import (as_member, cache, jobs, make_cache, make_env_entry, make_wheel_entry,  # noqa: F401 pylint: disable=unused-import
                             record_hash, rewrite_consistently, share, write)

POISON = b'VALUE = "poison!"\n'  # same size as the genuine module


@pytest.fixture
def rec_dir(base):
    return os.path.join(base, 'state', 'content')


def check(cache, rec_dir, jobs, **kwargs):
    workers, pool = jobs
    return content.check_cache(cache, workers=workers, pool=pool, record_dir=rec_dir, **kwargs)


def kinds(result):
    return sorted((s['kind'], s['path']) for s in result['samples'])


def fill(cache, n=4):
    """A few genuine wheels (more entries than workers), shared."""
    tops = [make_wheel_entry(cache, entry='Entry%d' % i) for i in range(n)]
    share(cache)
    return tops


def test_a_file_rewritten_together_with_its_record_line_is_found(cache, rec_dir, jobs):
    tops = fill(cache)
    first = check(cache, rec_dir, jobs)
    assert first['findings'] == {} and first['record']['state'] == record.CREATED and first['record']['saved']
    assert first['record']['entries']['first_seen'] == 4
    st = os.stat(rec_dir)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700)
    assert stat.S_IMODE(os.stat(first['record']['file']).st_mode) == 0o600

    # the attack: a member rewrites a module and its RECORD row to match (the next member to install it runs it)
    as_member(rewrite_consistently, tops[1], 'demo/__init__.py', POISON)
    assert open(os.path.join(tops[1], 'demo', '__init__.py'), 'rb').read() == POISON
    # against RECORD alone, the entry is sound: that was the hole
    assert content.check_cache(cache)['findings'] == {}

    result = check(cache, rec_dir, jobs)
    assert kinds(result) == [('rewritten', os.path.join(tops[1], 'demo-1.0.dist-info', 'RECORD')),
                             ('rewritten', os.path.join(tops[1], 'demo', '__init__.py'))]
    sample = [s for s in result['samples'] if s['path'].endswith('__init__.py')][0]
    assert sample['current'] == 'sha256=' + record_hash(POISON)[7:] and sample['expected'] != sample['current']
    assert [b['entry'] for b in result['bad_entries']] == ['Entry1']
    assert result['record']['entries']['known'] == 4 and result['files_matched_record'] > 0

    # the record keeps what the entry held at first sight: the next run still finds it
    again = check(cache, rec_dir, jobs)
    assert [b['entry'] for b in again['bad_entries']] == ['Entry1']
    # the repair moves it; the record of the entry is dropped with it
    moved = verify.run(cache, repair=True, record_dir=rec_dir, workers=jobs[0], pool=jobs[1])
    assert [q['entry'] for q in moved['quarantined']] == ['Entry1']
    after = check(cache, rec_dir, jobs)
    assert after['findings'] == {} and after['record']['entries']['dropped'] == 1
    assert after['record']['entries']['known'] == 3


def test_a_member_adds_removes_or_rewrites_in_an_entry_without_record(cache, rec_dir, jobs):
    """No RECORD (uv's scaffolding, a member's directory): only the record can tell."""
    top = make_wheel_entry(cache, entry='NoRecord', record=False)
    share(cache)
    first = check(cache, rec_dir, jobs)
    assert first['findings'] == {'unverifiable': 1} and first['record']['entries']['first_seen'] == 1

    def tamper(top):
        with open(os.path.join(top, 'evil.pth'), 'w') as handle:      # runs in every environment
            handle.write('import os; os.system("id")\n')
        with open(os.path.join(top, 'demo', 'core.py'), 'a') as handle:
            handle.write('import os\n')
        os.unlink(os.path.join(top, 'demo-1.0.dist-info', 'WHEEL'))
        os.symlink('/etc/shadow', os.path.join(top, 'demo', 'shadow'))
    as_member(tamper, top)
    result = check(cache, rec_dir, jobs)
    assert kinds(result) == [
        ('added', os.path.join(top, 'demo', 'shadow')),
        ('added', os.path.join(top, 'evil.pth')),
        ('removed', os.path.join(top, 'demo-1.0.dist-info', 'WHEEL')),
        ('rewritten', os.path.join(top, 'demo', 'core.py')),
        ('unverifiable', top),
    ]
    assert [b['entry'] for b in result['bad_entries']] == ['NoRecord']


def test_a_cached_environment_keeps_its_interpreter_link_and_startup_files(cache, rec_dir, jobs):
    top = make_env_entry(cache)
    share(cache)
    assert check(cache, rec_dir, jobs)['record']['entries']['first_seen'] == 1
    pyc = os.path.join(top, 'lib', 'python3.11', 'site-packages', 'tool', '__pycache__', '__init__.cpython-311.pyc')

    def run_and_tamper(top):
        # what Python does when the environment runs: new bytecode (not a finding)
        write(os.path.join(top, 'lib', 'python3.11', 'site-packages', 'tool', '__pycache__', 'x.cpython-311.pyc'),
              b'bytecode')
        # what a member does: her interpreter behind bin/python, her code in recorded bytecode and startup file
        os.unlink(os.path.join(top, 'bin', 'python'))
        os.symlink('/home/mallory/python', os.path.join(top, 'bin', 'python'))
        write(pyc, b'planted bytecode')
        with open(os.path.join(top, 'pyvenv.cfg'), 'w') as handle:
            handle.write('home = /home/mallory\n')
    as_member(run_and_tamper, top)
    result = check(cache, rec_dir, jobs)
    assert kinds(result) == [('rewritten', os.path.join(top, 'bin', 'python')),
                             ('rewritten', pyc),
                             ('rewritten', os.path.join(top, 'pyvenv.cfg'))]
    link = [s for s in result['samples'] if s['path'].endswith('bin/python')][0]
    assert link['current'] == "symlink to '/home/mallory/python'" and link['expected'] == "symlink to '/usr/bin/python3'"


def test_trust_on_first_use_what_was_tampered_before_the_first_sight_is_recorded(cache, rec_dir, jobs):
    """The documented limit: the record cannot know what an entry held before the check first saw it."""
    top = make_wheel_entry(cache, entry='Early')
    share(cache)
    as_member(rewrite_consistently, top, 'demo/__init__.py', POISON)
    first = check(cache, rec_dir, jobs)
    assert first['findings'] == {} and first['record']['entries']['first_seen'] == 1


def test_an_entry_seen_bad_is_never_recorded_and_a_later_fix_of_its_record_hides_nothing(cache, rec_dir, jobs):
    top = make_wheel_entry(cache, entry='Broken')
    share(cache)
    as_member(write, os.path.join(top, 'demo', '__init__.py'), POISON)     # RECORD not updated: wrong_hash
    first = check(cache, rec_dir, jobs)
    assert first['findings'] == {'wrong_hash': 1} and first['record']['entries']['unrecorded'] == 1
    # she then fixes the RECORD row: as a new entry it is trusted now (first sight of it whole and sound)
    as_member(rewrite_consistently, top, 'demo/__init__.py', POISON)
    assert check(cache, rec_dir, jobs)['record']['entries']['first_seen'] == 1


def test_an_entry_replaced_by_a_symlink_or_a_file_is_bad_and_moved_away(cache, rec_dir, base, jobs):
    tops = fill(cache, 3)
    check(cache, rec_dir, jobs)
    elsewhere = os.path.join(base, 'mallory')
    os.makedirs(elsewhere)
    os.chown(elsewhere, 4242, 4343)

    def swap(top, elsewhere):
        # her tampered copy, with a consistent RECORD, outside the cache; the entry's name points at it
        os.rename(top, os.path.join(elsewhere, 'copy'))
        os.symlink(os.path.join(elsewhere, 'copy'), top)
    as_member(swap, tops[2], elsewhere)
    result = check(cache, rec_dir, jobs)
    assert kinds(result) == [('not_regular', tops[2])]
    assert result['samples'][0]['current'].startswith('symlink to ') and result['bad_entries'][0]['kind'] == 'other'
    assert result['record']['entries']['carried'] == 1  # the record of Entry2 stays
    moved = verify.run(cache, repair=True, record_dir=rec_dir, workers=jobs[0], pool=jobs[1])
    assert [q['entry'] for q in moved['quarantined']] == ['Entry2']
    assert os.path.islink(moved['quarantined'][0]['to']) and not os.path.lexists(tops[2])
    assert os.path.isdir(os.path.join(elsewhere, 'copy'))  # the link was moved, never followed


def test_an_entry_uv_removes_loses_its_record_and_an_id_made_again_is_a_new_entry(cache, rec_dir, jobs):
    tops = fill(cache, 2)
    check(cache, rec_dir, jobs)
    as_member(__import__('shutil').rmtree, tops[0])      # as uv cache prune/clean would
    result = check(cache, rec_dir, jobs)
    assert result['record']['entries']['dropped'] == 1 and result['findings'] == {}
    # uv never makes an id again; whoever does gets a new entry, trusted on first use
    make_wheel_entry(cache, entry='Entry0', files={'other/x.py': b'x = 1\n', 'other-1.dist-info/METADATA': b'M\n'})
    share(cache)
    result = check(cache, rec_dir, jobs)
    assert result['findings'] == {} and result['record']['entries']['first_seen'] == 1


def test_an_entry_moved_away_and_back_within_one_interval_is_compared(cache, rec_dir, base, jobs):
    tops = fill(cache, 2)
    check(cache, rec_dir, jobs)

    def launder(top):
        os.rename(top, top + '.tmp')
        rewrite_consistently(top + '.tmp', 'demo/__init__.py', POISON)
        os.rename(top + '.tmp', top)
    as_member(launder, tops[0])   # a new inode under the same name, rewritten consistently
    result = check(cache, rec_dir, jobs)
    assert ('rewritten', os.path.join(tops[0], 'demo', '__init__.py')) in kinds(result)


def test_check_mode_compares_and_saves_nothing(cache, rec_dir, jobs):
    tops = fill(cache, 2)
    dry = verify.run(cache, repair=True, dry_run=True, record_dir=rec_dir, workers=jobs[0], pool=jobs[1])
    assert dry['record']['state'] == record.ABSENT and not os.path.exists(rec_dir) and dry['changed']
    check(cache, rec_dir, jobs)
    saved = open(os.path.join(rec_dir, record.file_name(cache)), 'rb').read()
    as_member(rewrite_consistently, tops[0], 'demo/__init__.py', POISON)
    dry = verify.run(cache, repair=True, dry_run=True, record_dir=rec_dir, workers=jobs[0], pool=jobs[1])
    assert dry['record']['state'] == record.READ_ONLY and not dry['record']['saved']
    assert [w['entry'] for w in dry['would_quarantine']] == ['Entry0']
    assert open(os.path.join(rec_dir, record.file_name(cache)), 'rb').read() == saved
    assert os.path.isdir(tops[0])


# -- the record itself: where it lives, its integrity, its bounds ---------------------------------------------------

def test_the_record_is_refused_inside_the_cache_through_a_symlink_or_open_to_others(cache, base):
    fill(cache, 1)
    with pytest.raises(content.ContentError, match='inside'):
        content.check_cache(cache, record_dir=os.path.join(cache, 'state'))
    os.makedirs(os.path.join(base, 'real'))
    os.symlink(os.path.join(base, 'real'), os.path.join(base, 'link'))
    with pytest.raises(content.ContentError, match='symlink'):
        content.check_cache(cache, record_dir=os.path.join(base, 'link', 'content'))
    os.makedirs(os.path.join(base, 'open'), 0o700)
    os.chmod(os.path.join(base, 'open'), 0o770)
    with pytest.raises(content.ContentError, match='mode 0770'):
        content.check_cache(cache, record_dir=os.path.join(base, 'open'))
    # a directory above it that a member can change: she could swap the record for hers
    os.makedirs(os.path.join(base, 'shared'))
    os.chown(os.path.join(base, 'shared'), 0, 4343)
    os.chmod(os.path.join(base, 'shared'), 0o2770)
    with pytest.raises(content.ContentError, match='can be changed by users other than root'):
        content.check_cache(cache, record_dir=os.path.join(base, 'shared', 'content'))
    assert not os.path.exists(os.path.join(base, 'shared', 'content'))


def test_a_damaged_record_is_set_aside_and_said_so_never_silently_trusted(cache, rec_dir, jobs):
    tops = fill(cache, 2)
    check(cache, rec_dir, jobs)
    path = os.path.join(rec_dir, record.file_name(cache))
    data = open(path, 'rb').read()
    with open(path, 'wb') as handle:
        handle.write(data.replace(b'"Entry1"', b'"Entry9"'))   # bit rot, or an edit: the checksum no longer fits
    result = check(cache, rec_dir, jobs)
    assert result['record']['state'] == record.RESET and 'checksum' in result['record']['reason']
    assert os.path.exists(path + '.unusable') and result['record']['entries']['first_seen'] == 2
    m = dict((f.name, f) for f in verify.build_metrics(dict(result, remaining=[], quarantined=[]), 0, 1))
    assert m['uvfleet_content_record_reset'].samples == [({}, True)]
    # a record cut short (a crash of another writer, a full disk)
    with open(path, 'r+b') as handle:
        handle.truncate(len(data) // 2)
    assert 'cut short' in check(cache, rec_dir, jobs)['record']['reason']
    assert os.path.isdir(tops[0])


def test_the_record_of_one_cache_is_never_used_for_another(base, jobs):
    one, two = make_cache(os.path.join(base, 'a')), make_cache(os.path.join(base, 'b'))
    rec_dir = os.path.join(base, 'state')
    make_wheel_entry(one, entry='Same')
    make_wheel_entry(two, entry='Same', files={'demo/__init__.py': POISON, 'demo-1.0.dist-info/METADATA': b'M\n'})
    check(one, rec_dir, jobs)
    first_two = check(two, rec_dir, jobs)
    assert first_two['findings'] == {} and first_two['record']['state'] == record.CREATED
    # even a copy of one cache's record under the other's name is refused: it names its cache
    os.rename(os.path.join(rec_dir, record.file_name(one)), os.path.join(rec_dir, record.file_name(two)))
    result = check(two, rec_dir, jobs)
    assert result['record']['state'] == record.RESET and 'another cache' in result['record']['reason']
    assert result['findings'] == {}


def test_a_record_that_is_not_root_only_is_not_trusted(cache, rec_dir, jobs):
    fill(cache, 1)
    check(cache, rec_dir, jobs)
    path = os.path.join(rec_dir, record.file_name(cache))
    os.chmod(path, 0o640)
    result = check(cache, rec_dir, jobs)
    assert result['record']['state'] == record.RESET and 'mode 0640' in result['record']['reason']


def test_a_crash_while_writing_leaves_the_old_record_whole(cache, rec_dir, monkeypatch):
    tops = fill(cache, 3)
    check(cache, rec_dir, (1, 'process'))
    path = os.path.join(rec_dir, record.file_name(cache))
    saved = open(path, 'rb').read()
    as_member(rewrite_consistently, tops[0], 'demo/__init__.py', POISON)
    pid = os.fork()
    if pid == 0:  # a run killed (kill -9, OOM, power) after it wrote part of the new record
        real = record.Store.account
        calls = []

        def account(self, res, now):
            real(self, res, now)
            calls.append(res.name)
            if len(calls) == 2:
                os._exit(9)  # pylint: disable=protected-access
        monkeypatch.setattr(record.Store, 'account', account)
        content.check_cache(cache, workers=1, record_dir=rec_dir)
        os._exit(0)  # pylint: disable=protected-access
    assert os.WEXITSTATUS(os.waitpid(pid, 0)[1]) == 9
    assert open(path, 'rb').read() == saved
    assert [n for n in os.listdir(rec_dir) if n.endswith('.tmp')]  # the half-written new record
    result = check(cache, rec_dir, (1, 'process'))
    assert result['record']['state'] == record.LOADED
    assert ('rewritten', os.path.join(tops[0], 'demo', '__init__.py')) in kinds(result)
    assert not [n for n in os.listdir(rec_dir) if n.endswith('.tmp')]


def test_a_second_run_at_the_same_time_compares_and_saves_nothing(cache, rec_dir, jobs):
    import fcntl
    tops = fill(cache, 2)
    check(cache, rec_dir, jobs)
    as_member(rewrite_consistently, tops[1], 'demo/__init__.py', POISON)
    lock = os.open(os.path.join(rec_dir, record.file_name(cache) + '.lock'), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # the weekly run, still going
    try:
        result = check(cache, rec_dir, jobs)
    finally:
        os.close(lock)
    assert result['record']['state'] == record.BUSY and not result['record']['saved']
    assert [b['entry'] for b in result['bad_entries']] == ['Entry1']


def test_a_removal_while_uv_prunes_is_not_a_finding(cache, rec_dir, monkeypatch):
    """uv cache prune deletes an entry while the check reads it: gone, not damaged."""
    import fcntl
    import shutil
    import threading
    tops = fill(cache, 1)
    check(cache, rec_dir, (1, 'process'))
    real = content._judge  # pylint: disable=protected-access

    def judge_while_pruned(res, found, *args):
        # prune takes the cache lock exclusively and deletes the entry; the walk saw part of it
        lock = os.open(os.path.join(cache, '.lock'), os.O_RDONLY)
        fcntl.flock(lock, fcntl.LOCK_EX)
        os.unlink(os.path.join(tops[0], 'demo', 'core.py'))
        found.pop('demo/core.py', None)

        def finish():
            shutil.rmtree(tops[0])
            os.close(lock)
        threading.Timer(0.5, finish).start()
        return real(res, found, *args)
    monkeypatch.setattr(content, '_judge', judge_while_pruned)
    result = check(cache, rec_dir, (1, 'process'))
    assert result['findings'] == {'vanished': 1} and result['bad_entries'] == []
    assert result['record']['entries']['dropped'] == 1


def test_a_full_record_stops_recording_new_entries_and_says_so(cache, rec_dir, jobs, monkeypatch):
    """A member who makes entries by the million cannot grow root's record without bound."""
    tops = fill(cache, 2)
    check(cache, rec_dir, jobs)
    monkeypatch.setattr(record, 'MAX_BYTES', os.stat(os.path.join(rec_dir, record.file_name(cache))).st_size + 10)
    for i in range(3):
        make_wheel_entry(cache, entry='More%d' % i)
    share(cache)
    as_member(rewrite_consistently, tops[0], 'demo/__init__.py', POISON)
    result = check(cache, rec_dir, jobs)
    counts = result['record']['entries']
    assert (counts['first_seen'], counts['unrecorded'], counts['known']) == (0, 3, 2)
    assert [b['entry'] for b in result['bad_entries']] == ['Entry0']  # what it holds is still compared


def test_bytecode_python_writes_into_an_environment_is_recorded_then_kept(cache, rec_dir, jobs):
    top = make_env_entry(cache)
    share(cache)
    check(cache, rec_dir, jobs)
    pyc = os.path.join(top, 'lib', 'python3.11', 'site-packages', 'tool', '__pycache__', 'later.cpython-311.pyc')
    as_member(write, pyc, b'what python wrote')      # the environment ran: Python wrote bytecode
    result = check(cache, rec_dir, jobs)
    assert result['findings'] == {} and result['record']['saved']
    as_member(write, pyc, b'what mallory wrote')     # then a member replaced it
    result = check(cache, rec_dir, jobs)
    assert kinds(result) == [('rewritten', pyc)]
