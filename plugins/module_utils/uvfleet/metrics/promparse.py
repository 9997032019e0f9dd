# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A reader of the Prometheus text format (node_exporter textfiles), stdlib only.

``parse(text)`` returns ``[(name, {label: value}, float)]`` for every sample;
``# HELP`` / ``# TYPE`` and other comments are skipped, a trailing timestamp is
dropped, label values are unescaped (``\\\\``, ``\\"``, ``\\n``).  A line that is
not a sample raises ValueError naming the line: the doctor reports a broken
metrics file instead of guessing.
"""

from __future__ import absolute_import, division, print_function

import re

_NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
_SAMPLE = re.compile(r'^(%s)\s*(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$' % _NAME)
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_ESCAPES = {'\\\\': '\\', '\\"': '"', '\\n': '\n'}


def _labels(text, lineno):
    labels = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        found = _LABEL.match(text, pos)
        if not found:
            raise ValueError('line %d: bad labels {%s}' % (lineno, text))
        labels[found.group(1)] = re.sub(r'\\[\\"n]', lambda m: _ESCAPES[m.group(0)], found.group(2))
        pos = found.end()
    return labels


def _value(text, lineno):
    special = {'+Inf': float('inf'), '-Inf': float('-inf'), 'NaN': float('nan')}
    if text in special:
        return special[text]
    try:
        return float(text)
    except ValueError:
        raise ValueError('line %d: bad value %r' % (lineno, text))


def parse(text):
    """Samples of a text-format exposition: [(name, labels, value)]."""
    samples = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        found = _SAMPLE.match(line.strip())
        if not found:
            raise ValueError('line %d: not a sample: %r' % (lineno, line[:120]))
        samples.append((found.group(1), _labels(found.group(2) or '', lineno), _value(found.group(3), lineno)))
    return samples


def first(samples, name, default=None):
    """The value of the first sample called name (any labels), or default."""
    for sample_name, _labels_, value in samples:
        if sample_name == name:
            return value
    return default
