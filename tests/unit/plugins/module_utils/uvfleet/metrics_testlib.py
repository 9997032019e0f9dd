# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a node_exporter textfile back the way Prometheus does (prometheus_client's parser)."""

from __future__ import absolute_import, division, print_function

import pytest

parser = pytest.importorskip('prometheus_client.parser')


def samples(path):
    """{(metric, frozenset(labels)): value} from the textfile, parsed by prometheus_client."""
    with open(path) as handle:
        text = handle.read()
    out = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(table, name, **labels):
    return table.get((name, frozenset(labels.items())))
