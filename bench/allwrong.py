# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The all-wrong tree: one user filled the cache with umask 022, so every entry is wrong.

The first run of the role on an existing cache meets this tree.  Measured in the same
run as run.py's sections, each command on an identical copy (the tree is reset, untimed,
before every repair):

* audit: ``find -printf '%m %G'`` (reference) vs the CLI at its defaults, ``--jobs 1``
  and ``--jobs N``;
* repair: the CLI at its defaults, ``--jobs 1``, ``--jobs N``, the module at its
  defaults through ``ansible-playbook`` (and the playbook's start-up, a no-op play),
  against the classic pipeline (chgrp -R + chmod -R + find -exec chmod g+s +
  setfacl -R -d) and ``chmod -R g+rwX,o-rwx`` alone.

Every engine repair is checked by an untimed audit (nothing may remain).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import tree as treemod  # noqa: E402  (bench/tree.py)

CHMOD_ONLY = ['chmod', '-R', 'g+rwX,o-rwx']
# back to what the user's umask 022 made (untimed, before every repair)
RESET = r'''
set -e
T="$1"; G="$2"; U="$3"
chown -R -h "$U:$U" "$T"
chmod -R u=rwX,go=rX,g-s "$T"
setfacl -R -b "$T"
chown 0:"$G" "$T"
chmod 2770 "$T"
'''


def root_of(directory, entries):
    return os.path.join(directory, 'tree-allwrong-%d' % entries)


def prepare(root, entries, gid, log):
    """Generate the all-wrong tree, or reset the one kept from an earlier run."""
    if os.path.exists(treemod.manifest_path(root)):
        manifest = treemod.load_manifest(root)
        reset(root, gid)
        log('reusing %s (%d entries)' % (root, manifest['entries']))
    else:
        treemod.remove(root)
        manifest = treemod.generate(root, entries, gid, allwrong=True)
    return manifest


def reset(root, gid):
    subprocess.run(['bash', '-c', RESET, 'reset', root, str(gid), str(treemod.ALLWRONG_ID)], check=True)


def section(ctx, res, measure, read_json, remaining_of, log, playbook_argv=None):
    """Audit and repair of the all-wrong tree (ctx['allwrong_root']) against their references."""
    root, gid, eng, jobs = ctx['allwrong_root'], ctx['gid'], ctx['engine'], ctx['jobs']
    out = os.path.join(ctx['work'], 'allwrong.json')
    flag = eng.parallel_flag
    audits = [('find -printf (reference)', ['find', root, '-printf', '%m %G\n'], None),
              ('engine audit (defaults)', eng.argv('audit', root, gid), out),
              ('engine audit %s 1' % flag, eng.argv('audit', root, gid, 1), out),
              ('engine audit %s %d' % (flag, jobs), eng.argv('audit', root, gid, jobs), out)]
    repairs = [('engine repair (defaults)', eng.argv('repair', root, gid), out),
               ('engine repair %s 1' % flag, eng.argv('repair', root, gid, 1), out),
               ('engine repair %s %d' % (flag, jobs), eng.argv('repair', root, gid, jobs), out),
               ('classic chgrp/chmod/setfacl', ['bash', '-c', ctx['classic'], 'classic', str(gid), root], None),
               ('chmod -R alone', CHMOD_ONLY + [root], None)]
    env = None
    if playbook_argv is not None:
        module_argv, noop_argv, env = playbook_argv(root)
        repairs += [('module repair (defaults, ansible-playbook)', module_argv, os.path.join(ctx['work'], 'm.log')),
                    ('ansible-playbook no-op (start-up)', noop_argv, os.path.join(ctx['work'], 'n.log'))]
    reset(root, gid)
    for r in range(ctx['repeat']):
        order = list(audits)
        if r % 2:
            order.reverse()
        for label, argv, stdout in order:
            m = measure(argv, stdout=stdout)
            extra = {}
            if stdout:
                rep = read_json(stdout)
                extra = {'scanned': rep.get('scanned'), 'entries_with_findings': rep.get('entries_with_findings')}
            res.add('allwrong', label, ' '.join(argv), m, **extra)
            log('  %-40s %7.2f s  %6.1f MB  rc=%d  %s' % (label, m['wall'], m['rss_kb'] / 1024.0, m['rc'], json.dumps(extra)))
    for r in range(ctx.get('repair_repeat', ctx['repeat'])):
        order = list(repairs)
        if r % 2:
            order.reverse()
        for label, argv, stdout in order:
            reset(root, gid)
            m = measure(argv, stdout=stdout, env=env if 'ansible' in label else None)
            extra = {}
            if label.startswith('engine') or label.startswith('module'):
                after = eng.audit_report(root, gid)
                extra['remaining_after'] = remaining_of(after)
                if label.startswith('engine'):
                    extra['entries_changed'] = read_json(stdout).get('entries_changed')
            res.add('allwrong', label, ' '.join(argv), m, **extra)
            log('  %-40s %7.2f s  %6.1f MB  rc=%d  %s' % (label, m['wall'], m['rss_kb'] / 1024.0, m['rc'], json.dumps(extra)))
    reset(root, gid)


def summary(res, ctx):
    """Ratios of the all-wrong section against its references (medians), and the targets."""
    flag, jobs = ctx['engine'].parallel_flag, ctx['jobs']

    def w(label):
        return res.med('allwrong', label)

    def ratio(a, b):
        return round(a / b, 2) if a is not None and b else None
    find = w('find -printf (reference)')
    classic = w('classic chgrp/chmod/setfacl')
    chmod = w('chmod -R alone')
    out = {'walls': dict((k[1], round(res.med(*k), 2)) for k in res.order if k[0] == 'allwrong'),
           'peak_rss_mb': dict((k[1], round(res.peak(*k) / 1024.0, 1)) for k in res.order if k[0] == 'allwrong')}
    ratios = {}
    for label in ('engine audit (defaults)', 'engine audit %s 1' % flag, 'engine audit %s %d' % (flag, jobs)):
        ratios[label + ' / find'] = ratio(w(label), find)
    for label in ('engine repair (defaults)', 'engine repair %s 1' % flag, 'engine repair %s %d' % (flag, jobs),
                  'module repair (defaults, ansible-playbook)'):
        ratios[label + ' / classic'] = ratio(w(label), classic)
        ratios[label + ' / chmod -R'] = ratio(w(label), chmod)
    out['ratios'] = ratios
    audit = ratios['engine audit (defaults) / find']
    rep_c = ratios['engine repair (defaults) / classic']
    rep_m = ratios['engine repair (defaults) / chmod -R']
    out['targets'] = {
        'audit all-wrong <= 2.0x find (defaults)': [audit, audit is not None and audit <= 2.0],
        'repair all-wrong <= 0.5x classic (defaults)': [rep_c, rep_c is not None and rep_c <= 0.5],
        'repair all-wrong <= 1.2x chmod -R (defaults)': [rep_m, rep_m is not None and rep_m <= 1.2],
    }
    return out
