# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 18 (b): what a member plants cheaply must not keep root's content check hashing for hours unreported.

A sparse file of 8 TiB costs a member 0 blocks; hashed, it costs root hours.  The
member plants with a real process of her uid in a cache shared as the role shares
it; root checks serially and with two workers.  No test times the check: the alarm
only turns a hang into a failure, the assertions are on what was read and reported.
"""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import main as command
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import check as content
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import verify

from content_testlib import alarm, as_member, cache, jobs, make_wheel_entry, record_hash, share  # noqa: F401 pylint: disable=unused-import

TIB = 1 << 40
GIB = 1 << 30


def plant_sparse(top, rel, size, row=None):
    """The member's sparse file (a few KiB on disk) and, with row='consistent', a RECORD row claiming its size."""
    path = os.path.join(top, rel)
    with open(path, 'wb') as handle:
        handle.write(b'import os\n')
        handle.truncate(size)
    if row is not None:
        with open(os.path.join(top, 'demo-1.0.dist-info', 'RECORD'), 'a') as handle:
            handle.write('%s,%s,%d\n' % (rel, record_hash(b'whatever'), size if row == 'consistent' else 12))
    return path


def check(cache, jobs, **kwargs):
    workers, pool = jobs
    return content.check_cache(cache, workers=workers, pool=pool, **kwargs)


def bad_kinds(result):
    return sorted((s['kind'], s['path']) for s in result['samples'] if s['kind'] not in ('unverifiable',))


@pytest.mark.parametrize('row,kind', [(None, 'unlisted'), ('other', 'wrong_size')])
def test_a_sparse_file_judged_by_its_size_or_listing_is_never_read(cache, jobs, alarm, row, kind):  # pylint: disable=unused-argument
    tops = [make_wheel_entry(cache, entry='E%d' % i) for i in range(3)]
    share(cache)
    as_member(plant_sparse, tops[1], 'demo/huge.py', 8 * TIB, row)
    assert os.stat(os.path.join(tops[1], 'demo', 'huge.py')).st_blocks * 512 <= 64 << 10  # what it cost her
    result = check(cache, jobs, limits=content.Limits(max_file_bytes=0, max_entry_bytes=0, time_budget=0))
    assert bad_kinds(result) == [(kind, os.path.join(tops[1], 'demo', 'huge.py'))]
    assert result['bytes_hashed'] < 1 << 20 and result['complete']


def test_a_sparse_file_with_a_consistent_record_row_is_skipped_and_reported(cache, jobs, alarm):  # pylint: disable=unused-argument
    tops = [make_wheel_entry(cache, entry='E%d' % i) for i in range(3)]
    share(cache)
    as_member(plant_sparse, tops[1], 'demo/huge.py', 8 * TIB, 'consistent')
    result = check(cache, jobs)   # the default limits
    skipped = [s for s in result['samples'] if s['kind'] == 'skipped']
    assert [(s['path'], s['expected']) for s in skipped] == [(os.path.join(tops[1], 'demo', 'huge.py'), 'file_size')]
    assert skipped[0]['current'].startswith('8.0 TiB (') and 'larger than the limit of 16.0 GiB per file' in \
        skipped[0]['current']
    assert result['unchecked']['files']['file_size'] == 1 and result['unchecked']['bytes'] == 8 * TIB
    assert not result['complete'] and result['bytes_hashed'] < 1 << 20
    assert result['findings'] == {'skipped': 1} and result['files_verified'] == 3 * 4
    # the check in the weekly job: the skip is in the journal line and the metrics, never silence
    run = verify.run(cache, workers=jobs[0], pool=jobs[1])
    assert 'INCOMPLETE' in verify.summary_line(run) and '1 files (file_size)' in verify.summary_line(run)


