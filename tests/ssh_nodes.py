"""Throwaway test nodes that Ansible reaches over SSH, the way a fleet is driven.

Molecule's create and destroy (molecule/_shared/create.yml, destroy.yml), `make demo`
(tests/demo.sh) and the fleet benchmark (bench/fleet.py) start and remove their
containers here, so that all of them reach their nodes the same way.

    python3 tests/ssh_nodes.py up   < spec.json     prints the nodes (JSON)
    python3 tests/ssh_nodes.py down < spec.json

    spec: {"network": "uvfleet-default",          one podman network per scenario
           "ssh_dir": "/path/of/this/run/ssh",    key, known_hosts, ssh config, masters
           "nodes": [{"name": "uvfleet-default-d12", "image": "localhost/uvfleet/debian:12",
                      "volumes": ["/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro"],
                      "command": "/sbin/init", "hostname": "(default: name)",
                      "systemd": "(default true; false: no systemd mode, e.g. a command that starts
                                  cron and sshd: a node without systemd)"}],
           "instance_config": "(optional) Molecule's instance_config.yml, written by up, emptied by down"}

up: the network (made when missing: every scenario has its own, so nodes of scenarios
that run side by side never share an address, and no node's sshd binds a port of the
host), a key pair made for this run (ssh_dir/id_ed25519), each container (systemd as
PID 1, the public key bind-mounted read-only as root's authorized_keys; the image's
sshd makes its host keys at first boot). Then it waits until every node's sshd answers
with the host key the node made (read through `podman exec`: the harness's own look,
pinned in ssh_dir/known_hosts, no trust on first use) and root logs in with the key.
ssh_dir/config is the client config every consumer uses (ControlMaster and
ControlPersist, the masters' sockets in ssh_dir):

    ssh -F ssh_dir/config uvfleet-default-d12 systemctl is-system-running

It prints {"network", "gateway", "ssh_config", "ssh_args", "nodes": [{"instance",
"address", "user", "port", "identity_file"}]}: Molecule's instance config, an Ansible
inventory's ansible_host / ansible_ssh_common_args, the host address the nodes reach
the controller on (the network's gateway, host.containers.internal in the nodes).

down: closes the SSH master connections, removes the containers, the network and
ssh_dir. Both commands can be repeated; neither touches a container or network
it was not given.
"""
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

BOOT_TIMEOUT = 120


def run(argv, check=True, **kwargs):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          check=False, **kwargs)
    if check and proc.returncode != 0:
        raise SystemExit('%s failed (exit %d): %s' % (' '.join(shlex.quote(a) for a in argv), proc.returncode,
                                                      (proc.stderr or proc.stdout).strip()))
    return proc


def paths(ssh_dir):
    return {
        'key': os.path.join(ssh_dir, 'id_ed25519'),
        'known_hosts': os.path.join(ssh_dir, 'known_hosts'),
        'config': os.path.join(ssh_dir, 'config'),
        # %h: the node's address; short, so that the socket path stays under the
        # 108 bytes of a unix socket name (ssh adds a temporary suffix while binding).
        'control_path': os.path.join(ssh_dir, 'cp-%h'),
    }


def ssh_args(ssh_dir):
    """What ssh, Ansible (ansible_ssh_common_args) and testinfra pass: the run's config.

    ControlPath is repeated on the command line: Ansible adds a ControlPath of its own
    (in ~/.ansible/cp, shared by every run) unless it sees one there."""
    p = paths(ssh_dir)
    return ['-F', p['config'], '-o', 'ControlPath=' + p['control_path']]


def write_config(ssh_dir, nodes):
    p = paths(ssh_dir)
    lines = ['# ssh client config of one test run, written by tests/ssh_nodes.py']
    for node in nodes:
        lines += ['Host %s %s' % (node['instance'], node['address']), '  HostName %s' % node['address']]
    lines += [
        'Host *',
        '  User root',
        '  Port 22',
        '  IdentityFile %s' % p['key'],
        '  IdentitiesOnly yes',
        '  BatchMode yes',
        # the host keys the nodes made, read from the nodes themselves
        '  UserKnownHostsFile %s' % p['known_hosts'],
        '  StrictHostKeyChecking yes',
        '  CheckHostIP no',
        '  HashKnownHosts no',
        '  ControlMaster auto',
        '  ControlPersist 120s',
        '  ControlPath %s' % p['control_path'],
        '  ServerAliveInterval 10',
        '  ServerAliveCountMax 3',
        '  ConnectTimeout 10',
        '  LogLevel ERROR',
        '',
    ]
    with open(p['config'], 'w') as handle:
        handle.write('\n'.join(lines))


def make_key(ssh_dir, label):
    key = paths(ssh_dir)['key']
    if not os.path.exists(key):
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', label, '-f', key])
    return key


def ensure_network(network):
    if run(['podman', 'network', 'exists', network], check=False).returncode != 0:
        run(['podman', 'network', 'create', '--label', 'uvfleet.test=1', network])
    info = json.loads(run(['podman', 'network', 'inspect', network]).stdout)[0]
    subnets = info.get('subnets') or info.get('Subnets') or []
    return (subnets[0].get('gateway') or subnets[0].get('Gateway')) if subnets else None


