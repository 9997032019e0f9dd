# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the uvfleet.uv cache_perms engine against reference tools, as ratios.

Everything is measured in ONE run, side by side, on the same generated tree, warm in
the page cache: each command's wall time (median of --repeat runs, interleaved) and the
peak RSS of the child (os.wait4 rusage: the largest process of the child's tree, never
the parent).  The output is ratios against a reference measured in the same run, never
absolute timed assertions: see docs/benchmarks.md.

    python3 bench/run.py                       # 1,000,000 entries, repeat 3
    python3 bench/run.py --entries 100000 --repeat 1     # quick mode (< 1 min)
    python3 bench/run.py --only audit,repair --keep

Sections: audit (vs find), repair of a 1%-damaged tree (vs find, the classic
chgrp/chmod/setfacl pipeline and docker-stacks' fix-permissions), ansible (50,000
entries: ansible.builtin.file recurse + ansible.posix.acl recursive vs the module and
the CLI), parallel (the engine's parallel walk vs serial, when the CLI offers one).
Runs as root (it chowns, and creates the group ``uvbench`` if it is missing).
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import tree as treemod  # noqa: E402  (bench/tree.py, standard library only)
import allwrong  # noqa: E402  (bench/allwrong.py: the tree one user filled with umask 022)

CLI = os.path.join(REPO, 'bin', 'uvfleet')
FLOOR = os.path.join(HERE, 'floor.py')
VENV_BIN = os.path.join(REPO, '.venv', 'bin')
COLLECTIONS = os.path.join(REPO, 'build', 'collections')
SECTIONS = ('audit', 'repair', 'ansible', 'parallel', 'allwrong')

# docker-stacks' fix-permissions, the find commands exactly as in
# https://github.com/jupyter/docker-stacks/blob/main/images/docker-stacks-foundation/fix-permissions
# (commit 37c8242deecd6f9b76979e1fbc1718e185f28c77), with NB_GID and the directory as arguments.
FIX_PERMISSIONS = r'''
set -e
NB_GID="$1"; shift
for d in "$@"; do
    find "${d}" ! \( -group "${NB_GID}" -a -perm -g+rwX \) \
        -exec chgrp "${NB_GID}" -- {} \+ -exec chmod g+rwX -- {} \+
    find "${d}" \( -type d -a ! -perm -6000 \) -exec chmod +6000 -- {} \+
done
'''

# The classic pipeline every shared-cache recipe ends up with.
CLASSIC = r'''
set -e
G="$1"; T="$2"
chgrp -R "$G" "$T" && chmod -R g+rwX,o-rwx "$T" && find "$T" -type d -exec chmod g+s {} + \
  && setfacl -R -d -m g::rwx,m::rwx,o::--- "$T"
'''

PLAY_FILE_ACL = '''---
- name: Repair a shared tree with ansible.builtin.file and ansible.posix.acl
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Group and mode, recursively
      ansible.builtin.file:
        path: "{{ tree }}"
        state: directory
        recurse: true
        follow: false
        group: "{{ group }}"
        mode: "g+rwX,o-rwx"
    - name: Default ACL, recursively
      ansible.posix.acl:
        path: "{{ tree }}"
        etype: "{{ item.etype }}"
        permissions: "{{ item.perms }}"
        default: true
        recursive: true
        follow: false
        state: present
      loop:
        - {etype: group, perms: rwx}
        - {etype: mask, perms: rwx}
        - {etype: other, perms: "-"}
'''

PLAY_MODULE = '''---
- name: Repair a shared tree with uvfleet.uv.cache_perms
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Repair
      uvfleet.uv.cache_perms:
        path: "{{ tree }}"
        group: "{{ group }}"
%(extra)s'''

PLAY_NOOP = '''---
- name: Start-up cost of ansible-playbook
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.meta: noop
'''


# ---------------------------------------------------------------------------
# measuring one child

TIME = '/usr/bin/time'
TIME_FORMAT = '%M %U %S %e'


def measure(argv, stdout=None, env=None, cwd=None):
    """Run argv; return wall s, peak RSS (KB) of the child's process tree, user/sys s, rc.

    Peak RSS comes from the rusage of the child's own parent, GNU time (a 2 MB process):
    the rusage the Python parent gets from os.wait4 would include the child's pre-exec
    copy of this (large) Python process, because a fork starts with the parent's RSS.
    Both report the largest process of the child's tree (its waited-for descendants
    included): a pipeline's peak is its biggest process.  Without /usr/bin/time,
    os.wait4 is used and the peak is flagged as an upper bound.
    """
    os.sync()                    # dirty inodes of the previous step are not ours to pay
    out = open(stdout, 'wb') if stdout else subprocess.DEVNULL
    err = open(stdout + '.err', 'wb') if stdout else None
    use_time = os.access(TIME, os.X_OK)
    tfile = None
    if use_time:
        fd, tfile = tempfile.mkstemp(prefix='time-')
        os.close(fd)
        argv = [TIME, '-f', TIME_FORMAT, '-o', tfile, '--'] + list(argv)
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd, close_fds=True)
        _pid, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    finally:
        if stdout:
            out.close()
            err.close()
    rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
    proc.returncode = rc         # reaped by wait4: keep Popen from waiting again
    result = {'wall': wall, 'rss_kb': ru.ru_maxrss, 'user': ru.ru_utime, 'sys': ru.ru_stime, 'rc': rc,
              'rss_upper_bound': True}
    if tfile:
        with open(tfile) as fh:
            lines = [line for line in fh.read().splitlines() if line.strip()]
        os.unlink(tfile)
        try:
            rss, user, system, _elapsed = lines[-1].split()
            result.update(rss_kb=int(rss), user=float(user), sys=float(system), rss_upper_bound=False)
        except (IndexError, ValueError):
            pass
    return result


