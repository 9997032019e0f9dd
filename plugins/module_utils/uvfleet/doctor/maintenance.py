# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's check of the maintenance job, from its node_exporter textfile: when it last ran, what it left."""

from __future__ import absolute_import, division, print_function

import time

from ..metrics import promparse
from .probes import ago, read_head
from .report import OK, WARNING

DEFAULT_METRICS = '/var/lib/prometheus/node-exporter/uvfleet.prom'
STALE_SECONDS = 7 * 86400


def check_maintenance(doc):
    path = doc.config.get('metrics_file') or DEFAULT_METRICS
    expected = bool(doc.config.get('maintenance'))
    absent = WARNING if expected else OK
    text = read_head(path, 1 << 20, missing=None)
    if text is None:
        doc.add('maintenance', absent, 'no maintenance job reports here (%s does not exist or is not readable):'
                ' when the shared tree was last audited is unknown' % path,
                cause='the maintenance job is on but has not written its metrics' if expected else None,
                fix="tell the node's admin (the job's journal says why)" if expected else None, path=path)
        return
    try:
        samples = promparse.parse(text)
    except ValueError as exc:
        doc.add('maintenance', WARNING, 'the maintenance metrics %s do not parse: %s' % (path, exc),
                cause='the file is damaged', fix="tell the node's admin", path=path)
        return
    now = time.time()
    last_success = promparse.first(samples, 'uvfleet_maintenance_last_success_timestamp_seconds')
    last_run = promparse.first(samples, 'uvfleet_maintenance_last_run_timestamp_seconds')
    success = promparse.first(samples, 'uvfleet_maintenance_success')
    findings = {}
    for name, labels, value in samples:
        if name == 'uvfleet_perms_findings_remaining' and value > 0:
            key = '%s %s' % (labels.get('dir', '?'), labels.get('kind', '?'))
            findings[key] = findings.get(key, 0) + int(value)
    details = {'path': path, 'last_success': last_success, 'last_run': last_run, 'success': success,
               'findings_remaining': findings}
    if success is not None and success < 1:
        doc.add('maintenance', WARNING, 'the last maintenance run (%s) failed; last success: %s'
                % (ago(last_run, now), ago(last_success, now)),
                cause='the job that audits and repairs the shared tree did not finish',
                fix="tell the node's admin (the job's journal says why)", **details)
    elif findings:
        doc.add('maintenance', WARNING, 'the last audit (%s) left %d findings: %s' % (
            ago(last_run or last_success, now), sum(findings.values()),
            ', '.join('%s x%d' % item for item in sorted(findings.items()))),
            cause='entries the repair could not fix safely', fix="tell the node's admin (`uvfleet audit`)",
            **details)
    elif last_success is None:
        doc.add('maintenance', WARNING, 'the maintenance metrics %s have no successful run yet' % path,
                cause='the job has not succeeded once', fix="tell the node's admin", **details)
    elif now - last_success > STALE_SECONDS:
        doc.add('maintenance', WARNING, 'the last successful maintenance run was %s' % ago(last_success, now),
                cause='the job has stopped running or keeps failing', fix="tell the node's admin", **details)
    else:
        doc.add('maintenance', OK, 'the shared tree was last audited and repaired %s: clean'
                % ago(last_success, now), **details)
