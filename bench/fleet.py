"""Fleet benchmark: what a converge of uvfleet.uv.site costs per node, and how it grows.

    python3 bench/fleet.py                              (make fleet; about 30 min)
    python3 bench/fleet.py --nodes 1 4 --connections ssh --repeat 1    (a few minutes)
    python3 bench/fleet.py --table                      (the table from the last results)

For each number of nodes (1, 4, 8) and each connection, fresh Debian 12 containers on
their own podman network (tests/ssh_nodes.py, as the Molecule scenarios get them), the
users alice and bob (the group's members), then `ansible-playbook uvfleet.uv.site`:
the first converge (everything installed and set up; uv from a wheel on the controller,
`uv_install_source: file`, so that PyPI's speed is not measured) and --repeat
idempotent converges (nothing to change; the median is reported). Connections:

    ssh      OpenSSH to each node's sshd, pipelining, ControlPersist (how fleets are driven)
    podman   containers.podman.podman (`podman exec`/`podman cp`, no pipelining)

At the largest number of nodes over SSH, idempotent runs also with Ansible's default
forks (5) and with strategy free, and a fleet whose nodes mount one volume at /shared
with uv_shared_shared_fs: true (the shared directories managed by one node).

Measured for every run: wall time, controller CPU (user + sys of ansible-playbook and
every process it waited for: workers, ssh, podman exec; os.wait4), the CPU the nodes
spent (cpuacct of the containers' cgroups, where podman runs them under cgroup v1), and
the tasks per node (PLAY RECAP). The nodes run on the same machine as the controller:
on a 2-core machine they compete for the same cores, and the table says how busy both
were (CPU seconds / wall seconds). Results: bench/results/fleet.json (not committed);
the table goes into docs/benchmarks.md between its fleet-table markers.

Needs root, podman, the image localhost/uvfleet/debian:12 (make images IMAGES=12), the
controller venv and collection layout (make venv layout), and PyPI once for the wheel
(kept in .cache/uvfleet/wheels, shared with the install scenario).
"""
import argparse
import fcntl
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(REPO, 'tests')]

import doctable  # noqa: E402  (bench/doctable.py)
import ssh_nodes  # noqa: E402  (tests/ssh_nodes.py: the nodes, reached over SSH)

RESULTS = os.path.join(HERE, 'results', 'fleet.json')
DOC = os.path.join(REPO, 'docs', 'benchmarks.md')
IMAGE = 'localhost/uvfleet/debian:12'
CA = '/etc/ssl/certs/ca-certificates.crt'
NETWORK = 'uvfleet-bench'
SHARED_VOLUME = 'uvfleet-bench-shared'


def _role_default_uv_version():
    with open(os.path.join(REPO, 'roles', 'install', 'defaults', 'main.yml')) as handle:
        return re.search(r'^uv_install_version: "?([^"\s]+)"?', handle.read(), re.M).group(1)


UV_VERSION = _role_default_uv_version()  # what the site playbook installs by default
WHEELS = os.path.join(REPO, '.cache', 'uvfleet', 'wheels')
RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)', re.M)


def sh(argv, **kwargs):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kwargs)


def uv_wheel():
    """The uv wheel for uv_install_source: file (downloaded once, as the install scenario does)."""
    os.makedirs(WHEELS, exist_ok=True)
    pattern = re.compile(r'^uv-%s-py3-none-manylinux_2_17_x86_64.*\.whl$' % re.escape(UV_VERSION))
    found = [f for f in os.listdir(WHEELS) if pattern.match(f)]
    if not found:
        sh([sys.executable, '-m', 'pip', 'download', 'uv==%s' % UV_VERSION, '--no-deps', '--only-binary=:all:',
            '--platform', 'manylinux_2_17_x86_64', '--python-version', '3.11', '--disable-pip-version-check',
            '-d', WHEELS])
        found = [f for f in os.listdir(WHEELS) if pattern.match(f)]
    return os.path.join(WHEELS, sorted(found)[-1])


