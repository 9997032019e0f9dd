"""Write the files that docs/images.md shows into a build context.

    extract.py PAGE DIR

A file on the page is a line holding only its name in backticks and a colon
(`` `Containerfile`: ``), then the fenced block after it. The test builds what the
page shows, so page and test cannot drift apart. Fails when a file is missing or
named twice.
"""
import os
import re
import sys

WANTED = ('Containerfile', 'uvfleet-image.yml')


def extract(text):
    files = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        named = re.match(r'^`([A-Za-z0-9._-]+)`:\s*$', lines[i])
        i += 1
        if not named:
            continue
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines) or not lines[i].startswith('```'):
            raise SystemExit('%s: no code block after its name' % named.group(1))
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith('```'):
            body.append(lines[i])
            i += 1
        if named.group(1) in files:
            raise SystemExit('%s is shown twice' % named.group(1))
        files[named.group(1)] = '\n'.join(body) + '\n'
    return files


def main(page, directory):
    with open(page) as handle:
        files = extract(handle.read())
    missing = [name for name in WANTED if name not in files]
    if missing:
        raise SystemExit('%s does not show %s' % (page, ', '.join(missing)))
    os.makedirs(directory, exist_ok=True)
    for name in WANTED:
        with open(os.path.join(directory, name), 'w') as handle:
            handle.write(files[name])


if __name__ == '__main__':
    main(*sys.argv[1:])
