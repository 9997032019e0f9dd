# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet verify --metrics-file``: the content check's findings in a node_exporter textfile."""

from __future__ import absolute_import, division, print_function

import json
import os

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import main as command
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.content import check as content

from content_testlib import make_cache, make_wheel_entry, write
from metrics_testlib import samples, value


def test_findings_quarantine_and_remaining_bad_entries_reach_the_metrics(base, capsys):
    cache = make_cache(base)
    make_wheel_entry(cache, entry='Good1')
    bad = make_wheel_entry(cache, entry='Bad1')
    write(os.path.join(bad, 'demo', 'core.py'), b'')  # truncated to zero bytes (uv#6648)
    prom = os.path.join(base, 'uvfleet_content.prom')
    rec = os.path.join(base, 'record')

    assert command.main(['verify', '--compact', '--record-dir', rec, '--metrics-file', prom, cache]) == 0
    report = json.loads(capsys.readouterr().out)
    m = samples(prom)
    assert value(m, 'uvfleet_content_check_success') == 1
    assert value(m, 'uvfleet_content_findings', kind='wrong_size', **{'class': 'bad'}) == 1
    # every kind has its series, zeros included, so that an alert rule never sees "no data"
    assert all(value(m, 'uvfleet_content_findings', kind=k, **{'class': c}) is not None for k, c in content.KINDS)
    assert value(m, 'uvfleet_content_entries', state='checked') == 2
    assert value(m, 'uvfleet_content_entries', state='bad') == 1
    assert value(m, 'uvfleet_content_files', state='verified') == report['files_verified'] > 0
    assert value(m, 'uvfleet_content_entries_remaining_bad') == 1
    assert value(m, 'uvfleet_content_entries_quarantined') == 0

    assert command.main(['verify', '--repair', '--compact', '--record-dir', rec, '--metrics-file', prom, cache]) == 0
    capsys.readouterr()
    m = samples(prom)
    assert value(m, 'uvfleet_content_entries_quarantined') == 1
    assert value(m, 'uvfleet_content_entries_remaining_bad') == 0


def test_a_check_that_cannot_run_says_so_in_the_metrics(base, capsys):
    prom = os.path.join(base, 'uvfleet_content.prom')
    assert command.main(['verify', '--no-record', '--metrics-file', prom, os.path.join(base, 'no-such-cache')]) == 2
    assert json.loads(capsys.readouterr().out)['failed'] is True
    m = samples(prom)
    assert value(m, 'uvfleet_content_check_success') == 0
    assert value(m, 'uvfleet_content_check_last_run_timestamp_seconds') > 0
    assert value(m, 'uvfleet_content_findings', kind='wrong_hash', **{'class': 'bad'}) is None


def test_a_metrics_file_that_cannot_be_written_fails_the_run_but_keeps_the_report(base, capsys):
    cache = make_cache(base)
    make_wheel_entry(cache, entry='Good1')
    assert command.main(['verify', '--compact', '--no-record', '--metrics-file', os.path.join(base, 'metrics.txt'),
                         cache]) == 1
    out = capsys.readouterr()
    assert 'textfile collector reads *.prom files only' in out.err
    assert json.loads(out.out)['entries'] == 1
