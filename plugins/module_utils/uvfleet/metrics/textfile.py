# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus node_exporter textfile: render metrics, write them atomically, read one value back.

The textfile collector reads every ``*.prom`` file of its directory on each
scrape, so a file is written to a temporary name in the same directory (not
ending in ``.prom``) and renamed into place: a scrape sees the old file or the
new one, never half of one.  Conventions (node_exporter, Prometheus naming):
one prefix for the collection (``uvfleet_``), base units (seconds, bytes),
``_timestamp_seconds`` for points in time, ``_total`` only for counters, no
timestamps on samples, HELP and TYPE lines before the samples, no label whose
values grow with the users (no user names, no paths below a managed dir).
"""

from __future__ import absolute_import, division, print_function

import math
import os
import re

from ..fs import fileio

PREFIX = 'uvfleet_'
GAUGE = 'gauge'
COUNTER = 'counter'

_NAME = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*$')
_LABEL = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*$')


class MetricsError(ValueError):
    """An invalid metric name, label or value."""


class Metric(object):
    """One metric family: name, type, help text and its samples ``(labels dict, value)``."""

    def __init__(self, name, kind, help_text):
        if not name.startswith(PREFIX) or not _NAME.match(name):
            raise MetricsError('metric name %r must match %s[a-zA-Z0-9_]*' % (name, PREFIX))
        if kind not in (GAUGE, COUNTER):
            raise MetricsError('metric type must be gauge or counter, got %r' % kind)
        if kind == COUNTER and not name.endswith('_total'):
            raise MetricsError('counter %r must end in _total' % name)
        self.name = name
        self.kind = kind
        self.help = help_text
        self.samples = []

    def add(self, value, **labels):
        for label in labels:
            if not _LABEL.match(label) or label.startswith('__'):
                raise MetricsError('invalid label name %r on %s' % (label, self.name))
        self.samples.append((labels, value))
        return self


def format_value(value):
    """A sample value as the text format writes it (bool -> 0/1, ints exact, NaN/Inf spelled out)."""
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return 'NaN'
    if math.isinf(value):
        return '+Inf' if value > 0 else '-Inf'
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape_label(text):
    return str(text).replace('\\', '\\\\').replace('\n', '\\n').replace('"', '\\"')


def _escape_help(text):
    return str(text).replace('\\', '\\\\').replace('\n', '\\n')


def render(metrics):
    """The text exposition format of a list of Metric (each family once, samples in order)."""
    seen = set()
    lines = []
    for metric in metrics:
        if metric.name in seen:
            raise MetricsError('metric %s given twice' % metric.name)
        seen.add(metric.name)
        lines.append('# HELP %s %s' % (metric.name, _escape_help(metric.help)))
        lines.append('# TYPE %s %s' % (metric.name, metric.kind))
        for labels, value in metric.samples:
            if labels:
                text = ','.join('%s="%s"' % (k, _escape_label(labels[k])) for k in sorted(labels))
                lines.append('%s{%s} %s' % (metric.name, text, format_value(value)))
            else:
                lines.append('%s %s' % (metric.name, format_value(value)))
    return '\n'.join(lines) + '\n'


def write_textfile(path, text, mode=0o644):
    """Write text to path atomically: a temporary file in the same directory, fsync, rename (``fileio.replace``).

    The directory is opened once (no symlink followed for the last component)
    and everything happens relative to that fd; the temporary file is created
    O_EXCL|O_NOFOLLOW and does not end in ``.prom``, so nothing planted in the
    directory is written through and no scrape reads half a file.
    """
    if not os.path.basename(path).endswith('.prom'):
        raise MetricsError('%s: the textfile collector reads *.prom files only' % path)
    fileio.replace(path, text.encode('utf-8'), mode)


def read_value(path, name):
    """The value of the unlabelled sample ``name`` in an existing textfile, or None.

    Used to carry a value (the time of the last success) over from the previous
    run; a missing, unreadable or odd file (a symlink, a fifo) gives None, never an error.
    """
    try:
        data = fileio.read_small(path)[1].decode('utf-8', 'replace')
    except OSError:
        return None
    for line in data.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == name:
            try:
                value = float(parts[1])
            except ValueError:
                return None
            return value if math.isfinite(value) else None
    return None
