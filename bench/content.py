# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the content check (uvfleet/content/check.py) against sha256sum, as ratios.

On a cache of REAL wheels (installed with real uv from PyPI into a throwaway cache,
reused with --keep), in ONE run, interleaved: ``sha256sum`` over the same regular
files of ``archive-v0`` (one process, the reference; also ``xargs -P2`` for
information) and the content check with 1 and 2 forked workers and 2 threads.  Cold
(``echo 3 > /proc/sys/vm/drop_caches`` before each command) and warm (after a
warm-up).  Prints MB/s, peak RSS of each child (os.wait4) and the ratio to
sha256sum's throughput in the same mode.  Target of issue 11: >= 0.8x of sha256sum's
warm throughput with two workers.  Never a timed test: see docs/content_check.md.

    python3 bench/content.py                    # build the cache if missing, repeat 3
    python3 bench/content.py --repeat 1 --modes warm
    python3 bench/content.py --uv /path/to/uv --packages "numpy pandas"
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LIB = os.path.join(REPO, 'plugins', 'module_utils')

# Real packages with many files (botocore, plotly, faker, mypy: thousands each) and big
# native wheels (scipy, numpy, pandas): ~30,000 files, ~600 MB unpacked.
PACKAGES = ('plotly botocore sympy django scipy pandas numpy matplotlib babel ansible-core setuptools pip '
            'mypy jedi networkx kubernetes sqlalchemy openpyxl faker')

CHECK = '''
import json, shutil, sys, tempfile
sys.path.insert(0, %r)
from uvfleet.content import check as content
record = sys.argv[4] if len(sys.argv) > 4 else None
fresh = record == 'fresh'
if fresh:  # first sight of every entry: the whole record is written
    record = tempfile.mkdtemp(prefix='bench-content-record-')
r = content.check_cache(sys.argv[1], workers=int(sys.argv[2]), pool=sys.argv[3], record_dir=record)
if fresh:
    shutil.rmtree(record)
out = dict((k, r[k]) for k in ('files', 'files_verified', 'files_unverifiable', 'bytes_hashed', 'findings'))
out['record'] = r['record']['entries']
# VmHWM of this process's own memory (ru_maxrss would include the parent's at fork)
out['vmhwm_mib'] = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] / 1024.0
print(json.dumps(out))
''' % LIB


def build_cache(cache, uv, packages):
    """Fill ``cache`` with real installs (uv pip install into a throwaway venv)."""
    env = dict(os.environ, UV_CACHE_DIR=cache, UV_NO_CONFIG='1', UV_LINK_MODE='copy')
    venv = tempfile.mkdtemp(prefix='bench-content-venv-')
    try:
        subprocess.check_call([uv, 'venv', '-q', venv], env=env)
        subprocess.check_call([uv, 'pip', 'install', '-q', '-p', os.path.join(venv, 'bin', 'python')]
                              + packages.split(), env=env)
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def file_list(cache):
    """The regular files of archive-v0 (what both tools read), NUL-separated, and their total size."""
    paths = []
    total = 0
    for dirpath, _dirs, files in os.walk(os.path.join(cache, 'archive-v0')):
        for name in files:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if not os.path.islink(full) and (st.st_mode & 0o170000) == 0o100000:
                paths.append(full)
                total += st.st_size
    return paths, total


def drop_caches():
    subprocess.call(['sync'])
    with open('/proc/sys/vm/drop_caches', 'w') as handle:
        handle.write('3\n')


def timed(argv, stdin=None):
    """Wall time and stdout of a child."""
    start = time.time()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else None,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(stdin)
    wall = time.time() - start
    if proc.returncode != 0:
        raise SystemExit('%s failed: %s' % (argv[0], err.decode()[-500:]))
    return wall, out


