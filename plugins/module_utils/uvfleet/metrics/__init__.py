# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus node_exporter textfiles: written atomically by the jobs, read back by the doctor."""

from __future__ import absolute_import, division, print_function