class Results(object):
    """Measurements per (section, label), medians, ratios."""

    def __init__(self):
        self.rows = {}        # (section, label) -> dict(cmd, runs=[...], notes)
        self.order = []

    def add(self, section, label, cmd, m, **extra):
        key = (section, label)
        if key not in self.rows:
            self.rows[key] = {'section': section, 'label': label, 'cmd': cmd, 'runs': []}
            self.order.append(key)
        run = dict(m)
        run.update(extra)
        self.rows[key]['runs'].append(run)

    def med(self, section, label, field='wall'):
        row = self.rows.get((section, label))
        if not row or not row['runs']:
            return None
        return statistics.median(r[field] for r in row['runs'])

    def peak(self, section, label):
        row = self.rows.get((section, label))
        if not row or not row['runs']:
            return None
        return max(r['rss_kb'] for r in row['runs'])


# ---------------------------------------------------------------------------
# the engine's CLI

class Engine(object):
    """Builds command lines for bin/uvfleet audit|repair from what its --help offers."""

    def __init__(self, python, cli=CLI):
        self.python = python
        self.cli = cli
        self.help = ''
        self.parallel_flag = None
        if os.path.exists(cli):
            res = subprocess.run([python, cli, 'audit', '--help'], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, universal_newlines=True, check=False)
            self.help = res.stdout
            for flag in ('--jobs', '--workers', '--parallel', '--threads'):
                if re.search(r'(^|\s)%s\b' % re.escape(flag), self.help):
                    self.parallel_flag = flag
                    break

    @property
    def available(self):
        return os.path.exists(self.cli) and bool(self.help)

    def argv(self, mode, root, group, jobs=None, extra=()):
        argv = [self.python, self.cli, 'repair' if mode == 'repair' else 'audit']
        argv += ['--group', str(group)]
        if jobs and self.parallel_flag:
            argv += [self.parallel_flag, str(jobs)]
        argv += list(extra)
        argv.append(root)
        return argv

    def audit_report(self, root, group):
        """Untimed audit: the parsed JSON report."""
        res = subprocess.run(self.argv('audit', root, group), stdout=subprocess.PIPE,
                             universal_newlines=True, check=False)
        try:
            return json.loads(res.stdout)
        except ValueError:
            return {'error': 'no JSON report (rc %d)' % res.returncode, 'remaining': {}}


def remaining_of(report):
    """Remaining findings by kind (dangling/vanished are informational and not counted)."""
    rem = report.get('remaining') or report.get('findings') or {}
    return dict((k, v) for k, v in rem.items() if v)