def node_cpu(names):
    """CPU seconds the containers' cgroups used so far (None where cgroup v1 cpuacct is missing)."""
    total = 0.0
    for name in names:
        path = sh(['podman', 'container', 'inspect', '--format', '{{.State.CgroupPath}}', name]).stdout.strip()
        usage = '/sys/fs/cgroup/cpuacct%s/cpuacct.usage' % path
        if not path or not os.path.exists(usage):
            return None
        with open(usage) as handle:
            total += int(handle.read()) / 1e9
    return total


class Fleet(object):
    """N fresh nodes, the users, an inventory for one connection."""

    def __init__(self, count, workdir, shared_fs=False):
        self.names = ['uvfleet-bench-%d' % (i + 1) for i in range(count)]
        self.workdir = workdir
        self.shared_fs = shared_fs
        volumes = [CA + ':' + CA + ':ro'] + (['%s:/shared' % SHARED_VOLUME] if shared_fs else [])
        self.spec = {'network': NETWORK, 'ssh_dir': os.path.join(workdir, 'ssh'),
                     'nodes': [{'name': name, 'image': IMAGE, 'volumes': volumes} for name in self.names]}
        self.nodes = None

    def up(self):
        if self.shared_fs:
            subprocess.run(['podman', 'volume', 'rm', '-f', SHARED_VOLUME], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.nodes = ssh_nodes.up(self.spec)
        for name in self.names:  # the group's members (the site playbook never creates users)
            sh(['podman', 'exec', name, 'sh', '-c',
                'for u in alice bob; do id "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash "$u"; done'])

    def down(self):
        ssh_nodes.down(self.spec)
        if self.shared_fs:
            subprocess.run(['podman', 'volume', 'rm', '-f', SHARED_VOLUME], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def inventory(self, connection, wheel):
        lines = ['uv_nodes:', '  hosts:']
        for node in self.nodes['nodes']:
            lines.append('    %s:' % node['instance'])
            if connection == 'ssh':
                lines += ['      ansible_host: %s' % node['address'], '      ansible_user: root',
                          '      ansible_ssh_common_args: %s' % ' '.join(self.nodes['ssh_args'])]
            else:
                lines.append('      ansible_connection: containers.podman.podman')
        lines += ['  vars:', '    uv_install_source: file', '    uv_install_file: %s' % wheel,
                  '    uv_shared_group: uvshared', '    uv_shared_group_gid: 2790',
                  '    uv_shared_group_members: [alice, bob]', '    uv_shared_system_certs: true']
        if self.shared_fs:
            lines += ['    uv_shared_shared_fs: true', '    uv_shared_cache_dir: /shared/uv/cache',
                      '    uv_shared_python_install_dir: /shared/uv/python', '    uv_shared_python_bin_dir: /shared/uv/bin',
                      '    uv_shared_tool_dir: /shared/uv/tools', '    uv_shared_tool_bin_dir: /shared/uv/bin']
        path = os.path.join(self.workdir, 'inventory-%s.yml' % connection)
        with open(path, 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        return path


def converge(fleet, inventory, connection, forks, strategy, log):
    """One ansible-playbook run: wall, controller CPU (wait4 rusage), node CPU, recap per node."""
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER='auto_silent', ANSIBLE_NOCOLOR='1',
               ANSIBLE_RETRY_FILES_ENABLED='false', ANSIBLE_FORKS=str(forks), ANSIBLE_STRATEGY=strategy,
               ANSIBLE_PIPELINING='true' if connection == 'ssh' else 'false')
    env['ANSIBLE_COLLECTIONS_PATH'] = env.get('UVFLEET_COLLECTIONS_PATH') or os.path.join(REPO, 'build', 'collections')
    env['PATH'] = os.path.join(REPO, '.venv', 'bin') + os.pathsep + env.get('PATH', '')
    before = node_cpu(fleet.names)
    load = os.getloadavg()[0]
    with open(log, 'w') as out:
        started = time.time()
        proc = subprocess.Popen(['ansible-playbook', '-i', inventory, 'uvfleet.uv.site'], stdout=out,
                                stderr=subprocess.STDOUT, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.time() - started
    after = node_cpu(fleet.names)
    with open(log) as handle:
        recap = {m.group(1): [int(x) for x in m.groups()[1:]] for m in RECAP.finditer(handle.read())}
    rc = os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode') else status >> 8
    if rc != 0 or len(recap) != len(fleet.names):
        raise RuntimeError('ansible-playbook failed (exit %s), log: %s' % (rc, log))
    rows = list(recap.values())
    return {'wall': round(wall, 2), 'cpu': round(usage.ru_utime + usage.ru_stime, 2),
            'cpu_user': round(usage.ru_utime, 2), 'cpu_sys': round(usage.ru_stime, 2),
            'node_cpu': None if before is None or after is None else round(after - before, 2),
            'ok': max(r[0] for r in rows), 'changed': max(r[1] for r in rows), 'skipped': max(r[4] for r in rows),
            'ok_min': min(r[0] for r in rows), 'skipped_min': min(r[4] for r in rows),
            'changed_total': sum(r[1] for r in rows), 'load': round(load, 2)}


def measure(count, connection, args, wheel, variants=False, shared_fs=False):
    label = connection + (' + shared_fs' if shared_fs else '')
    workdir = tempfile.mkdtemp(prefix='uvfleet-fleet.')
    fleet = Fleet(count, workdir, shared_fs)
    runs = []
    sys.stderr.write('%d node(s), %s: starting the nodes\n' % (count, label))
    try:
        fleet.up()
        inventory = fleet.inventory(connection, wheel)
        forks = max(5, count)
        plan = [('first', forks, 'linear')] + [('idempotent', forks, 'linear')] * args.repeat
        if variants and count > 5:
            plan += [('idempotent', 5, 'linear')] * args.repeat
        if variants:
            plan += [('idempotent', forks, 'free')] * args.repeat
        for i, (phase, run_forks, strategy) in enumerate(plan):
            log = os.path.join(workdir, 'run-%d.log' % i)
            result = converge(fleet, inventory, connection, run_forks, strategy, log)
            result.update({'connection': label, 'nodes': count, 'phase': phase, 'forks': run_forks,
                           'strategy': strategy})
            if phase == 'idempotent' and result['changed_total']:
                raise RuntimeError('the idempotent converge changed %d task(s): %s' % (result['changed_total'], log))
            sys.stderr.write('  %-10s forks %d %-6s %6.1f s wall, controller %5.1f s CPU, nodes %s s CPU, '
                             '%d tasks ok / %d skipped per node (load before %.1f)\n'
                             % (phase, run_forks, strategy, result['wall'], result['cpu'], result['node_cpu'],
                                result['ok'], result['skipped'], result['load']))
            runs.append(result)
    finally:
        if not args.keep:
            fleet.down()
    return runs


def summarize(runs):
    """One row per (connection, nodes, phase, forks, strategy): medians over the repeats."""
    groups = {}
    for run in runs:
        key = (run['connection'], run['nodes'], run['phase'], run['forks'], run['strategy'])
        groups.setdefault(key, []).append(run)
    rows = []
    for key, group in groups.items():
        row = dict(zip(('connection', 'nodes', 'phase', 'forks', 'strategy'), key))
        for field in ('wall', 'cpu', 'node_cpu', 'ok', 'skipped', 'ok_min', 'skipped_min', 'load'):
            values = [r.get(field) for r in group if r.get(field) is not None]
            row[field] = statistics.median(values) if values else None
        row['runs'] = len(group)
        rows.append(row)
    return rows


def table(data):
    def cores(cpu, wall):
        return '%.2f' % (cpu / wall) if cpu is not None and wall else 'n/a'
    lines = ['| connection | nodes | converge | forks, strategy | wall s | s per node | controller CPU s '
             '(cores busy) | node CPU s (cores busy) | tasks per node (ok / skipped) | load before |',
             '|---|---|---|---|---|---|---|---|---|---|']
    order = {'ssh': 0, 'podman': 1, 'ssh + shared_fs': 2}

    def key(row):
        return (order.get(row['connection'], 9), row['nodes'], row['phase'] != 'first', row['forks'] == 5,
                row['strategy'] != 'linear')
    rows = sorted(summarize(data['runs']), key=key)
    for r in rows:
        tasks = '%d / %d' % (r['ok'], r['skipped'])
        if r.get('ok_min') is not None and (r['ok_min'], r['skipped_min']) != (r['ok'], r['skipped']):
            tasks += ' (the other nodes: %d / %d)' % (r['ok_min'], r['skipped_min'])
        lines.append('| %s | %d | %s%s | %d, %s | %.1f | %.1f | %.1f (%s) | %s | %s | %.1f |' % (
            r['connection'], r['nodes'], r['phase'], '' if r['phase'] == 'first' else ' (median of %d)' % r['runs'],
            r['forks'], r['strategy'], r['wall'], r['wall'] / r['nodes'], r['cpu'], cores(r['cpu'], r['wall']),
            'n/a' if r['node_cpu'] is None else '%.1f (%s)' % (r['node_cpu'], cores(r['node_cpu'], r['wall'])),
            tasks, r['load'] if r['load'] is not None else float('nan')))
    lines.append('')
    # how each (connection, converge) grows: seconds and controller CPU per added node
    for connection in sorted({r['connection'] for r in rows}, key=lambda c: order.get(c, 9)):
        for phase in ('first', 'idempotent'):
            series = sorted((r['nodes'], r['wall'], r['cpu']) for r in rows
                            if r['connection'] == connection and r['phase'] == phase and r['strategy'] == 'linear'
                            and r['forks'] == max(5, r['nodes']))
            if len(series) >= 2 and series[-1][0] > series[0][0]:
                (n0, w0, c0), (n1, w1, c1) = series[0], series[-1]
                lines.append('- %s, %s converge, %d to %d nodes: +%.1f s wall and +%.1f s controller CPU per added node.'
                             % (connection, phase, n0, n1, (w1 - w0) / (n1 - n0), (c1 - c0) / (n1 - n0)))
    lines.append('')
    lines.append('Measured %s on %s (%d cores), ansible-core %s, uv %s (`%s`).' % (
        data['date'], data['machine'], data['cores'], data['ansible_core'], data['uv'], data['command']))
    return '\n'.join(lines)


def ansible_core_version():
    out = sh([os.path.join(REPO, '.venv', 'bin', 'ansible-playbook'), '--version']).stdout
    match = re.search(r'core ([0-9.]+)', out)
    return match.group(1) if match else 'unknown'


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--nodes', nargs='+', type=int, default=[1, 4, 8], help='fleet sizes (default: 1 4 8)')
    parser.add_argument('--connections', nargs='+', choices=['ssh', 'podman'], default=['ssh', 'podman'])
    parser.add_argument('--repeat', type=int, default=3, help='idempotent converges per fleet (median reported)')
    parser.add_argument('--no-variants', action='store_true',
                        help='leave out forks 5, strategy free and the shared_fs fleet at the largest size')
    parser.add_argument('--keep', action='store_true', help='keep the last fleet (and its network)')
    parser.add_argument('--table', action='store_true', help='only print and write the table of the last results')
    parser.add_argument('--json', default=RESULTS,
                        help='results file (default %(default)s; the table goes into docs/benchmarks.md only from it)')
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error('run as root (podman, containers with systemd)')
    data = None
    if not args.table:
        os.environ.setdefault('CONTAINERS_CONF', os.path.join(REPO, 'tests', 'podman', 'containers.conf'))
        lock = open('/tmp/uvfleet-bench-fleet.lock', 'w')  # pylint: disable=consider-using-with
        fcntl.flock(lock, fcntl.LOCK_EX)  # one fleet benchmark at a time on this machine (fixed names)
        wheel = uv_wheel()
        data = {'date': time.strftime('%Y-%m-%d %H:%M'), 'machine': os.uname().nodename, 'cores': os.cpu_count(),
                'ansible_core': ansible_core_version(), 'uv': UV_VERSION,
                'command': ' '.join(['python3 bench/fleet.py'] + argv), 'runs': []}
        largest = max(args.nodes)
        for count in sorted(args.nodes):
            for connection in args.connections:
                variants = connection == 'ssh' and count == largest and not args.no_variants
                data['runs'] += measure(count, connection, args, wheel, variants=variants)
        if 'ssh' in args.connections and not args.no_variants:
            data['runs'] += measure(largest, 'ssh', args, wheel, shared_fs=True)
    return doctable.publish(args.json, data, DOC if args.json == RESULTS else None, 'fleet', table)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