def test_a_sparse_file_grown_after_first_sight_is_rewritten_without_reading_it(cache, base, jobs, alarm):  # pylint: disable=unused-argument
    files = {'demo/data.bin': b'\0' * 4096, 'demo-1.0.dist-info/METADATA': b'M\n'}
    top = make_wheel_entry(cache, entry='E0', files=files)
    share(cache)
    rec_dir = os.path.join(base, 'state')
    check(cache, jobs, record_dir=rec_dir)

    def grow(top):
        plant_sparse(top, 'demo/data.bin', 8 * TIB)
        with open(os.path.join(top, 'demo-1.0.dist-info', 'RECORD'), 'w') as handle:
            handle.write('demo/data.bin,%s,%d\ndemo-1.0.dist-info/METADATA,%s,2\ndemo-1.0.dist-info/RECORD,,\n'
                         % (record_hash(b'x'), 8 * TIB, record_hash(b'M\n')))
    as_member(grow, top)
    result = check(cache, jobs, record_dir=rec_dir)
    assert ('rewritten', os.path.join(top, 'demo', 'data.bin')) in bad_kinds(result)
    assert result['bytes_hashed'] < 1 << 20


def test_an_entry_stops_hashing_at_its_limit(cache, jobs):
    big = os.urandom(600 << 10)
    files = {'demo/a.bin': big, 'demo/b.bin': big, 'demo/c.bin': big, 'demo-1.0.dist-info/METADATA': b'M\n'}
    top = make_wheel_entry(cache, entry='E0', files=files)
    make_wheel_entry(cache, entry='E1')
    share(cache)
    result = check(cache, jobs, limits=content.Limits(max_entry_bytes=1 << 20))
    skipped = [s for s in result['samples'] if s['kind'] == 'skipped']
    assert len(skipped) == 2 and all(s['expected'] == 'entry_size' for s in skipped)
    assert all(s['path'].startswith(top + '/demo/') for s in skipped)
    assert result['unchecked']['files']['entry_size'] == 2 and result['bytes_hashed'] < 2 << 20
    assert result['entries_bad'] == 0 and not result['complete']


def test_the_time_budget_stops_the_run_and_says_what_it_left(cache, jobs, alarm):  # pylint: disable=unused-argument
    """Below every size limit a member can still plant (many large sparse files): the budget bounds the run."""
    tops = [make_wheel_entry(cache, entry='E%d' % i) for i in range(6)]
    share(cache)
    busy = jobs[0]   # one huge file per worker: every worker is hashing holes when the budget ends
    for top in tops[:busy]:
        as_member(plant_sparse, top, 'demo/huge.py', 4 * TIB, 'consistent')
    result = check(cache, jobs, limits=content.Limits(max_file_bytes=0, max_entry_bytes=0, time_budget=2))
    assert not result['complete']
    skipped = result['unchecked']
    assert skipped['files']['time_budget'] == busy and skipped['entries']['time_budget'] == 6 - busy
    assert result['bytes_hashed'] < busy * 4 * TIB
    assert set(s['expected'] for s in result['samples'] if s['kind'] == 'skipped') == {'time_budget'}
    assert result['findings'] == {'skipped': 6}


def test_a_run_cut_short_by_its_budget_leaves_the_next_run_what_it_did_not_verify(cache, base, monkeypatch):
    rec_dir = os.path.join(base, 'state')
    for i in range(3):
        make_wheel_entry(cache, entry='Old%d' % i)
    share(cache)
    content.check_cache(cache, workers=1, record_dir=rec_dir)
    make_wheel_entry(cache, entry='Znew0')  # last by name: first because never looked at
    share(cache)
    real = content.check_entry
    seen = []

    def budget_gone_after_one(archive_fd, name, root_st, max_samples=20, buf=None, limits=None, old=None,
                              lock_fd=None):
        seen.append(name)
        res = real(archive_fd, name, root_st, max_samples, buf, limits, old, lock_fd)
        limits.deadline = 0   # the budget is used up after one entry
        return res
    monkeypatch.setattr(content, 'check_entry', budget_gone_after_one)
    result = content.check_cache(cache, workers=1, record_dir=rec_dir)
    # the never verified entry went first; the others are skipped and keep their record
    assert seen[0] == 'Znew0'
    assert result['record']['entries']['first_seen'] == 1 and result['record']['entries']['carried'] == 3
    assert result['unchecked']['entries']['time_budget'] == 3 and result['entries'] == 4