def read_json(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------------------
# sections

def warm(root):
    subprocess.run(['find', root, '-printf', '%m %G\n'], stdout=subprocess.DEVNULL, check=True)


def find_ref(root):
    return ['find', root, '-printf', '%m %G\n']


def section_audit(ctx, res, section='audit', jobs_list=(None,)):
    root, group = ctx['root'], ctx['gid']
    eng = ctx['engine']
    out = os.path.join(ctx['work'], 'report.json')
    for r in range(ctx['repeat']):
        cmds = [('find -printf (reference)', find_ref(root), None)]
        for jobs in jobs_list:
            label = 'engine audit' + (' %s %s' % (eng.parallel_flag, jobs) if jobs else '')
            cmds.append((label, eng.argv('audit', root, group, jobs), out))
        if section == 'audit':
            cmds.append(('python fd-walk floor (no policy)', [eng.python, FLOOR, root, str(group)], None))
        if section == 'audit' or (section == 'parallel' and 'audit' not in ctx['only']):
            cmds.append(('python fd-walk floor --jobs %d' % ctx['jobs'],
                         [eng.python, FLOOR, root, str(group), '--jobs', str(ctx['jobs'])], None))
        if r % 2:
            cmds.reverse()            # interleave: neither side always runs first
        for label, argv, stdout in cmds:
            m = measure(argv, stdout=stdout)
            extra = {}
            if stdout:
                rep = read_json(out)
                extra = {'scanned': rep.get('scanned'), 'remaining': remaining_of(rep)}
            res.add(section, label, ' '.join(argv), m, **extra)
            log('  %-28s %7.2f s  %6.1f MB  rc=%d' % (label, m['wall'], m['rss_kb'] / 1024.0, m['rc']))


def repair_methods(ctx, jobs_list=(None,)):
    root, gid, eng = ctx['root'], ctx['gid'], ctx['engine']
    out = os.path.join(ctx['work'], 'report.json')
    methods = []
    for jobs in jobs_list:
        label = 'engine repair' + (' %s %s' % (eng.parallel_flag, jobs) if jobs else '')
        methods.append((label, eng.argv('repair', root, gid, jobs), out))
    return methods + [
        ('classic chgrp/chmod/setfacl', ['bash', '-c', CLASSIC, 'classic', str(gid), root], None),
        ('fix-permissions (docker-stacks)', ['bash', '-c', FIX_PERMISSIONS, 'fix-permissions', str(gid), root], None),
    ]


def run_repairs(ctx, res, section, methods):
    """Each method on the identically re-damaged tree, verified by an untimed audit."""
    root = ctx['root']
    eng = ctx['engine']
    for r in range(ctx['repeat']):
        order = list(methods) + [('find -printf (reference)', find_ref(root), None)]
        if r % 2:
            order.reverse()
        for label, argv, stdout in order:
            treemod.restore(root, ctx['fraction'], ctx['seed'])
            damaged = treemod.damage(root, ctx['fraction'], ctx['seed'])
            m = measure(argv, stdout=stdout, env=ctx.get('env'))
            extra = {'damaged': sum(damaged.values())}
            if stdout:
                rep = read_json(stdout)
                extra['fixed'] = rep.get('fixed')
                extra['entries_changed'] = rep.get('entries_changed')
            if not label.startswith('find') and 'no-op' not in label:
                after = eng.audit_report(root, ctx['gid'])
                extra['remaining_after'] = remaining_of(after)
            res.add(section, label, ' '.join(argv) if label != 'ansible' else label, m, **extra)
            log('  %-34s %7.2f s  %6.1f MB  rc=%d  left after: %s' % (
                label, m['wall'], m['rss_kb'] / 1024.0, m['rc'],
                json.dumps(extra.get('remaining_after', '-'))))
    treemod.restore(root, ctx['fraction'], ctx['seed'])


def section_repair(ctx, res, jobs_list=(None,)):
    run_repairs(ctx, res, 'repair', repair_methods(ctx, jobs_list))


def ansible_env(ctx):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS,
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': '0',
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
        'ANSIBLE_LOCAL_TEMP': os.path.join(ctx['work'], 'ansible-local'),
        'ANSIBLE_REMOTE_TEMP': os.path.join(ctx['work'], 'ansible-remote'),
        'ANSIBLE_STDOUT_CALLBACK': 'default',
        'PATH': VENV_BIN + os.pathsep + env.get('PATH', ''),
    })
    return env


def section_ansible(ctx, res, module_extra=''):
    """50,000-entry tree: file+acl modules vs the module vs the CLI (and find)."""
    playbook = os.path.join(VENV_BIN, 'ansible-playbook')
    work = ctx['work']
    plays = {}
    for name, text in (('file_acl.yml', PLAY_FILE_ACL), ('module.yml', PLAY_MODULE % {'extra': module_extra}),
                       ('noop.yml', PLAY_NOOP)):
        plays[name] = os.path.join(work, name)
        with open(plays[name], 'w') as fh:
            fh.write(text)
    root, gid = ctx['root'], ctx['gid']
    common = [playbook, '-i', 'localhost,', '-c', 'local',
              '-e', 'ansible_python_interpreter=%s' % os.path.join(VENV_BIN, 'python'),
              '-e', 'tree=%s' % root, '-e', 'group=%s' % ctx['group']]
    log_dir = os.path.join(work, 'ansible-logs')
    os.makedirs(log_dir, exist_ok=True)
    methods = [
        ('ansible file+acl modules', common + [plays['file_acl.yml']], os.path.join(log_dir, 'file_acl.log')),
        ('ansible uvfleet.uv.cache_perms', common + [plays['module.yml']], os.path.join(log_dir, 'module.log')),
        ('ansible-playbook no-op (start-up)', common + [plays['noop.yml']], os.path.join(log_dir, 'noop.log')),
    ]
    methods += [m for m in repair_methods(ctx) if m[0] == 'engine repair']
    ctx = dict(ctx, env=ansible_env(ctx))
    run_repairs(ctx, res, 'ansible', methods)


