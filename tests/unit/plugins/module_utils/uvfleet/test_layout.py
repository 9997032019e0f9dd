# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the node library: layered imports without cycles, one door per audience, small pieces.

Read from the sources (ast), and for the doctor also from a real import: what a member's
``uvfleet doctor`` loads.
"""

from __future__ import absolute_import, division, print_function

import ast
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..', '..'))
MODULE_UTILS = os.path.join(COLLECTION, 'plugins', 'module_utils')
LIBRARY = os.path.join(MODULE_UTILS, 'uvfleet')
MODULES = os.path.join(COLLECTION, 'plugins', 'modules')
PREFIX = 'ansible_collections.uvfleet.uv.plugins.module_utils.'

#: package -> the packages its modules may import (besides their own): lower layers only
ALLOWED = {
    'uvfleet': {'uvfleet.fs'},  # escape, privsep, nodeconfig
    'uvfleet.fs': set(),
    'uvfleet.metrics': {'uvfleet.fs'},
    'uvfleet.perms': {'uvfleet.fs'},
    # the content check opens the cache and its state directories as the engine opens a root
    'uvfleet.content': {'uvfleet', 'uvfleet.fs', 'uvfleet.metrics', 'uvfleet.perms.roots', 'uvfleet.perms.errors'},
    'uvfleet.doctor': {'uvfleet', 'uvfleet.fs', 'uvfleet.metrics'},
    'uvfleet.maintain': {'uvfleet', 'uvfleet.fs', 'uvfleet.metrics', 'uvfleet.perms'},
    # the role's install scripts: the worker account, the shared group, a root-only parent opened as a root is
    'uvfleet.pythons_tools': {'uvfleet', 'uvfleet.fs', 'uvfleet.perms'},
    'uvfleet.cmd': {'uvfleet', 'uvfleet.fs', 'uvfleet.metrics', 'uvfleet.perms', 'uvfleet.content', 'uvfleet.doctor',
                    'uvfleet.maintain'},
}
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 80

# ast's end_lineno: Python 3.8+ (the node library itself runs on 3.7)
pytestmark = pytest.mark.skipif(sys.version_info < (3, 8), reason='reads the sources with ast of Python 3.8+')


def library_modules():
    """{dotted name: path} of every module of the library, packages as their __init__."""
    out = {}
    for top, dirs, files in os.walk(LIBRARY):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(top, name)
                dotted = os.path.relpath(path, MODULE_UTILS)[:-3].replace(os.sep, '.')
                out[dotted[:-len('.__init__')] if dotted.endswith('.__init__') else dotted] = path
    return out


def imports_of(path, dotted, known):
    """The library modules ``path`` (module ``dotted``) imports, resolved (relative and absolute imports)."""
    package = dotted if path.endswith('__init__.py') else dotted.rsplit('.', 1)[0]
    found = set()
    with open(path) as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = (node.module or '')
                if module.startswith(PREFIX):
                    module = module[len(PREFIX):]
            for alias in node.names:
                name = module + '.' + alias.name
                found.add(name if name in known else module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name[len(PREFIX):] if alias.name.startswith(PREFIX) else alias.name
                found.add(name)
    return set(m for m in found if m in known)


def graph():
    known = library_modules()
    return dict((name, imports_of(path, name, known)) for name, path in known.items())


def package_of(name, known):
    return name if name in ('uvfleet',) or os.path.isdir(os.path.join(MODULE_UTILS, *name.split('.'))) \
        else name.rsplit('.', 1)[0]


def closure(edges, start):
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(edges.get(name, ()))
    return seen


def test_every_import_goes_down_the_layers():
    edges = graph()
    wrong = []
    for name, targets in sorted(edges.items()):
        package = package_of(name, edges)
        for target in targets:
            other = package_of(target, edges)
            if other != package and other not in ALLOWED[package] and target not in ALLOWED[package]:
                wrong.append('%s imports %s' % (name, target))
    assert wrong == []
    assert set(ALLOWED) == set(package_of(name, edges) for name in edges)


def test_the_import_graph_has_no_cycle():
    edges = graph()
    state = {}
    path = []

    def visit(name):
        state[name] = 1
        path.append(name)
        for target in sorted(edges[name]):
            if state.get(target) == 1:
                raise AssertionError('import cycle: %s' % ' -> '.join(path[path.index(target):] + [target]))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = 2
    for name in sorted(edges):
        if name not in state:
            visit(name)


def test_one_door_each_the_modules_for_playbooks_the_command_for_nodes():
    edges = graph()
    library = [name for name in edges if not name.startswith('uvfleet.cmd')]
    assert not [(n, t) for n in library for t in edges[n] if t.startswith('uvfleet.cmd')]
    known = library_modules()
    for module in ('cache_perms', 'cache_verify'):
        used = imports_of(os.path.join(MODULES, module + '.py'), 'modules.' + module, known)
        assert used and not [m for name in used for m in closure(edges, name) if m.startswith('uvfleet.cmd')], module


def test_the_doctor_never_loads_the_engine_nor_the_content_check():
    edges = graph()
    loaded = closure(edges, 'uvfleet.cmd.doctor_cmd') | closure(edges, 'uvfleet.cmd.main')
    assert not [m for m in loaded if m.startswith(('uvfleet.perms', 'uvfleet.content', 'uvfleet.maintain'))]
    # and what really happens: `uvfleet doctor --help` as bin/uvfleet runs it
    code = ('import sys; sys.path.insert(0, %r); from uvfleet.cmd import main\n'
            'try:\n    main.main(["doctor", "--help"])\nexcept SystemExit:\n    pass\n'
            'import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith("uvfleet"))))' % MODULE_UTILS)
    out = subprocess.run([sys.executable, '-I', '-c', code], stdout=subprocess.PIPE, check=True).stdout.decode()
    modules = json.loads(out.splitlines()[-1])
    assert 'uvfleet.doctor.diagnosis' in modules
    assert not [m for m in modules if m.startswith(('uvfleet.perms', 'uvfleet.content', 'uvfleet.maintain'))], modules


@pytest.mark.parametrize('kind,limit', [(ast.ClassDef, MAX_CLASS_LINES), (ast.FunctionDef, MAX_FUNCTION_LINES)])
def test_no_class_over_300_lines_and_no_function_over_80(kind, limit):
    long = []
    for name, path in sorted(library_modules().items()):
        with open(path) as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, kind) and node.end_lineno - node.lineno + 1 > limit:
                long.append('%s.%s' % (name, node.name))
    assert long == []
