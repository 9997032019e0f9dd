# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/security.md names the test that attacks each place root touches: each one named exists.

A test renamed, moved or deleted without the inventory following would leave a promise
with nothing behind it.
"""

from __future__ import absolute_import, division, print_function

import os
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir)


def _sources():
    defs, files = set(), set()
    for top in ('tests', 'molecule'):
        for dirpath, _dirs, names in os.walk(os.path.join(ROOT, top)):
            for name in names:
                if name.endswith('.py'):
                    files.add(name)
                    with open(os.path.join(dirpath, name), encoding='utf-8') as handle:
                        defs.update(re.findall(r'^def (test_\w+)', handle.read(), re.M))
    return defs, files


def test_every_test_the_security_page_names_exists():
    with open(os.path.join(ROOT, 'docs', 'security.md'), encoding='utf-8') as handle:
        text = handle.read()
    named = set(re.findall(r'`(test_\w+(?:\.py)?)`', text))
    assert len(named) > 30, 'the inventory names its tests in backquotes'
    defs, files = _sources()
    missing = sorted(n for n in named if n not in (files if n.endswith('.py') else defs))
    assert not missing, 'docs/security.md names tests that do not exist: %s' % ', '.join(missing)
