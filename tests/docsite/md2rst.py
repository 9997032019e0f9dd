"""Turn the docs/*.md pages the docsite shows into docs/docsite/rst/*.rst (with pandoc).

    python3 tests/docsite/md2rst.py           write the .rst files
    python3 tests/docsite/md2rst.py --check   fail when a committed .rst is not what
                                              its .md page gives (make docsite runs this)

The Markdown pages in docs/ are the source (the README links them); the docsite needs
reStructuredText in docs/docsite/rst/ (antsibull-docs extra docs). The pages are the
ones docs/docsite/extra-docs.yml lists. One page has another source: ``changelog``
is rendered from changelogs/changelog.yaml by antsibull-changelog (reStructuredText),
so it changes when a release is cut (then run this again).
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
DOCS = os.path.join(REPO, 'docs')
RST = os.path.join(DOCS, 'docsite', 'rst')
LABEL = 'ansible_collections.uvfleet.uv.docsite.%s'


def pages():
    """The page names extra-docs.yml lists (one '- name' per line under a toctree)."""
    names = []
    with open(os.path.join(DOCS, 'docsite', 'extra-docs.yml')) as handle:
        for line in handle:
            match = re.match(r'^\s+-\s+([a-z0-9_]+)\s*$', line)
            if match:
                names.append(match.group(1))
    return names


def changelog():
    """The released versions of changelogs/changelog.yaml, as antsibull-changelog renders them."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'changelog.rst')
        subprocess.check_call(['antsibull-changelog', 'generate', '--output-format', 'rst', '--output', out],
                              cwd=REPO, stdout=subprocess.DEVNULL)
        with open(out) as handle:
            body = handle.read()
    return ('..\n   Generated from changelogs/changelog.yaml by tests/docsite/md2rst.py (antsibull-changelog).\n\n'
            '.. _%s:\n\n' % (LABEL % 'changelog')) + body


def convert(name, names):
    if name == 'changelog':
        return changelog()
    env = dict(os.environ, UVFLEET_DOCSITE_PAGES=','.join(names))
    body = subprocess.check_output(
        ['pandoc', '--from=gfm-gfm_auto_identifiers', '--to=rst', '--wrap=none', '--lua-filter', os.path.join(HERE, 'links.lua'),
         os.path.join(DOCS, name + '.md')], env=env).decode('utf-8')
    header = ('..\n   Generated from docs/%s.md by tests/docsite/md2rst.py: edit that file, then run it.\n\n'
              '.. _%s:\n\n' % (name, LABEL % name))
    return header + body


def main(argv):
    check = '--check' in argv
    names = pages()
    stale = []
    for name in names:
        text = convert(name, names)
        path = os.path.join(RST, name + '.rst')
        try:
            with open(path) as handle:
                current = handle.read()
        except OSError:
            current = None
        if current == text:
            continue
        if check:
            stale.append(path)
        else:
            with open(path, 'w') as handle:
                handle.write(text)
    wanted = set(n + '.rst' for n in names)
    extra = [f for f in os.listdir(RST) if f.endswith('.rst') and f not in wanted]
    for name in extra:
        if check:
            stale.append(os.path.join(RST, name) + ' (no page lists it)')
        else:
            os.unlink(os.path.join(RST, name))
    if stale:
        sys.stderr.write('docsite pages out of date with docs/*.md: %s\nrun: python3 tests/docsite/md2rst.py\n'
                         % ', '.join(stale))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
