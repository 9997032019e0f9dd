# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Incremental audits through the module on the compliant tree, against ``find -printf '%m %G'`` (benchmark only).

Per repeat, on the compliant tree of ``bench/tree.py`` (warm), each step measured beside
``find`` in the same run (the order alternates):

1. ``today``: the module of a given older checkout (``--baseline``, e.g. main), a full audit;
2. ``first``: this checkout's module with an empty state dir: a full audit that leaves a state;
3. ``second``: the same again: incremental, nothing changed;
4. ``day``: 1% of the files changed after the watermark (a ``chmod`` to the mode they have,
   which moves their ctime and leaves them compliant) and 1% new entries (new archive ids in
   ``archive-v0``): incremental.

The module runs as Ansible runs it on a node, minus the transfer: ``python cache_perms.py
ARGS.json`` (AnsibleModule reads its arguments from that file), audit, the defaults
(``jobs: auto``), the state dir pointed at a scratch dir with ``UVFLEET_PERMS_STATE_DIR``.
Wall time and peak RSS come from ``run.measure`` (GNU time). Medians of ``--repeat`` runs.

    python3 bench/incremental.py --root /var/tmp/uvfleet-bench/tree-1000000 --gid 4343 \\
        --baseline /tmp/main-checkout --repeat 3
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import tree as treemod  # noqa: E402
from run import find_ref, measure, warm  # noqa: E402

MODULE = os.path.join('plugins', 'modules', 'cache_perms.py')
#: an interpreter with ansible-core (the module imports AnsibleModule): the checkout's venv (make venv)
PYTHON = os.path.join(REPO, '.venv', 'bin', 'python')


def layout(checkout, work, name):
    """A collections path whose uvfleet.uv is the checkout (the module imports its module_utils from it)."""
    top = os.path.join(work, name)
    os.makedirs(os.path.join(top, 'ansible_collections', 'uvfleet'))
    os.symlink(os.path.abspath(checkout), os.path.join(top, 'ansible_collections', 'uvfleet', 'uv'))
    return top


def module_step(checkout, colls, args_file, state_dir):
    argv = [PYTHON if os.path.exists(PYTHON) else sys.executable, os.path.join(checkout, MODULE), args_file]
    env = dict(os.environ, PYTHONPATH=colls, UVFLEET_PERMS_STATE_DIR=state_dir)
    return argv, env


def run_module(argv, env, out):
    """Measured module run; the parsed result."""
    m = measure(argv, stdout=out, env=env)
    with open(out) as handle:
        result = json.loads(handle.read())
    return m, result