def allwrong_playbooks(ctx):
    """A function root -> (module play argv, no-op play argv, env) for the allwrong section."""
    playbook = os.path.join(VENV_BIN, 'ansible-playbook')
    if not os.path.exists(os.path.join(COLLECTIONS, 'ansible_collections', 'uvfleet', 'uv')):
        subprocess.run(['make', '-C', REPO, 'layout'], check=True, stdout=subprocess.DEVNULL)
    plays = {}
    for name, text in (('module.yml', PLAY_MODULE % {'extra': ''}), ('noop.yml', PLAY_NOOP)):
        plays[name] = os.path.join(ctx['work'], name)
        with open(plays[name], 'w') as fh:
            fh.write(text)

    def argvs(root):
        common = [playbook, '-i', 'localhost,', '-c', 'local',
                  '-e', 'ansible_python_interpreter=%s' % sys.executable,
                  '-e', 'tree=%s' % root, '-e', 'group=%s' % ctx['group']]
        return common + [plays['module.yml']], common + [plays['noop.yml']], ansible_env(ctx)
    return argvs


def section_syscalls_allwrong(ctx):
    """System calls per entry on the all-wrong tree: find, engine audit, engine repair (serial, --jobs 1)."""
    root, gid, eng = ctx['allwrong_root'], ctx['gid'], ctx['engine']
    n = float(ctx['allwrong_entries'])
    out = os.path.join(ctx['work'], 'strace.txt')
    result = {}
    allwrong.reset(root, gid)
    for label, argv in (('find -printf (reference)', find_ref(root)),
                        ('chmod -R alone', allwrong.CHMOD_ONLY + [root]),
                        ('engine audit --jobs 1', eng.argv('audit', root, gid, 1)),
                        ('engine repair --jobs 1', eng.argv('repair', root, gid, 1))):
        allwrong.reset(root, gid)
        counts = strace_counts(argv, out)
        top = sorted(counts['by_call'].items(), key=lambda kv: -kv[1])[:10]
        counts['per_entry'] = counts['total'] / n if counts['total'] else None
        counts['per_entry_by_call'] = dict((k, round(v / n, 3)) for k, v in top)
        result[label] = counts
        log('  %-26s %8s syscalls, %.2f per entry: %s' % (
            label, counts['total'], counts['per_entry'] or 0, ', '.join('%s %d' % kv for kv in top)))
    allwrong.reset(root, gid)
    return result


def strace_counts(argv, out_file):
    """{'total': calls, 'errors': n, 'by_call': {name: calls}} from strace -c -f."""
    subprocess.run(['strace', '-c', '-f', '-o', out_file] + list(argv), stdout=subprocess.DEVNULL, check=False)
    by_call, total, errors = {}, None, 0
    with open(out_file) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 5 and parts[-1] == 'total':
                total = int(parts[3])
                errors = int(parts[4]) if len(parts) == 6 else 0
            elif len(parts) >= 5 and re.match(r'^[0-9.]+$', parts[0]):
                by_call[parts[-1]] = int(parts[3])
    return {'total': total, 'errors': errors, 'by_call': by_call}


def section_syscalls(ctx):
    """System calls per entry: find, engine audit, engine repair of the damaged tree."""
    root, gid, eng = ctx['root'], ctx['gid'], ctx['engine']
    n = float(ctx['entries_actual'])
    out = os.path.join(ctx['work'], 'strace.txt')
    result = {}
    treemod.restore(root, ctx['fraction'], ctx['seed'])
    for label, argv in (('find -printf (reference)', find_ref(root)),
                        ('engine audit', eng.argv('audit', root, gid)),
                        ('engine repair', eng.argv('repair', root, gid))):
        if label == 'engine repair':
            treemod.damage(root, ctx['fraction'], ctx['seed'])
        counts = strace_counts(argv, out)
        top = sorted(counts['by_call'].items(), key=lambda kv: -kv[1])[:8]
        counts['per_entry'] = counts['total'] / n if counts['total'] else None
        result[label] = counts
        log('  %-26s %8s syscalls, %.2f per entry: %s' % (
            label, counts['total'], counts['per_entry'] or 0,
            ', '.join('%s %d' % kv for kv in top)))
    treemod.restore(root, ctx['fraction'], ctx['seed'])
    return result


# ---------------------------------------------------------------------------
# reporting

def log(msg):
    print(msg, file=sys.stderr)
    sys.stderr.flush()


def ratio(a, b):
    return (a / b) if a is not None and b else None


def fmt(x, spec='%.2f'):
    return '-' if x is None else spec % x


