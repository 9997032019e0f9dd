# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's reader of node_exporter textfiles."""

from __future__ import absolute_import, division, print_function

import math

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.metrics import promparse

TEXT = r'''# HELP uvfleet_perms_findings_remaining Findings the last run left
# TYPE uvfleet_perms_findings_remaining gauge
uvfleet_perms_findings_remaining{dir="/var/cache/uv",kind="group_perms"} 3
uvfleet_perms_findings_remaining{ dir = "/odd \"dir\", \\x\n" , kind="others_perms" } 0 1700000000000
uvfleet_maintenance_success 1
uvfleet_maintenance_last_success_timestamp_seconds 1.7e+09

uvfleet_cache_bytes +Inf
uvfleet_x NaN
'''


def test_samples_labels_escapes_and_timestamps():
    samples = promparse.parse(TEXT)
    assert samples[0] == ('uvfleet_perms_findings_remaining', {'dir': '/var/cache/uv', 'kind': 'group_perms'}, 3.0)
    assert samples[1] == ('uvfleet_perms_findings_remaining', {'dir': '/odd "dir", \\x\n', 'kind': 'others_perms'},
                          0.0)
    assert promparse.first(samples, 'uvfleet_maintenance_last_success_timestamp_seconds') == 1.7e9
    assert promparse.first(samples, 'uvfleet_cache_bytes') == float('inf')
    assert math.isnan(promparse.first(samples, 'uvfleet_x'))
    assert promparse.first(samples, 'missing', 'd') == 'd'


@pytest.mark.parametrize('line', ['uvfleet_a{x="1" 2', 'uvfleet_a{x=1} 2', 'uvfleet_a two', '9bad 1',
                                  'uvfleet_a{x="1",,y="2"} 1'])
def test_a_line_that_is_not_a_sample_is_an_error_naming_its_line(line):
    with pytest.raises(ValueError) as info:
        promparse.parse('# ok\n' + line + '\n')
    assert str(info.value).startswith('line 2: ')