def start(node, network, key):
    name = node['name']
    run(['podman', 'rm', '-f', '-t', '0', '--ignore', name])
    argv = ['podman', 'run', '-d', '--name', name, '--hostname', node.get('hostname') or name,
            '--network', network, '--systemd=%s' % ('always' if node.get('systemd', True) else 'false'),
            '--label', 'uvfleet.test=1',
            '-v', '%s.pub:/root/.ssh/authorized_keys:ro' % key]
    for volume in node.get('volumes') or []:
        argv += ['-v', volume]
    command = node.get('command') or '/sbin/init'
    argv += [node['image']] + (shlex.split(command) if isinstance(command, str) else list(command))
    run(argv)


def address(name, network):
    info = json.loads(run(['podman', 'container', 'inspect', name]).stdout)[0]
    return info['NetworkSettings']['Networks'][network]['IPAddress']


def wait_until_reachable(ssh_dir, nodes):
    """Pin each node's host key, then log in as root with the run's key."""
    p = paths(ssh_dir)
    deadline = time.time() + BOOT_TIMEOUT
    pinned = {}
    while len(pinned) < len(nodes):
        for node in nodes:
            if node['instance'] in pinned:
                continue
            found = run(['podman', 'exec', node['instance'], 'cat', '/etc/ssh/ssh_host_ed25519_key.pub'], check=False)
            if found.returncode == 0 and found.stdout.startswith('ssh-ed25519 '):
                pinned[node['instance']] = '%s %s' % (node['address'], ' '.join(found.stdout.split()[:2]))
        if len(pinned) < len(nodes):
            if time.time() > deadline:
                raise SystemExit('no SSH host key after %d s on %s' % (
                    BOOT_TIMEOUT, ', '.join(n['instance'] for n in nodes if n['instance'] not in pinned)))
            time.sleep(0.3)
    with open(p['known_hosts'], 'w') as handle:
        handle.write(''.join(pinned[n['instance']] + '\n' for n in nodes))
    write_config(ssh_dir, nodes)
    for node in nodes:
        while True:
            login = run(['ssh'] + ssh_args(ssh_dir) + [node['instance'], 'true'], check=False)
            if login.returncode == 0:
                break
            if time.time() > deadline:
                raise SystemExit('root cannot log in over SSH on %s (%s) after %d s: %s' % (
                    node['instance'], node['address'], BOOT_TIMEOUT, login.stderr.strip()))
            time.sleep(0.3)


def up(spec):
    ssh_dir = os.path.abspath(spec['ssh_dir'])
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    close_masters(ssh_dir)
    key = make_key(ssh_dir, 'uvfleet test run %s' % spec['network'])
    gateway = ensure_network(spec['network'])
    for node in spec['nodes']:
        start(node, spec['network'], key)
    nodes = [{'instance': node['name'], 'address': address(node['name'], spec['network']), 'user': 'root',
              'port': 22, 'identity_file': key} for node in spec['nodes']]
    wait_until_reachable(ssh_dir, nodes)
    write_instance_config(spec, nodes)
    return {'network': spec['network'], 'gateway': gateway, 'ssh_config': paths(ssh_dir)['config'],
            'ssh_args': ssh_args(ssh_dir), 'nodes': nodes}


def write_instance_config(spec, nodes):
    """Molecule's instance config (default driver): how to reach each node (JSON is YAML)."""
    if spec.get('instance_config'):
        with open(spec['instance_config'], 'w') as handle:
            json.dump(nodes, handle, indent=1)
            handle.write('\n')
        os.chmod(spec['instance_config'], 0o600)


def close_masters(ssh_dir):
    for socket in glob.glob(os.path.join(ssh_dir, 'cp-*')):
        run(['ssh', '-o', 'ControlPath=' + socket, '-O', 'exit', 'node'], check=False)
        if os.path.exists(socket):
            os.unlink(socket)


def down(spec):
    ssh_dir = os.path.abspath(spec['ssh_dir'])
    if os.path.isdir(ssh_dir):
        close_masters(ssh_dir)
    names = [node['name'] for node in spec['nodes']]
    if names:
        run(['podman', 'rm', '-f', '-t', '0', '--ignore'] + names)
    if run(['podman', 'network', 'exists', spec['network']], check=False).returncode == 0:
        gone = run(['podman', 'network', 'rm', spec['network']], check=False)
        if gone.returncode != 0:
            print('network %s kept: %s' % (spec['network'], gone.stderr.strip()), file=sys.stderr)
    shutil.rmtree(ssh_dir, ignore_errors=True)
    write_instance_config(spec, [])
    return {'network': spec['network'], 'removed': names}


def main(argv):
    if len(argv) != 2 or argv[1] not in ('up', 'down'):
        print('usage: %s up|down < spec.json' % argv[0], file=sys.stderr)
        return 2
    spec = json.load(sys.stdin)
    result = up(spec) if argv[1] == 'up' else down(spec)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
