"""Extract the uv and uvx executables from a uv wheel into a directory.

usage: extract_wheel.py WHEEL DEST

A uv wheel carries them as <name>-<version>.data/scripts/uv and .../uvx. They are
written as DEST/uv and DEST/uvx with mode 0700 (the role installs them as 0755).
"""

import os
import re
import shutil
import sys
import zipfile


def main(wheel, dest):
    found = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            match = re.match(r"^[^/]+\.data/scripts/(uvx?)$", name)
            if match:
                found[match.group(1)] = name
        for script in ("uv", "uvx"):
            if script not in found:
                sys.exit("%s has no %s script (*.data/scripts/%s): not a uv wheel" % (wheel, script, script))
            target = os.path.join(dest, script)
            with archive.open(found[script]) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            os.chmod(target, 0o700)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
