# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node_exporter textfile writer: valid text format (checked by prometheus_client's parser), atomic writes."""

from __future__ import absolute_import, division, print_function

import os
import stat

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.metrics import textfile as M

parser = pytest.importorskip('prometheus_client.parser')


def families(text):
    return dict((f.name, f) for f in parser.text_string_to_metric_families(text))


def test_rendered_text_parses_with_the_reference_parser_and_keeps_every_value():
    g = M.Metric('uvfleet_perms_findings_remaining', M.GAUGE, 'Findings left.\nSecond line \\ with backslash')
    g.add(3, dir='/var/cache/uv', kind='others_perms')
    g.add(0.25, dir='/opt/odd "dir"\\x\nnewline', kind='acl_mask')
    c = M.Metric('uvfleet_maintenance_runs_total', M.COUNTER, 'Runs.').add(7)
    t = M.Metric('uvfleet_maintenance_last_run_timestamp_seconds', M.GAUGE, 'When.').add(1764583200.125)
    b = M.Metric('uvfleet_maintenance_success', M.GAUGE, 'Ok.').add(True)
    text = M.render([g, c, t, b])
    assert text.endswith('\n') and '# TYPE uvfleet_perms_findings_remaining gauge' in text
    parsed = families(text)
    samples = parsed['uvfleet_perms_findings_remaining'].samples
    assert [(s.labels, s.value) for s in samples] == [
        ({'dir': '/var/cache/uv', 'kind': 'others_perms'}, 3.0),
        ({'dir': '/opt/odd "dir"\\x\nnewline', 'kind': 'acl_mask'}, 0.25)]
    assert parsed['uvfleet_perms_findings_remaining'].documentation == 'Findings left.\nSecond line \\ with backslash'
    assert parsed['uvfleet_maintenance_runs'].type == 'counter'
    assert parsed['uvfleet_maintenance_runs'].samples[0].value == 7
    assert parsed['uvfleet_maintenance_last_run_timestamp_seconds'].samples[0].value == 1764583200.125
    assert parsed['uvfleet_maintenance_success'].samples[0].value == 1


def test_names_types_and_labels_are_checked():
    for name in ('node_thing', 'uvfleet_bad-name', 'uvfleet_'[:-1]):
        with pytest.raises(M.MetricsError):
            M.Metric(name, M.GAUGE, 'x')
    with pytest.raises(M.MetricsError):
        M.Metric('uvfleet_runs', M.COUNTER, 'a counter must end in _total')
    with pytest.raises(M.MetricsError):
        M.Metric('uvfleet_x', 'histogram', 'x')
    with pytest.raises(M.MetricsError):
        M.Metric('uvfleet_x', M.GAUGE, 'x').add(1, **{'bad-label': 'v'})
    with pytest.raises(M.MetricsError):
        M.render([M.Metric('uvfleet_x', M.GAUGE, 'x'), M.Metric('uvfleet_x', M.GAUGE, 'x')])
    assert M.format_value(float('nan')) == 'NaN' and M.format_value(float('inf')) == '+Inf'
    assert M.format_value(2.0) == '2' and M.format_value(False) == '0'


def test_write_is_atomic_leaves_no_temporary_file_and_sets_0644(tmp_path):
    os.umask(0o077)
    try:
        path = str(tmp_path / 'uvfleet.prom')
        M.write_textfile(path, 'first\n')
        M.write_textfile(path, 'second\n')
    finally:
        os.umask(0o022)
    assert open(path).read() == 'second\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert sorted(os.listdir(str(tmp_path))) == ['uvfleet.prom']


def test_planted_symlinks_are_replaced_never_written_through(tmp_path):
    victim = tmp_path / 'victim'
    victim.write_text('precious\n')
    out = tmp_path / 'collector'
    out.mkdir()
    os.symlink(str(victim), str(out / 'uvfleet.prom'))
    os.symlink(str(victim), str(out / ('.uvfleet.%d.tmp' % os.getpid())))  # the temporary name, guessed
    M.write_textfile(str(out / 'uvfleet.prom'), 'metrics\n')
    assert victim.read_text() == 'precious\n'
    assert not os.path.islink(str(out / 'uvfleet.prom')) and (out / 'uvfleet.prom').read_text() == 'metrics\n'
    assert sorted(os.listdir(str(out))) == ['uvfleet.prom']


def test_a_symlinked_directory_or_a_non_prom_name_is_refused(tmp_path):
    real = tmp_path / 'real'
    real.mkdir()
    os.symlink(str(real), str(tmp_path / 'link'))
    with pytest.raises(OSError):
        M.write_textfile(str(tmp_path / 'link' / 'uvfleet.prom'), 'x\n')
    with pytest.raises(M.MetricsError):
        M.write_textfile(str(real / 'uvfleet.txt'), 'x\n')
    assert os.listdir(str(real)) == []


def test_read_value_takes_one_unlabelled_sample_and_never_raises(tmp_path):
    path = tmp_path / 'uvfleet.prom'
    assert M.read_value(str(path), 'uvfleet_a') is None
    path.write_text('# HELP uvfleet_a x\nuvfleet_a{dir="d"} 5\nuvfleet_a 1764583200\nuvfleet_b NaN\nuvfleet_c zz\n')
    assert M.read_value(str(path), 'uvfleet_a') == 1764583200.0
    assert M.read_value(str(path), 'uvfleet_b') is None
    assert M.read_value(str(path), 'uvfleet_c') is None
    fifo = str(tmp_path / 'fifo.prom')
    os.mkfifo(fifo)
    assert M.read_value(fifo, 'uvfleet_a') is None  # never blocks on a planted fifo