def day_of_use(root, manifest, fraction, seed, new_first):
    """1% of the files chmod'ed to their own mode (ctime moves, still compliant), and new archive ids."""
    rng = random.Random(seed)
    files = rng.sample(range(manifest['files']), int(manifest['files'] * fraction))
    for j in files:
        path, _uid, mode = treemod.file_entry(root, j)
        os.chmod(path, mode)
    n_new = max(1, int(manifest['entries'] * fraction) // treemod.ENTRIES_PER_ID)
    pid = os.fork()
    if pid == 0:  # _make_ids sets the umask: in a child
        code = 1
        try:
            treemod._make_ids(root, new_first, new_first + n_new)  # pylint: disable=protected-access
            code = 0
        finally:
            os._exit(code)
    if os.waitpid(pid, 0)[1] != 0:
        raise RuntimeError('making new archive ids failed')
    return len(files), n_new * treemod.ENTRIES_PER_ID, new_first + n_new


def measured(rows, label, m, find, result=None):
    row = rows.setdefault(label, {'wall': [], 'find': [], 'rss_kb': [], 'unchanged': [], 'checked': []})
    row['wall'].append(m['wall'])
    row['find'].append(find['wall'])
    row['rss_kb'].append(m['rss_kb'])
    if result is not None:
        row['unchanged'].append(result.get('unchanged'))
        row['checked'].append(result.get('checked_in_full'))
    what = '' if result is None else '%s, %s checked in full, %s unchanged, remaining %s' % (
        result.get('run'), result.get('checked_in_full'), result.get('unchanged'), result.get('remaining'))
    print('  %-8s %6.2f s (find %5.2f s, %.2fx)  %5.1f MB  %s' % (
        label, m['wall'], find['wall'], m['wall'] / find['wall'], m['rss_kb'] / 1024.0, what), flush=True)


def pair(rows, label, root, argv, env, out, flip):
    """The step and find, in alternating order."""
    steps = [('find', lambda: measure(find_ref(root))), ('step', lambda: run_module(argv, env, out))]
    if flip:
        steps.reverse()
    got = dict((name, fn()) for name, fn in steps)
    m, result = got['step']
    if result.get('failed'):
        raise RuntimeError('%s failed: %s' % (label, result.get('msg')))
    measured(rows, label, m, got['find'], result)
    return result


def summary(rows):
    out = {}
    for label, row in rows.items():
        wall, find = statistics.median(row['wall']), statistics.median(row['find'])
        pairs = statistics.median(w / f for w, f in zip(row['wall'], row['find']))
        out[label] = {'wall_s': round(wall, 2), 'find_s': round(find, 2), 'ratio_to_find': round(wall / find, 2),
                      'median_of_pair_ratios': round(pairs, 2),
                      'peak_rss_mb': round(max(row['rss_kb']) / 1024.0, 1),
                      'checked_in_full': row['checked'], 'unchanged': row['unchanged']}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    ap.add_argument('--root', required=True, help='a compliant tree made by bench/tree.py generate')
    ap.add_argument('--gid', type=int, required=True, help='its group')
    ap.add_argument('--baseline', default=None, help='an older checkout whose module is "today" (e.g. main)')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--fraction', type=float, default=0.01)
    ap.add_argument('--json', default=None, help='write the results here')
    args = ap.parse_args(argv)
    manifest = treemod.load_manifest(args.root)
    work = tempfile.mkdtemp(prefix='incr-bench-')
    rows = {}
    first_new = new_first = 0
    try:
        colls = layout(REPO, work, 'this')
        base_colls = layout(args.baseline, work, 'baseline') if args.baseline else None
        args_file = os.path.join(work, 'args.json')
        with open(args_file, 'w') as handle:
            json.dump({'ANSIBLE_MODULE_ARGS': {'path': [args.root], 'group': str(args.gid), 'repair': False}}, handle)
        out = os.path.join(work, 'out.json')
        warm(args.root)
        new_first = first_new = manifest['n_ids'] + 1000
        for r in range(args.repeat):
            print('repeat %d' % (r + 1), flush=True)
            state = os.path.join(work, 'state-%d' % r)
            step, env = module_step(REPO, colls, args_file, state)
            if base_colls:
                base_argv, base_env = module_step(args.baseline, base_colls, args_file, state + '-baseline')
                pair(rows, 'today', args.root, base_argv, base_env, out, r % 2)
            first = pair(rows, 'first', args.root, step, env, out, r % 2)
            assert first['run'] == 'full', first['runs']
            second = pair(rows, 'second', args.root, step, env, out, not r % 2)
            assert second['run'] == 'incremental', second['runs']
            changed, added, new_first = day_of_use(args.root, manifest, args.fraction, 1000 + r, new_first)
            print('  (day of use: %d files changed, %d entries added)' % (changed, added), flush=True)
            pair(rows, 'day', args.root, step, env, out, r % 2)
            time.sleep(0.1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for i in range(first_new, new_first):  # the tree as it was
            shutil.rmtree(os.path.join(args.root, 'archive-v0', treemod.archive_id(i)), ignore_errors=True)
    result = {'entries': manifest['entries'], 'repeat': args.repeat, 'fraction': args.fraction,
              'cores': os.cpu_count(), 'load_at_end': os.getloadavg(), 'steps': summary(rows)}
    print(json.dumps(result['steps'], indent=1, sort_keys=True))
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(result, handle, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