def commands(cache, record_dir):
    py = sys.executable
    return [
        ('sha256sum', ['xargs', '-0', 'sha256sum'], True),
        ('sha256sum -P2', ['xargs', '-0', '-P2', '-n', '500', 'sha256sum'], True),
        ('openssl sha256', ['xargs', '-0', 'openssl', 'dgst', '-sha256'], True),
        ('check 1 process', [py, '-c', CHECK, cache, '1', 'process'], False),
        ('check 2 processes', [py, '-c', CHECK, cache, '2', 'process'], False),
        ('check 2 threads', [py, '-c', CHECK, cache, '2', 'thread'], False),
        # with the root-held record (docs/content_check.md): every entry compared with it and the record saved
        ('check 2 p. record', [py, '-c', CHECK, cache, '2', 'process', record_dir], False),
        # ... and a record written from scratch (first sight of every entry)
        ('check 2 p. 1st sight', [py, '-c', CHECK, cache, '2', 'process', 'fresh'], False),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--cache', default='/var/tmp/uvfleet-bench-content/cache')
    parser.add_argument('--uv', default=shutil.which('uv'), help='uv binary to fill the cache (default: uv on PATH)')
    parser.add_argument('--packages', default=PACKAGES)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--modes', default='cold,warm')
    parser.add_argument('--json', default=os.path.join(HERE, 'results', 'content.json'))
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('run as root (drop_caches, and the check runs as root on nodes)')
    if not os.path.isdir(os.path.join(args.cache, 'archive-v0')):
        if not args.uv:
            raise SystemExit('no cache at %s and no uv to fill it: pip install uv==0.13.9, pass --uv' % args.cache)
        build_cache(args.cache, args.uv, args.packages)
    paths, total = file_list(args.cache)
    listing = b'\0'.join(p.encode() for p in paths)
    print('cache %s: %d files, %.1f MB in archive-v0' % (args.cache, len(paths), total / 1e6))
    record_dir = tempfile.mkdtemp(prefix='bench-content-record-')
    cmds = commands(args.cache, record_dir)
    results = {}
    facts = None
    hwm = {}
    for mode in args.modes.split(','):
        if mode == 'warm':
            for _name, argv, feed in cmds:
                timed(argv, listing if feed else None)
        for _run in range(args.repeat):
            for name, argv, feed in cmds:  # interleaved: every command sees the same machine load
                if mode == 'cold':
                    drop_caches()
                wall, out = timed(argv, listing if feed else None)
                results.setdefault(mode, {}).setdefault(name, []).append(wall)
                if not feed:
                    facts = json.loads(out.decode())
                    hwm[name] = max(hwm.get(name, 0), facts.pop('vmhwm_mib'))
    shutil.rmtree(record_dir)
    report = {'files': len(paths), 'bytes': total, 'check': facts, 'modes': {}}
    print('check: %s' % json.dumps(facts))
    print('%-5s %-20s %9s %9s %8s %9s' % ('mode', 'command', 'median s', 'MB/s', 'ratio', 'HWM MiB'))
    for mode, table in results.items():
        ref = total / statistics.median(table['sha256sum'])
        report['modes'][mode] = {}
        for name, walls in table.items():
            med = statistics.median(walls)
            nbytes = facts['bytes_hashed'] if name.startswith('check') else total
            rate = nbytes / med
            report['modes'][mode][name] = {'walls': walls, 'median': med, 'mb_per_s': rate / 1e6,
                                           'ratio': rate / ref, 'vmhwm_mib': hwm.get(name)}
            peak = '%.1f' % hwm[name] if name in hwm else '-'
            print('%-5s %-20s %9.3f %9.1f %7.2fx %9s' % (mode, name, med, rate / 1e6, rate / ref, peak))
    if 'warm' in report['modes']:
        warm = report['modes']['warm']
        for name in ('check 2 processes', 'check 2 threads'):
            ratio = warm[name]['ratio']
            print('target: %s >= 0.8x sha256sum warm: %.2fx %s' % (name, ratio, 'PASS' if ratio >= 0.8 else 'MISS'))
        print('for information, against openssl (same SHA-NI code as hashlib): %.2fx'
              % (warm['check 2 processes']['mb_per_s'] / warm['openssl sha256']['mb_per_s']))
        print('the root-held record costs: %.2fx of the check without it (compare and save), %.2fx (first sight)'
              % (warm['check 2 p. record']['median'] / warm['check 2 processes']['median'],
                 warm['check 2 p. 1st sight']['median'] / warm['check 2 processes']['median']))
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, 'w') as handle:
        json.dump(report, handle, indent=2)


if __name__ == '__main__':
    main()
