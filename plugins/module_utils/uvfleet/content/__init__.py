# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The content check: unpacked wheels of the cache against their RECORD, and the quarantine of bad ones (cache_verify, uvfleet verify)."""

from __future__ import absolute_import, division, print_function