def test_many_entries_are_bounded_counted_and_their_records_kept(cache, base, jobs):
    rec_dir = os.path.join(base, 'state')
    for i in range(5):
        make_wheel_entry(cache, entry='E%d' % i)
    share(cache)
    check(cache, jobs, record_dir=rec_dir)

    def flood(archive):
        for i in range(200):
            os.mkdir(os.path.join(archive, 'junk%03d' % i))
    as_member(flood, os.path.join(cache, 'archive-v0'))
    result = check(cache, jobs, record_dir=rec_dir, limits=content.Limits(max_entries=50))
    assert result['entries'] == 50 and result['unchecked']['entries']['entry_count'] == 155
    assert not result['complete']
    assert result['record']['entries']['dropped'] == 0  # not listed is not gone
    whole = check(cache, jobs, record_dir=rec_dir)
    # the five wheels were carried, not forgotten: known, not first seen again
    assert whole['record']['entries']['known'] == 5 + result['record']['entries']['first_seen']
    assert whole['findings'] == {'unverifiable': 200}


def test_skips_reach_the_metrics_and_the_journal_line(cache, base, alarm, capsys):  # pylint: disable=unused-argument
    # here, not at the top: without prometheus_client only this test is skipped, not the file
    from metrics_testlib import samples, value  # pylint: disable=import-outside-toplevel
    tops = [make_wheel_entry(cache, entry='E%d' % i) for i in range(2)]
    share(cache)
    as_member(plant_sparse, tops[1], 'demo/huge.py', 8 * TIB, 'consistent')
    prom = os.path.join(base, 'uvfleet_content.prom')
    assert command.main(['verify', '--compact', '--record-dir', os.path.join(base, 'state'), '--metrics-file', prom,
                         '--max-file-size', '1G', cache]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)['unchecked']['files']['file_size'] == 1
    assert 'uvfleet verify: INCOMPLETE: 2 entries; 0 bad; skipped: 1 files (file_size); record created' in out.err
    m = samples(prom)
    assert value(m, 'uvfleet_content_check_complete') == 0
    assert value(m, 'uvfleet_content_skipped_files', reason='file_size') == 1
    assert value(m, 'uvfleet_content_skipped_files', reason='time_budget') == 0
    assert value(m, 'uvfleet_content_skipped_entries', reason='entry_count') == 0
    assert value(m, 'uvfleet_content_skipped_bytes') == 8 * TIB
    assert value(m, 'uvfleet_content_findings', kind='skipped', **{'class': 'report'}) == 1
    assert value(m, 'uvfleet_content_record_entries', state='first_seen') == 1  # E1 is not whole: not recorded
    assert value(m, 'uvfleet_content_record_entries', state='unrecorded') == 1
    assert value(m, 'uvfleet_content_record_saved') == 1
    assert command.main(['verify', '--max-file-size', 'lots', cache]) == 2
    assert 'not a number' in capsys.readouterr().err


def test_an_entry_a_member_made_costly_cannot_keep_the_others_from_being_checked(cache, base, monkeypatch):
    """Her entry is never seen whole (a file over the limit), so never recorded: it still goes to the back."""
    rec_dir = os.path.join(base, 'state')
    hostile = make_wheel_entry(cache, entry='AAhostile')
    for name in ('B1', 'B2'):
        make_wheel_entry(cache, entry=name)
    share(cache)
    as_member(plant_sparse, hostile, 'demo/huge.py', 8 * TIB, 'consistent')
    clock = [1000]
    monkeypatch.setattr(content.time, 'time', lambda: clock[0])
    first = content.check_cache(cache, workers=1, record_dir=rec_dir)
    assert first['record']['entries'] == {'known': 0, 'first_seen': 2, 'unrecorded': 1, 'dropped': 0, 'carried': 0}
    real = content.check_entry
    seen = []

    def budget_gone_after_one(archive_fd, name, root_st, max_samples=20, buf=None, limits=None, old=None,
                              lock_fd=None):
        seen.append(name)
        res = real(archive_fd, name, root_st, max_samples, buf, limits, old, lock_fd)
        limits.deadline = 0
        return res
    monkeypatch.setattr(content, 'check_entry', budget_gone_after_one)
    looked_at = []
    for now in (2000, 3000, 4000):
        clock[0] = now
        del seen[:]
        content.check_cache(cache, workers=1, record_dir=rec_dir)
        looked_at.append(seen[0])
    # her entry once, then the others in turn, not her entry first every time
    assert looked_at == ['AAhostile', 'B1', 'B2']