def summarize(res, ctx):
    """The table, the ratios and the targets; returns a JSON-able dict."""
    table = []
    refs = {}
    refs_min = {}
    ref_cpu = {}
    for section in SECTIONS:
        refs[section] = res.med(section, 'find -printf (reference)')
        row = res.rows.get((section, 'find -printf (reference)'))
        refs_min[section] = min(r['wall'] for r in row['runs']) if row else None
        ref_cpu[section] = (res.med(section, 'find -printf (reference)', 'user')
                            + res.med(section, 'find -printf (reference)', 'sys')) if row else None
    for key in res.order:
        section, label = key
        row = res.rows[key]
        wall = res.med(section, label)
        ref = refs.get(section)
        entry = {
            'section': section, 'command': label, 'wall_s': wall,
            'wall_runs': [r['wall'] for r in row['runs']],
            'user_s': res.med(section, label, 'user'), 'sys_s': res.med(section, label, 'sys'),
            'peak_rss_mb': res.peak(section, label) / 1024.0,
            'ratio_vs_find': ratio(wall, ref), 'rc': [r['rc'] for r in row['runs']],
            'wall_min_s': min(r['wall'] for r in row['runs']),
            'cpu_ratio_vs_find': ratio(res.med(section, label, 'user') + res.med(section, label, 'sys'), ref_cpu.get(section)),
            'ratio_min_vs_find_min': ratio(min(r['wall'] for r in row['runs']), refs_min.get(section)),
            'cmd': row['cmd'],
        }
        for field in ('remaining_after', 'fixed', 'scanned', 'damaged', 'remaining'):
            values = [r.get(field) for r in row['runs'] if r.get(field) is not None]
            if values:
                entry[field] = values[-1]
        table.append(entry)

    def wall(section, label):
        return res.med(section, label)

    targets = []

    def target(name, value, limit, ok, text, value_min=None):
        targets.append({'target': name, 'value': value, 'limit': limit, 'value_of_minima': value_min,
                        'status': 'n/a' if value is None else ('PASS' if ok(value) else 'MISS'), 'text': text})

    def wmin(section, label):
        row = res.rows.get((section, label))
        return min(r['wall'] for r in row['runs']) if row else None

    a = ratio(wall('audit', 'engine audit'), refs['audit'])
    target('audit <= 1.25x find', a, 1.25, lambda v: v <= 1.25, 'engine audit / find',
           ratio(wmin('audit', 'engine audit'), refs_min['audit']))
    r = ratio(wall('repair', 'engine repair'), refs['repair'])
    target('repair (1% damaged) <= 1.5x find', r, 1.5, lambda v: v <= 1.5, 'engine repair / find',
           ratio(wmin('repair', 'engine repair'), refs_min['repair']))
    c = ratio(wall('repair', 'classic chgrp/chmod/setfacl'), wall('repair', 'engine repair'))
    target('repair >= 3x faster than the classic pipeline', c, 3.0, lambda v: v >= 3.0,
           'classic pipeline / engine repair',
           ratio(wmin('repair', 'classic chgrp/chmod/setfacl'), wmin('repair', 'engine repair')))
    f = ratio(wall('repair', 'fix-permissions (docker-stacks)'), wall('repair', 'engine repair'))
    targets.append({'target': 'repair vs fix-permissions (no target)', 'value': f, 'limit': None,
                    'status': 'info', 'text': 'fix-permissions / engine repair'})
    peaks = [res.peak(s, l) for s, l in res.order if l.startswith('engine')]
    peak = max(peaks) / 1024.0 if peaks else None
    target('peak RSS < 100 MB at %d entries' % ctx['entries_actual'], peak, 100.0, lambda v: v < 100.0,
           'largest peak RSS of any engine run (MB)')
    an = ratio(wall('ansible', 'ansible file+acl modules'), wall('ansible', 'ansible uvfleet.uv.cache_perms'))
    target('>= 10x faster than Ansible file+acl (module in a playbook)', an, 10.0, lambda v: v >= 10.0,
           'file+acl playbook / cache_perms playbook',
           ratio(wmin('ansible', 'ansible file+acl modules'), wmin('ansible', 'ansible uvfleet.uv.cache_perms')))
    noop = wall('ansible', 'ansible-playbook no-op (start-up)')
    if noop is not None and an is not None:
        targets.append({'target': 'Ansible file+acl vs the module, net of ansible-playbook start-up (no target)',
                        'value': ratio(wall('ansible', 'ansible file+acl modules') - noop,
                                       wall('ansible', 'ansible uvfleet.uv.cache_perms') - noop),
                        'limit': None, 'status': 'info', 'text': '(file+acl - no-op) / (cache_perms - no-op)'})
    an2 = ratio(wall('ansible', 'ansible file+acl modules'), wall('ansible', 'engine repair'))
    targets.append({'target': 'Ansible file+acl vs the CLI (no target)', 'value': an2, 'limit': None,
                    'status': 'info', 'text': 'file+acl playbook / CLI repair'})
    par = ctx['engine'].parallel_flag
    if par and refs.get('parallel'):
        for base in ('engine audit', 'engine repair'):
            label = '%s %s %d' % (base, par, ctx['jobs'])
            targets.append({'target': '%s vs serial (no target)' % label, 'value':
                            ratio(wall('parallel', label), wall('parallel', base)), 'limit': None,
                            'status': 'info', 'text': 'parallel / serial wall time'})
        pa = ratio(wall('parallel', 'engine audit %s %d' % (par, ctx['jobs'])), refs['parallel'])
        target('parallel audit beats find (aim)', pa, 1.0, lambda v: v < 1.0, 'parallel audit / find')
    return {'table': table, 'targets': targets, 'references': refs}


