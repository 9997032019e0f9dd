"""Measure the strategies for sharing one uv cache, each in a throwaway container.

    python3 bench/strategies.py [--only NAME ...] [--keep]      (make strategies)

For every strategy of uv#5611 (and this collection) a fresh Debian 12 container gets
the same users -- alice (umask 077) and bob (umask 022) in the group ``uvshared``,
carol outside it -- the same uv (0.13.9, the wheel's own binary), the strategy's
set-up, and then the same checks, run as those users through login shells. Each check
records what happened (exit status and the last line of output). The table in
docs/strategies.md is printed from the JSON this writes (bench/results/strategies.json)
by ``--table``; nothing in it is typed by hand.

Needs: root, podman and the image localhost/uvfleet/debian:12 (make images IMAGES=12),
the controller venv and collection layout for the collection's own strategy
(make venv layout), and PyPI (packages are installed for real).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import doctable  # noqa: E402  (bench/doctable.py)

RESULTS = os.path.join(HERE, 'results', 'strategies.json')
DOC = os.path.join(REPO, 'docs', 'strategies.md')
IMAGE = 'localhost/uvfleet/debian:12'
UV_VERSION = '0.13.9'
CACHE = '/srv/uvcache'
PYDIR = '/srv/uvpython'
CA = '/etc/ssl/certs/ca-certificates.crt'

# The environment every user's uv gets in the hand-made strategies (the collection puts
# the same into /etc/uv/uv.toml and its wrappers instead).
SHARED_ENV = ('export UV_CACHE_DIR=%s UV_PYTHON_INSTALL_DIR=%s UV_PYTHON_BIN_DIR=/srv/uvpython-bin '
              'UV_SYSTEM_CERTS=1 UV_PYTHON_DOWNLOADS_JSON_URL=/srv/pymirror/downloads.json' % (CACHE, PYDIR))

USERS = r'''
set -e
groupadd -g 2790 uvshared
for u in alice bob carol; do useradd -m -s /bin/bash $u; done
usermod -aG uvshared alice; usermod -aG uvshared bob
sed -i '1i umask 077' /home/alice/.profile
sed -i '1i umask 022' /home/bob/.profile
'''

# name -> (title, root set-up, per-user profile lines)
STRATEGIES = {
    'per_user': ('per-user caches (uv default)', '', 'export UV_SYSTEM_CERTS=1 '
                 'UV_PYTHON_DOWNLOADS_JSON_URL=/srv/pymirror/downloads.json'),
    'umask000': ('`umask 000` + `chmod a+rwx`',
                 'mkdir -p {c} {p} /srv/uvpython-bin && chmod a+rwx {c} {p} /srv/uvpython-bin'.format(c=CACHE, p=PYDIR),
                 'umask 000; ' + SHARED_ENV),
    'umask002_sgid': ('`umask 002` + setgid group dirs',
                      'mkdir -p {c} {p} /srv/uvpython-bin && chgrp uvshared {c} {p} /srv/uvpython-bin && '
                      'chmod 2775 {c} {p} /srv/uvpython-bin'.format(c=CACHE, p=PYDIR),
                      'umask 002; ' + SHARED_ENV),
    'acl_by_hand': ('group + setgid + default ACL by hand',
                    'mkdir -p {c} {p} /srv/uvpython-bin && chgrp uvshared {c} {p} /srv/uvpython-bin && '
                    'chmod 2770 {c} {p} /srv/uvpython-bin && '
                    'setfacl -m d:u::rwx,d:g::rwx,d:m::rwx,d:o::--- {c} {p} /srv/uvpython-bin'.format(c=CACHE, p=PYDIR),
                    SHARED_ENV),
    'uvfleet': ('this collection (`uvfleet.uv.site`)', None, ''),
}

# The same checks for every strategy: (key, question, [(user, command)], how to read it)
# A check's answer is 'yes' when its last command exits 0.
FIND_SIX = 'f=$(find {c} -name six.py -path "*archive-v0*" -print -quit 2>/dev/null); test -n "$f"; '.format(c=CACHE)
CHECKS = [
    ('member_installs', 'a member installs from the index into the shared cache (alice, her login umask)',
     [('alice', 'uv venv -q ~/v && uv pip install -q -p ~/v six iniconfig')]),
    ('outsider_reads', 'an outsider (carol) reads a cached module',
     [('carol', FIND_SIX + 'head -1 "$f"')]),
    ('outsider_poisons', 'an outsider (carol) writes into the cache',
     [('carol', 'touch {c}/poison && ls {c}/poison'.format(c=CACHE))]),
    ('member_edits_venv', "a member's edit of the cache reaches another member's venv",
     [('bob', FIND_SIX + 'echo "# bob was here" >> "$f"'),
      ('alice', 'grep -q "bob was here" ~/v/lib/python3*/site-packages/six.py')]),
    ('locks_temp', "uv's locks and temp dirs work for the second user (#8032: Python install dir, cache clean)",
     [('alice', 'uv python install -q 3.11'),
      ('bob', 'uv python install -q --reinstall 3.11 && uv cache clean -q six')]),
    ('copy_p', "after alice's `cp -p` of a private file into the cache, bob can read it",
     [('alice', 'echo secret-ok > ~/private && chmod 600 ~/private && cp -p ~/private {c}/archive-v0/copied'
       .format(c=CACHE)),
      ('bob', 'grep -q secret-ok {c}/archive-v0/copied'.format(c=CACHE))]),
    ('build_backend', 'bob rebuilds what alice built from an sdist (setuptools writes 0644 files)',
     [('alice', 'uv venv -q ~/b && uv pip install -q -p ~/b /srv/sdist/hello_uvfleet-0.1.tar.gz'),
      ('bob', 'uv venv -q ~/b && uv pip install -q -p ~/b --reinstall --refresh /srv/sdist/hello_uvfleet-0.1.tar.gz')]),
    # last: a umask-077 run can leave the cache unusable for the others in some strategies
    ('share_077', 'a member with umask 077 shares what she cached (bob installs it offline)',
     [('alice', 'umask 077; uv venv -q ~/w && uv pip install -q -p ~/w packaging'),
      ('bob', 'uv venv -q ~/w && uv pip install -q --offline -p ~/w packaging')]),
]

SDIST_PY = r'''
import io, os, tarfile
os.makedirs('/srv/sdist', exist_ok=True)
files = {
 'hello_uvfleet-0.1/pyproject.toml': ('[build-system]\nrequires = ["setuptools>=61"]\n'
                                      'build-backend = "setuptools.build_meta"\n'
                                      '[project]\nname = "hello-uvfleet"\nversion = "0.1"\n'),
 'hello_uvfleet-0.1/hello_uvfleet.py': 'GREETING = "hello"\n',
 'hello_uvfleet-0.1/PKG-INFO': 'Metadata-Version: 2.1\nName: hello-uvfleet\nVersion: 0.1\n',
}
with tarfile.open('/srv/sdist/hello_uvfleet-0.1.tar.gz', 'w:gz') as tar:
    for name, text in files.items():
        data = text.encode()
        info = tarfile.TarInfo(name); info.size = len(data); info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
os.chmod('/srv/sdist', 0o755); os.chmod('/srv/sdist/hello_uvfleet-0.1.tar.gz', 0o644)
'''


def sh(argv, check=True, **kwargs):
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kwargs)


def uv_binary(workdir):
    """The uv binary of the pinned wheel (pip download; no uv on the host needed)."""
    sh([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--only-binary=:all:', '-d', workdir,
        'uv==%s' % UV_VERSION])
    wheel = [f for f in os.listdir(workdir) if f.startswith('uv-') and f.endswith('.whl')][0]
    with zipfile.ZipFile(os.path.join(workdir, wheel)) as zf:
        name = [n for n in zf.namelist() if n.endswith('/scripts/uv')][0]
        path = os.path.join(workdir, 'uv')
        with open(path, 'wb') as out:
            out.write(zf.read(name))
    os.chmod(path, 0o755)
    return path


class Container(object):
    def __init__(self, name):
        self.name = name

    def start(self):
        sh(['podman', 'rm', '-f', '--ignore', self.name])
        sh(['podman', 'run', '-d', '--name', self.name, '--hostname', self.name, '--systemd=always',
            '-v', '%s:%s:ro' % (CA, CA), IMAGE, '/sbin/init'])

    def root(self, script):
        return sh(['podman', 'exec', self.name, 'bash', '-c', script])

    def as_user(self, user, command):
        proc = sh(['podman', 'exec', self.name, 'runuser', '-l', user, '-c', command], check=False)
        lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
        return proc.returncode, (lines[-1] if lines else '')

    def remove(self):
        sh(['podman', 'rm', '-f', '--ignore', self.name], check=False)


def converge_collection(container, workdir):
    """The collection's own strategy: the site playbook, as an admin runs it."""
    inventory = os.path.join(workdir, 'inventory.yml')
    with open(inventory, 'w') as handle:
        handle.write('uv_nodes:\n  hosts:\n    %s:\n      ansible_connection: containers.podman.podman\n'
                     '  vars:\n    uv_install_source: pypi\n    uv_shared_group: uvshared\n'
                     '    uv_shared_group_gid: 2790\n    uv_shared_group_members: [alice, bob]\n'
                     '    uv_shared_system_certs: true\n    uv_shared_cache_dir: %s\n'
                     '    uv_shared_python_install_dir: %s\n    uv_shared_python_bin_dir: /srv/uvpython-bin\n'
                     '    uv_shared_python_downloads_json_url: /srv/pymirror/downloads.json\n'
                     % (container.name, CACHE, PYDIR))
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER='auto_silent', ANSIBLE_NOCOLOR='1')
    env['ANSIBLE_COLLECTIONS_PATH'] = env.get('UVFLEET_COLLECTIONS_PATH') or os.path.join(REPO, 'build', 'collections')
    env['PATH'] = os.path.join(REPO, '.venv', 'bin') + os.pathsep + env.get('PATH', '')
    proc = sh(['ansible-playbook', '-i', inventory, 'uvfleet.uv.site'], check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError('converge of uvfleet.uv.site failed:\n' + proc.stdout[-3000:])


def measure(name, uv_path, workdir, keep):
    title, setup, profile = STRATEGIES[name]
    container = Container('uvfleet-strategy-' + name.replace('_', '-'))
    container.start()
    try:
        container.root(USERS)
        sh(['podman', 'cp', os.path.join(REPO, 'molecule', '_shared', 'files', 'make-python-mirror.sh'),
            container.name + ':/srv/make-python-mirror.sh'])
        container.root('sh /srv/make-python-mirror.sh /srv/pymirror >/dev/null && chmod -R a+rX /srv/pymirror')
        container.root('python3 - <<"EOF"\n%sEOF' % SDIST_PY)
        if setup is None:
            converge_collection(container, workdir)
        else:
            sh(['podman', 'cp', uv_path, container.name + ':/usr/local/bin/uv'])
            container.root(setup or 'true')
            if profile:
                container.root('for u in alice bob carol; do echo %s >> /home/$u/.profile; done'
                               % shlex.quote(profile))
        results = {}
        for key, _question, steps in CHECKS:
            if name == 'per_user':  # "the cache" is alice's own
                steps = [(user, cmd.replace(CACHE, '/home/alice/.cache/uv')) for user, cmd in steps]
            outcome = None
            for user, command in steps:
                rc, last = container.as_user(user, command)
                outcome = {'rc': rc, 'user': user, 'last': last[:160]}
                if rc != 0:
                    break
            results[key] = dict(outcome, answer='yes' if outcome['rc'] == 0 else 'no')
            if name == 'uvfleet' and key in ('copy_p', 'build_backend') and outcome['rc'] != 0:
                # what the scheduled repair (uvfleet repair, the maintenance timer) does, then again
                container.root('uvfleet repair --compact >/dev/null')
                rc, last = container.as_user(steps[-1][0], steps[-1][1])
                results[key]['after_repair'] = 'yes' if rc == 0 else 'no'
        return {'title': title, 'checks': results}
    finally:
        if not keep:
            container.remove()


# How a check's answer reads in the table: (for yes, for no); the good answer in bold.
WORDING = {
    'member_installs': ('**yes**', 'no'),
    'share_077': ('**yes**', 'no'),
    'outsider_reads': ('yes', '**no**'),
    'outsider_poisons': ('yes', '**no**'),
    'member_edits_venv': ('yes', '**no**'),
    'locks_temp': ('**yes**', 'no'),
    'copy_p': ('**yes**', 'no'),
    'build_backend': ('**yes**', 'no'),
}


def table(data):
    names = [n for n in STRATEGIES if n in data['strategies']]
    lines = ['| check | ' + ' | '.join(data['strategies'][n]['title'] for n in names) + ' |',
             '|---|' + '---|' * len(names)]
    for key, question, _steps in CHECKS:
        cells = []
        for n in names:
            result = data['strategies'][n]['checks'][key]
            text = WORDING[key][0 if result['answer'] == 'yes' else 1]
            if 'after_repair' in result:
                text += ' (%s after `uvfleet repair`)' % ('**yes**' if result['after_repair'] == 'yes' else 'no')
            cells.append(text)
        lines.append('| %s | %s |' % (question, ' | '.join(cells)))
    lines.append('')
    lines.append('Measured %s with uv %s on Debian 12 (`python3 bench/strategies.py`).' % (data['date'], UV_VERSION))
    return '\n'.join(lines)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--only', nargs='*', choices=list(STRATEGIES), help='measure only these strategies')
    parser.add_argument('--keep', action='store_true', help='keep the containers')
    parser.add_argument('--table', action='store_true', help='only print/write the table from the last results')
    args = parser.parse_args(argv)
    data = None
    if not args.table:
        data = {'date': time.strftime('%Y-%m-%d'), 'uv': UV_VERSION, 'strategies': {}}
        if args.only and os.path.exists(RESULTS):
            with open(RESULTS) as handle:
                data['strategies'] = json.load(handle).get('strategies', {})
        workdir = tempfile.mkdtemp(prefix='uvfleet-strategies.')
        uv_path = uv_binary(workdir)
        for name in args.only or list(STRATEGIES):
            started = time.time()
            sys.stderr.write('strategy %s ...\n' % name)
            data['strategies'][name] = measure(name, uv_path, workdir, args.keep)
            data['strategies'][name]['seconds'] = round(time.time() - started, 1)
    return doctable.publish(RESULTS, data, DOC, 'strategies', table)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
