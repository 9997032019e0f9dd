# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node command uvfleet: one file per command, argument parsing and exit status only (main.py dispatches)."""

from __future__ import absolute_import, division, print_function