def print_summary(summary, ctx):
    out = sys.stdout
    print('', file=out)
    print('uvfleet.uv cache_perms benchmark: %d entries (ansible section: %d), median of %d, %d cores, load now %s%s'
          % (ctx['entries_actual'], ctx.get('ansible_entries_actual') or 0, ctx['repeat'], os.cpu_count() or 0,
             ' '.join('%.2f' % x for x in os.getloadavg()),
             ', %d busy-loop processes (--load)' % ctx['busy'] if ctx.get('busy') else ''), file=out)
    columns = ('section', 'command', 'wall s', 'min s', 'user s', 'sys s', 'RSS MB', 'vs find', 'min/min', 'cpu/cpu')
    hdr = '%-9s %-34s %7s %7s %7s %7s %7s %8s %8s %8s' % columns
    print(hdr, file=out)
    print('-' * len(hdr), file=out)
    for row in summary['table']:
        print('%-9s %-34s %7s %7s %7s %7s %7s %8s %8s %8s' % (
            row['section'], row['command'][:34], fmt(row['wall_s']), fmt(row['wall_min_s']), fmt(row['user_s']),
            fmt(row['sys_s']), fmt(row['peak_rss_mb'], '%.1f'), fmt(row['ratio_vs_find'], '%.2fx'),
            fmt(row['ratio_min_vs_find_min'], '%.2fx'), fmt(row['cpu_ratio_vs_find'], '%.2fx')), file=out)
    leftovers = [(r['section'], r['command'], r['remaining_after']) for r in summary['table']
                 if r.get('remaining_after')]
    repaired = [r for r in summary['table'] if 'remaining_after' in r]
    print('', file=out)
    if not repaired:
        pass
    elif leftovers:
        print('findings left by the engine audit after each repair method:', file=out)
        for section, label, rem in leftovers:
            print('  %-9s %-36s %s' % (section, label, json.dumps(rem, sort_keys=True)), file=out)
    else:
        print('every repair method left a compliant tree (engine audit after each run).', file=out)
    print('', file=out)
    print('targets (issue 3):', file=out)
    for t in summary['targets']:
        extra = ''
        if t.get('value_of_minima') is not None:
            extra = ', %.2f on the minima' % t['value_of_minima']
        print('  %-4s  %-60s %s  (%s%s)' % (t['status'], t['target'], fmt(t['value'], '%.2f'), t['text'], extra),
              file=out)
    out.flush()


# ---------------------------------------------------------------------------

def ensure_group(name, gid):
    """(gid, created) for the bench group: reuse it, or groupadd it with a fixed GID."""
    import grp
    try:
        return grp.getgrnam(name).gr_gid, False
    except KeyError:
        pass
    subprocess.run(['groupadd', '-g', str(gid), name], check=True)
    return gid, True


