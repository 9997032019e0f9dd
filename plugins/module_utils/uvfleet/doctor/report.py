# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's report: one ``Check`` per line (ok, warning or problem, with its cause and fix), and its text.

The JSON report (``--json``) is ``Diagnosis.run``'s dict; ``render`` is the text one,
every field escaped (``escape.py``): summaries, causes and fixes name files other
members made and the directory the member is in.
"""

from __future__ import absolute_import, division, print_function

from ..escape import printable

OK, WARNING, PROBLEM = 'ok', 'warning', 'problem'


class Check(object):
    """One line of the report."""

    def __init__(self, name, status, summary, cause=None, fix=None, **details):
        self.name = name
        self.status = status
        self.summary = summary
        self.cause = cause
        self.fix = fix
        self.details = details

    def as_dict(self):
        return {'name': self.name, 'status': self.status, 'summary': self.summary,
                'cause': self.cause, 'fix': self.fix, 'details': self.details}


def render(report):
    """The text report: one line per check (and its cause and fix), every field escaped (escape.py).

    Summaries, causes and fixes name files of the cache, the working directory and
    process names: places other members write. Escaped, a name with a newline or escape
    sequences stays inside its own field and never reaches the terminal raw.
    """
    lines = ['uvfleet doctor: %s (uid %s) in %s, group %s' % (
        printable(report['user']), report['uid'], printable(report['cwd']), printable(report['group'] or '-'))]
    for check in report['checks']:
        lines.append('%-8s %-14s %s' % (check['status'], check['name'], printable(check['summary'])))
        if check['status'] == OK:
            continue
        if check['details'].get('blocked_by'):
            lines.append('%24sfix:   as for %s' % ('', check['details']['blocked_by']))
            continue
        if check['cause']:
            lines.append('%24scause: %s' % ('', printable(check['cause'])))
        if check['fix']:
            lines.append('%24sfix:   %s' % ('', printable(check['fix'])))
    if report['problems']:
        lines.append('uv will fail for you here: %d problem(s) above; fix the first one first (%.2f s)'
                     % (report['problems'], report['seconds']))
    else:
        lines.append('uv will work for you here (%d warning(s); %.2f s)' % (report['warnings'], report['seconds']))
    return '\n'.join(lines) + '\n'
