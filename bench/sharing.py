# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure what sharing one uv cache saves: N users install the same packages.

    python3 bench/sharing.py            (make sharing; root, podman, ~10-20 min)
    python3 bench/sharing.py --plot     only redraw the figure and table from the last results

Eight real Unix users (u1..u8, members of the group ``uvshared``) each create a venv and
install the same real package set (numpy, scipy, pandas, matplotlib, pillow and their
dependencies: compiled wheels, ~90 MB of wheels, a few hundred MB installed) with the
real uv (the pinned wheel's binary), one after the other, in a throwaway container
(``uvfleet-bench-sharing``, from localhost/uvfleet/debian:12). Everything they write
(caches and venvs) is on a file system made on a loop file of the host and bind-mounted
into the container: ext4, and XFS made with ``mkfs.xfs -m reflink=1``. Eight set-ups,
one after the other (each in its own directory, removed afterwards):

- one shared cache, set up as uvfleet.uv.shared does it (root-owned, group
  ``uvshared``, mode 2770, default ACL ``u::rwx,g::rwx,m::rwx,o::---``, ``cache-dir``
  and ``link-mode`` in /etc/uv/uv.toml, members calling uv through a wrapper), and
- per-user caches (uv's default: each user has their own),

each with ``link-mode`` copy and hardlink on ext4, clone and copy on XFS (on a reflink
file system uv's copy, ``copy_file_range``, shares extents as well).

After each user: the wall time of ``uv venv`` + ``uv pip install``, and the disk used by
caches + venvs, counted three ways: ``du -sk`` (hardlinks counted once, reflinked
extents counted in full for every file), distinct inodes and their blocks (a walk with
lstat), and the file system's used blocks and inodes (statvfs, after syncfs), which is
the only count that sees reflink sharing. The wheels are downloaded once on the host
(pip download, pinned versions) and installed with ``--no-index --find-links``: no
network in the timings. Results: bench/results/sharing.json; the table in
docs/sharing.md and the figure docs/figures/sharing.png are written from it.

Needs: root, podman, loop devices, mkfs.xfs (xfsprogs: ``make host``), the image
(``make images IMAGES=12``), matplotlib for the figure (``make venv``), and PyPI once for
the wheels (kept in /var/tmp/uvfleet-bench-sharing/wheels for the next run). With
``--node`` this file is the driver that runs inside the container (stdlib only).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, 'results', 'sharing.json')
DOC = os.path.join(REPO, 'docs', 'sharing.md')
FIGURE = os.path.join(REPO, 'docs', 'figures', 'sharing.png')
IMAGE = 'localhost/uvfleet/debian:12'
NAME = 'uvfleet-bench-sharing'
WORK = '/var/tmp/uvfleet-bench-sharing'

# The package set, with every dependency pinned (cp311 wheels: Debian 12's Python).
REQUESTED = ['numpy', 'scipy', 'pandas', 'matplotlib', 'pillow']
WHEELS = ['numpy==2.4.6', 'scipy==1.17.1', 'pandas==3.1.1', 'matplotlib==3.11.2', 'pillow==13.0.0',
          'contourpy==1.3.3', 'cycler==0.12.1', 'fonttools==4.68.0', 'kiwisolver==1.5.1', 'packaging==26.4',
          'pyparsing==3.3.3', 'python-dateutil==4.0.0', 'tzdata==2026.6']
USERS = ['u%d' % i for i in range(1, 9)]
# (link mode, file system): copy on ext4 is a real copy; on XFS with reflink=1 uv's copy
# (std::fs::copy, i.e. copy_file_range) shares extents too, so it is measured on both.
VARIANTS = ['copy@ext4', 'hardlink@ext4', 'clone@xfs', 'copy@xfs']
LAYOUTS = ['shared', 'per_user']
GROUP, GID = 'uvshared', 2790
FILESYSTEMS = {'xfs': ['mkfs.xfs', '-q', '-f', '-m', 'reflink=1'], 'ext4': ['mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0']}
FS_SIZE = {'xfs': '6G', 'ext4': '8G'}

# In the container: each file system mounted at /<name>
WHEELDIR = '/srv/wheels'
REAL_UV = '/opt/uv/bin/uv'
WRAPPER = '/usr/local/bin/uv'
PYTHON = '/usr/bin/python3'


# ---------------------------------------------------------------- node side (--node)

def node_sh(argv, **kwargs):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kwargs).stdout


def fs_used(mount):
    """Used bytes and inodes of a file system, after syncfs, once two reads agree (XFS frees lazily)."""
    last = None
    for _attempt in range(30):
        fd = os.open(mount, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.sync()
            st = os.fstatvfs(fd)
        finally:
            os.close(fd)
        now = ((st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files - st.f_ffree)
        if now == last:
            return now
        last = now
        time.sleep(1)
    return last


def walk_count(top):
    """Entries, distinct inodes, their allocated bytes, and apparent bytes of every path."""
    seen = set()
    entries = allocated = apparent = 0
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            entries += 1
            apparent += st.st_size
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                allocated += st.st_blocks * 512
    return {'entries': entries, 'inodes': len(seen), 'inode_bytes': allocated, 'apparent_bytes': apparent}


def node_setup():
    node_sh(['groupadd', '-g', str(GID), GROUP])
    for user in USERS:
        node_sh(['useradd', '-m', '-s', '/bin/bash', '-G', GROUP, user])
    # the collection's wrapper: uv runs through /usr/local/bin/uv (the real binary elsewhere)
    with open(WRAPPER, 'w') as handle:
        handle.write('#!/bin/sh\n# as uvfleet.uv.shared writes it: environment-only settings, then the real uv\n'
                     ': "${UV_PYTHON_DOWNLOADS:=never}"\nexport UV_PYTHON_DOWNLOADS\nexec %s "$@"\n' % REAL_UV)
    os.chmod(WRAPPER, 0o755)
    os.makedirs('/etc/uv', exist_ok=True)


def node_layout(layout, mode, fs):
    base = os.path.join('/' + fs, '%s-%s' % (layout, mode))
    os.mkdir(base)
    os.chmod(base, 0o755)
    for sub in ('venvs', 'caches'):
        os.mkdir(os.path.join(base, sub))
        os.chmod(os.path.join(base, sub), 0o755)
    toml = ['# as uvfleet.uv.shared writes it (bench/sharing.py)']
    if layout == 'shared':
        cache = os.path.join(base, 'cache')
        os.mkdir(cache)
        os.chown(cache, 0, GID)
        os.chmod(cache, 0o2770)
        node_sh(['setfacl', '-m', 'd:u::rwx,d:g::rwx,d:m::rwx,d:o::---', cache])
        toml.append('cache-dir = "%s"' % cache)
    toml.append('link-mode = "%s"' % mode)
    with open('/etc/uv/uv.toml', 'w') as handle:
        handle.write('\n'.join(toml) + '\n')
    for user in USERS:
        for sub in ('venvs', 'caches'):
            path = os.path.join(base, sub, user)
            os.mkdir(path)
            node_sh(['chown', '%s:%s' % (user, user), path])
            os.chmod(path, 0o700)
    return base


def node_install(base, layout, user):
    venv = os.path.join(base, 'venvs', user, 'v')
    env = ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/home/' + user, 'USER=' + user, 'LANG=C.UTF-8']
    if layout == 'per_user':  # the user's own cache (uv's default is ~/.cache/uv; here on the same fs)
        env.append('UV_CACHE_DIR=' + os.path.join(base, 'caches', user))
    script = ('umask 022; uv venv -q -p {py} {v} && uv pip install -p {v} --no-index --find-links {w} {pkgs}'
              .format(py=PYTHON, v=venv, w=WHEELDIR, pkgs=' '.join(REQUESTED)))
    started = time.monotonic()
    proc = subprocess.run(['runuser', '-u', user, '--', 'env', '-i'] + env + ['sh', '-c', script],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError('install of %s failed:\n%s' % (user, proc.stdout[-3000:]))
    warnings = [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith('warning')]
    check = subprocess.run(['runuser', '-u', user, '--', os.path.join(venv, 'bin', 'python'), '-c',
                            'import numpy, scipy.linalg, pandas, matplotlib, PIL; print(numpy.__file__)'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    if check.returncode != 0:
        raise RuntimeError('the venv of %s does not import its packages:\n%s' % (user, check.stdout[-2000:]))
    return venv, round(seconds, 2), warnings


def node_link_probe(venv):
    """How the venv's biggest numpy library relates to its cache copy: links, shared extents."""
    numpy_dir = [os.path.join(d, 'numpy') for d in
                 [os.path.join(venv, 'lib', x, 'site-packages') for x in os.listdir(os.path.join(venv, 'lib'))]][0]
    biggest = None
    for dirpath, _dirs, files in os.walk(os.path.join(numpy_dir, '_core')):
        for name in files:
            path = os.path.join(dirpath, name)
            if name.endswith('.so') and (biggest is None or os.path.getsize(path) > os.path.getsize(biggest)):
                biggest = path
    st = os.lstat(biggest)
    frag = subprocess.run(['filefrag', '-v', biggest], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=True).stdout
    extents = [line for line in frag.splitlines() if line.strip()[:1].isdigit() and ':' in line]
    return {'file': os.path.relpath(biggest, venv), 'nlink': st.st_nlink, 'bytes': st.st_size,
            'extents': len(extents), 'shared_extents': sum(1 for line in extents if 'shared' in line)}


def node_main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--node', action='store_true')
    parser.add_argument('--layouts', default=','.join(LAYOUTS))
    parser.add_argument('--variants', default=','.join(VARIANTS))
    parser.add_argument('--users', type=int, default=len(USERS))
    args = parser.parse_args(argv)
    del USERS[args.users:]
    node_setup()
    out = {'uv': node_sh([REAL_UV, '--version']).strip(), 'python': node_sh([PYTHON, '--version']).strip(),
           'runs': {}}
    for layout in args.layouts.split(','):
        for variant in args.variants.split(','):
            mode, fs = variant.split('@')
            key = '%s-%s-%s' % (layout, mode, fs)
            sys.stderr.write('%s: ' % key)
            base = node_layout(layout, mode, fs)
            used0, inodes0 = fs_used('/' + fs)
            users = []
            for user in USERS:
                venv, seconds, warnings = node_install(base, layout, user)
                used, inodes = fs_used('/' + fs)
                row = {'user': user, 'seconds': seconds, 'warnings': warnings[:5],
                       'fs_bytes': used - used0, 'fs_inodes': inodes - inodes0,
                       'du_bytes': int(node_sh(['du', '-sk', base]).split()[0]) * 1024}
                row.update(walk_count(base))
                if user in ('u1', 'u2'):
                    row['probe'] = node_link_probe(venv)
                users.append(row)
                sys.stderr.write('%s %.1fs %d MB; ' % (user, seconds, row['fs_bytes'] // 1000000))
                sys.stderr.flush()
            sys.stderr.write('\n')
            out['runs'][key] = {'layout': layout, 'mode': mode, 'fs': fs, 'users': users}
            shutil.rmtree(base)
    json.dump(out, sys.stdout, indent=1)
    return 0


# ---------------------------------------------------------------- host side

def host_sh(argv, **kwargs):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kwargs).stdout


def download_wheels(dest):
    """The pinned wheels, once (kept in WORK for the next run)."""
    os.makedirs(dest, exist_ok=True)
    have = set(f.split('-')[0].lower().replace('_', '-') + '==' + f.split('-')[1] for f in os.listdir(dest)
               if f.endswith('.whl'))
    if all(w.replace('_', '-') in have for w in WHEELS):
        return
    host_sh([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--only-binary=:all:',
             '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311',
             '--platform', 'manylinux_2_28_x86_64', '--platform', 'manylinux_2_17_x86_64',
             '--platform', 'manylinux2014_x86_64', '--platform', 'any', '-d', dest] + WHEELS)


def make_fs(kind):
    """A loop-mounted file system of that kind on a sparse file in WORK (fresh for every run)."""
    image, mnt = os.path.join(WORK, kind + '.img'), os.path.join(WORK, kind)
    os.makedirs(mnt, exist_ok=True)
    if os.path.ismount(mnt):
        host_sh(['umount', mnt])
    host_sh(['truncate', '-s', '0', image])
    host_sh(['truncate', '-s', FS_SIZE[kind], image])
    host_sh(FILESYSTEMS[kind] + [image])
    host_sh(['mount', '-o', 'loop', image, mnt])
    return image, mnt


def drop_fs(image, mnt):
    if os.path.ismount(mnt):
        host_sh(['umount', mnt])
    if os.path.exists(image):
        os.unlink(image)


def measure(args):
    sys.path.insert(0, HERE)
    from strategies import Container, uv_binary  # pylint: disable=import-outside-toplevel

    class SharingContainer(Container):
        def start_with(self, mounts):
            host_sh(['podman', 'rm', '-f', '--ignore', self.name])
            volumes = []
            for source, target in mounts:
                volumes += ['-v', '%s:%s' % (source, target)]
            host_sh(['podman', 'run', '-d', '--name', self.name, '--hostname', self.name] + volumes
                    + [IMAGE, 'sleep', 'infinity'])

    wheels = os.path.join(WORK, 'wheels')
    os.makedirs(WORK, exist_ok=True)
    os.environ.setdefault('CONTAINERS_CONF', os.path.join(REPO, 'tests', 'podman', 'containers.conf'))
    download_wheels(wheels)
    uv_path = uv_binary(WORK)
    container = SharingContainer(NAME)
    started, load_start = time.time(), os.getloadavg()
    filesystems = {}
    try:
        for kind in FILESYSTEMS:
            filesystems[kind] = make_fs(kind)
        xfs_info = host_sh(['xfs_info', filesystems['xfs'][1]])
        container.start_with([(mnt, '/' + kind) for kind, (_image, mnt) in filesystems.items()]
                             + [(wheels, WHEELDIR + ':ro')])
        container.root('mkdir -p /opt/uv/bin')
        host_sh(['podman', 'cp', uv_path, NAME + ':' + REAL_UV])
        host_sh(['podman', 'cp', os.path.abspath(__file__), NAME + ':/srv/sharing.py'])
        proc = subprocess.run(['podman', 'exec', NAME, 'python3', '/srv/sharing.py', '--node',
                               '--layouts', args.layouts, '--variants', args.variants, '--users', str(args.users)],
                              stdout=subprocess.PIPE, universal_newlines=True, check=True)
        data = json.loads(proc.stdout)
    finally:
        container.remove()
        for image, mnt in filesystems.values():
            drop_fs(image, mnt)
    data.update({'date': time.strftime('%Y-%m-%d'), 'seconds': round(time.time() - started),
                 'wheels': WHEELS, 'requested': REQUESTED, 'kernel': os.uname().release,
                 'filesystems': dict((k, ' '.join(v) + ', %s loop file' % FS_SIZE[k]) for k, v in FILESYSTEMS.items()),
                 'xfs_reflink': 'reflink=1' in xfs_info,
                 'wheel_bytes': sum(os.path.getsize(os.path.join(wheels, f)) for f in os.listdir(wheels)),
                 'load_start': load_start, 'load_end': os.getloadavg()})
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, 'w') as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    return data


TITLES = {'shared': 'shared cache', 'per_user': 'per-user caches'}
FS_TITLES = {'xfs': 'XFS reflink=1', 'ext4': 'ext4'}


def runs(data):
    """The runs in the order of LAYOUTS and VARIANTS (the JSON is stored with sorted keys)."""
    order = ['%s-%s' % (layout, v.replace('@', '-')) for layout in LAYOUTS for v in VARIANTS]
    return [data['runs'][k] for k in sorted(data['runs'], key=lambda k: order.index(k) if k in order else len(order))]


def nusers(data):
    return max(len(run['users']) for run in data['runs'].values())


def mb(n):
    return '{:,}'.format(round(n / 1e6))


def table(data):
    n = nusers(data)
    lines = [('| set-up | link mode | file system | user 1: s | users 2-{n}: s (median) | user 1: MB used '
              '| each further user: MB used (median) | {n} users: MB used | {n} users: `du` MB | {n} users: inodes '
              '| numpy `.so` in u2\'s venv |').format(n=n),
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for run in runs(data):
        users = run['users']
        further = sorted(u['seconds'] for u in users[1:]) or [float('nan')]
        steps = sorted(b['fs_bytes'] - a['fs_bytes'] for a, b in zip(users, users[1:])) or [0]
        probe = users[min(1, len(users) - 1)].get('probe', {})
        how = []
        if probe.get('nlink', 1) > 1:
            how.append('%d hardlinks' % probe['nlink'])
        if probe.get('shared_extents'):
            how.append('%d/%d extents shared' % (probe['shared_extents'], probe['extents']))
        lines.append('| %s | %s | %s | %.1f | %.1f | %s | %s | **%s** | %s | %s | %s |' % (
            TITLES[run['layout']], run['mode'], FS_TITLES[run['fs']], users[0]['seconds'], further[len(further) // 2],
            mb(users[0]['fs_bytes']), mb(steps[len(steps) // 2]), mb(users[-1]['fs_bytes']),
            mb(users[-1]['du_bytes']), '{:,}'.format(users[-1]['fs_inodes']), ', '.join(how) or 'own copy'))
    warned = sorted(set(w for run in data['runs'].values() for u in run['users'] for w in u['warnings']))
    lines.append('')
    lines.append('Measured %s, %s, %s on Debian 12 (kernel %s), loop-mounted ext4 and XFS, %d users, '
                 '`--no-index --find-links` from %s MB of wheels (`make sharing`, %d s).'
                 % (data['date'], data['uv'], data['python'], data['kernel'], nusers(data), mb(data['wheel_bytes']),
                    data['seconds']))
    if warned:
        lines.append('')
        lines.append('uv warned: ' + '; '.join('`%s`' % w[:200] for w in warned[:4]))
    return '\n'.join(lines)


def plot(data):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {'copy@ext4': '#d62728', 'hardlink@ext4': '#1f77b4', 'clone@xfs': '#2ca02c', 'copy@xfs': '#ff7f0e'}
    for run in runs(data):
        users = run['users']
        n = list(range(1, len(users) + 1))
        style = '-' if run['layout'] == 'shared' else '--'
        label = '%s, %s, %s' % (TITLES[run['layout']], run['mode'], FS_TITLES[run['fs']])
        color = colors['%s@%s' % (run['mode'], run['fs'])]
        left.plot(n, [u['fs_bytes'] / 1e9 for u in users], style, marker='o', color=color, label=label)
        right.plot(n, [u['seconds'] for u in users], style, marker='o', color=color, label=label)
    left.set(xlabel='users who installed the package set', ylabel='GB used on the file system (statvfs)',
             title='Disk: caches + venvs')
    right.set(xlabel='user (in install order)', ylabel='s, uv venv + uv pip install', title='Wall time of each install')
    for ax in (left, right):
        ax.set_xticks(range(1, nusers(data) + 1))
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    left.legend(fontsize=8)
    fig.suptitle('%d users install numpy, scipy, pandas, matplotlib, pillow (%s, %s)'
                 % (nusers(data), data['uv'].split(' (')[0], data['date']), fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(FIGURE), exist_ok=True)
    fig.savefig(FIGURE, dpi=90)


def write_table(data):
    """The table between the sharing-table markers of docs/sharing.md."""
    with open(DOC) as handle:
        text = handle.read()
    marked = re.compile(r'(<!-- sharing-table:start -->\n).*?(<!-- sharing-table:end -->)', re.S)
    if not marked.search(text):
        raise SystemExit('%s has no sharing-table markers' % DOC)
    text = marked.sub(lambda m: m.group(1) + table(data) + '\n' + m.group(2), text, count=1)
    with open(DOC, 'w') as handle:
        handle.write(text)


def main(argv):
    if '--node' in argv:
        return node_main(argv)
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--plot', action='store_true', help='only redraw figure and table from the last results')
    parser.add_argument('--layouts', default=','.join(LAYOUTS), help='comma-separated: shared, per_user')
    parser.add_argument('--variants', default=','.join(VARIANTS), help='comma-separated MODE@FS (%(default)s)')
    parser.add_argument('--users', type=int, default=len(USERS), help='users (default 8; fewer for a trial)')
    args = parser.parse_args(argv)
    if args.plot:
        with open(RESULTS) as handle:
            data = json.load(handle)
    else:
        data = measure(args)
    plot(data)
    if os.path.exists(DOC):
        write_table(data)
    print(table(data))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