def check_inodes(path, need):
    st = os.statvfs(path)
    if st.f_favail and st.f_favail < need * 1.2:
        raise SystemExit('not enough free inodes on %s: %d free, %d needed (df -i)' % (path, st.f_favail, need))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('--entries', type=int, default=1000000, help='entries of the main tree (default 1,000,000)')
    ap.add_argument('--ansible-entries', type=int, default=50000, help='entries of the ansible tree (default 50,000)')
    ap.add_argument('--repeat', type=int, default=3, help='runs per command; the median is reported (default 3)')
    ap.add_argument('--only', default=','.join(SECTIONS), help='comma-separated sections: %s' % ','.join(SECTIONS))
    ap.add_argument('--jobs', type=int, default=2, help='workers for the parallel section (default 2)')
    ap.add_argument('--fraction', type=float, default=0.01, help='fraction of entries damaged (default 0.01)')
    ap.add_argument('--repair-repeat', type=int, default=None,
                    help='runs per repair command of the allwrong section (default: --repeat)')
    ap.add_argument('--no-module', action='store_true', help='allwrong section: skip the module (ansible-playbook)')
    ap.add_argument('--seed', type=int, default=20240607)
    ap.add_argument('--dir', default='/var/tmp/uvfleet-bench', help='where the trees go (default /var/tmp/uvfleet-bench)')
    ap.add_argument('--group', default='uvbench', help='group of the trees; created with --gid if missing')
    ap.add_argument('--gid', type=int, default=4242)
    ap.add_argument('--keep', action='store_true', help='keep the trees and the group')
    ap.add_argument('--syscalls', action='store_true',
                    help='also count system calls per entry with strace -c -f (untimed)')
    ap.add_argument('--json', default=os.path.join(HERE, 'results', 'latest.json'), help='where to write the results')
    ap.add_argument('--python', default=sys.executable, help='interpreter for the CLI (default: this one)')
    ap.add_argument('--load', type=int, default=0, metavar='N',
                    help='keep N busy-loop processes running for the whole run (the loaded-machine case; default 0)')
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(',') if s.strip()]
    bad = [s for s in only if s not in SECTIONS]
    if bad:
        ap.error('unknown section(s): %s' % ', '.join(bad))
    if os.geteuid() != 0:
        ap.error('run as root: the trees have numeric owners and a group')
    engine = Engine(args.python)
    if not engine.available:
        ap.error('%s is missing or has no --help: the engine CLI is needed' % CLI)
    if 'ansible' in only and not os.path.exists(os.path.join(VENV_BIN, 'ansible-playbook')):
        log('no %s: skipping the ansible section (make venv)' % os.path.join(VENV_BIN, 'ansible-playbook'))
        only.remove('ansible')
    if 'ansible' in only and not os.path.exists(os.path.join(COLLECTIONS, 'ansible_collections', 'uvfleet', 'uv')):
        subprocess.run(['make', '-C', REPO, 'layout'], check=True, stdout=subprocess.DEVNULL)
    if 'parallel' in only and not engine.parallel_flag:
        log('the CLI offers no parallel walk (no --jobs/--workers/--parallel in --help): skipping "parallel"')
        only.remove('parallel')

    os.makedirs(args.dir, exist_ok=True)
    check_inodes(args.dir, args.entries + args.ansible_entries)
    gid, created_group = ensure_group(args.group, args.gid)
    work = tempfile.mkdtemp(prefix='work-', dir=args.dir)
    main_root = os.path.join(args.dir, 'tree-%d' % args.entries)
    ans_root = os.path.join(args.dir, 'tree-ansible-%d' % args.ansible_entries)
    started = time.time()
    digest_at_start = engine_digest()
    res = Results()
    ctx = {'gid': gid, 'group': args.group, 'engine': engine, 'repeat': args.repeat, 'work': work, 'jobs': args.jobs,
           'only': only,
           'fraction': args.fraction, 'seed': args.seed, 'entries_actual': 0, 'load': {}, 'busy': args.load}
    busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _i in range(max(0, args.load))]
    if busy:
        log('%d busy-loop processes keep the CPUs busy for the whole run (--load)' % len(busy))
    try:
        if any(s in only for s in ('audit', 'repair', 'parallel')):
            if os.path.exists(treemod.manifest_path(main_root)):
                manifest = treemod.load_manifest(main_root)
                treemod.restore(main_root, args.fraction, args.seed)
                log('reusing %s (%d entries)' % (main_root, manifest['entries']))
            else:
                treemod.remove(main_root)
                manifest = treemod.generate(main_root, args.entries, gid)
            ctx.update(root=main_root, entries_actual=manifest['entries'], generated_s=manifest['generated_s'])
            warm(main_root)
            rep = engine.audit_report(main_root, gid)
            ctx['pristine_findings'] = remaining_of(rep)
            log('pristine tree: engine audit scanned %s entries, findings %s'
                % (rep.get('scanned'), json.dumps(ctx['pristine_findings'])))
            jobs_list = (None,)
            if 'audit' in only:
                log('== audit (x%d)' % args.repeat)
                ctx['load']['audit'] = os.getloadavg()
                section_audit(ctx, res)
            if 'repair' in only:
                log('== repair of %.1f%% damaged entries (x%d)' % (args.fraction * 100, args.repeat))
                ctx['load']['repair'] = os.getloadavg()
                section_repair(ctx, res, jobs_list)
            if args.syscalls and shutil.which('strace'):
                log('== system calls (strace -c -f, untimed)')
                ctx['syscalls'] = section_syscalls(ctx)
            if 'parallel' in only:
                log('== parallel walk: %s %d vs serial (x%d)' % (engine.parallel_flag, args.jobs, args.repeat))
                ctx['load']['parallel'] = os.getloadavg()
                section_audit(ctx, res, 'parallel', (None, args.jobs))
                run_repairs(ctx, res, 'parallel',
                            [m for m in repair_methods(ctx, (None, args.jobs)) if m[0].startswith('engine')])
        if 'allwrong' in only:
            aw_root = allwrong.root_of(args.dir, args.entries)
            awm = allwrong.prepare(aw_root, args.entries, gid, log)
            ctx.update(allwrong_root=aw_root, allwrong_entries=awm['entries'], classic=CLASSIC,
                       repair_repeat=args.repair_repeat or args.repeat)
            if not ctx['entries_actual']:
                ctx['entries_actual'] = awm['entries']
            warm(aw_root)
            log('== all-wrong tree, %d entries (audit x%d, repair x%d)'
                % (awm['entries'], args.repeat, ctx['repair_repeat']))
            ctx['load']['allwrong'] = os.getloadavg()
            playbooks = None
            if not args.no_module and os.path.exists(os.path.join(VENV_BIN, 'ansible-playbook')):
                playbooks = allwrong_playbooks(ctx)
            allwrong.section(ctx, res, measure, read_json, remaining_of, log, playbooks)
            if args.syscalls and shutil.which('strace'):
                log('== system calls on the all-wrong tree (strace -c -f, untimed)')
                ctx['syscalls_allwrong'] = section_syscalls_allwrong(ctx)
        if 'ansible' in only:
            if os.path.exists(treemod.manifest_path(ans_root)):
                amanifest = treemod.load_manifest(ans_root)
                treemod.restore(ans_root, args.fraction, args.seed)
            else:
                treemod.remove(ans_root)
                amanifest = treemod.generate(ans_root, args.ansible_entries, gid)
            ctx['ansible_entries_actual'] = amanifest['entries']
            if not ctx['entries_actual']:
                ctx['entries_actual'] = amanifest['entries']
            warm(ans_root)
            log('== ansible, %d entries, %.1f%% damaged (x%d)'
                % (amanifest['entries'], args.fraction * 100, args.repeat))
            ctx['load']['ansible'] = os.getloadavg()
            section_ansible(dict(ctx, root=ans_root), res)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
        if not args.keep:
            for root in (main_root, ans_root, allwrong.root_of(args.dir, args.entries)):
                if os.path.lexists(root):
                    subprocess.run(['rm', '-rf', '--one-file-system', root], check=False)
                treemod.remove(root)
            if created_group:
                subprocess.run(['groupdel', args.group], check=False)
        shutil.rmtree(work, ignore_errors=True)

    summary = summarize(res, ctx)
    print_summary(summary, ctx)
    if 'allwrong' in only:
        summary['allwrong'] = allwrong.summary(res, ctx)
        print(json.dumps(summary['allwrong'], indent=1, sort_keys=True))
    result = {
        'when': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'duration_s': round(time.time() - started, 1),
        'machine': {'cores': os.cpu_count(), 'kernel': platform.release(), 'python': platform.python_version(),
                    'cpu': _cpu_model(), 'fs': _fs_type(args.dir), 'mem_mb': _mem_mb()},
        'load_at_start_of_section': ctx['load'],
        'entries': ctx['entries_actual'], 'ansible_entries': ctx.get('ansible_entries_actual'),
        'generated_s': ctx.get('generated_s'), 'pristine_findings': ctx.get('pristine_findings'),
        'repeat': args.repeat, 'fraction': args.fraction, 'seed': args.seed,
        'engine_parallel_flag': engine.parallel_flag, 'syscalls': ctx.get('syscalls'),
        'syscalls_allwrong': ctx.get('syscalls_allwrong'), 'allwrong_entries': ctx.get('allwrong_entries'),
        'engine_digest': engine_digest(),
    }
    if result['engine_digest'] != digest_at_start:
        result['engine_digest_at_start'] = digest_at_start
        log('WARNING: the engine sources changed during the run (%s -> %s): the results mix versions'
            % (digest_at_start, result['engine_digest']))
    result.update(summary)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as fh:
            json.dump(result, fh, indent=1, sort_keys=True, default=str)
        log('results written to %s' % args.json)
    return 0


def engine_digest():
    """sha256 of the engine's sources, so a result names the code it measured."""
    import hashlib
    digest = hashlib.sha256()
    lib = os.path.join(REPO, 'plugins', 'module_utils')
    for top, dirs, files in os.walk(os.path.join(lib, 'uvfleet')):
        dirs.sort()
        for name in sorted(files):
            if name.endswith('.py'):
                path = os.path.join(top, name)
                with open(path, 'rb') as fh:
                    digest.update(os.path.relpath(path, lib).encode() + b'\0' + fh.read())
    return digest.hexdigest()[:16]


def _cpu_model():
    try:
        with open('/proc/cpuinfo') as fh:
            for line in fh:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _mem_mb():
    try:
        return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // (1024 * 1024)
    except (ValueError, OSError):
        return None


def _fs_type(path):
    try:
        return subprocess.run(['stat', '-f', '-c', '%T', path], stdout=subprocess.PIPE,
                              universal_newlines=True, check=False).stdout.strip()
    except OSError:
        return None


if __name__ == '__main__':
    sys.exit(main())
