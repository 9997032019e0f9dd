# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduled job (uvfleet maintain): repair, prune as the worker account, measure, report."""

from __future__ import absolute_import, division, print_function
