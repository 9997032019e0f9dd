"""Build a uv release mirror from uv wheels, the way upstream lays out its releases.

usage: build_mirror.py WHEEL_DIR MIRROR_DIR TARGET VERSION [VERSION ...]

For each VERSION, from WHEEL_DIR/uv-VERSION-*.whl:

  MIRROR_DIR/good/VERSION/uv-TARGET.tar.gz         uv-TARGET/uv and uv-TARGET/uvx, 0755
  MIRROR_DIR/good/VERSION/uv-TARGET.tar.gz.sha256  "<sha256>  uv-TARGET.tar.gz"
  MIRROR_DIR/corrupt/VERSION/...                   the same tarball with bytes flipped in
                                                   the middle, next to the good .sha256

Files are written to a temporary name and renamed, so a run that is interrupted
leaves nothing half-written behind; existing files are kept.
"""

import glob
import hashlib
import io
import os
import sys
import tarfile
import zipfile


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        out.write(data)
    os.rename(tmp, path)


def tarball_from_wheel(wheel, target):
    buf = io.BytesIO()
    with zipfile.ZipFile(wheel) as whl, tarfile.open(fileobj=buf, mode="w:gz") as tar:
        names = {os.path.basename(n): n for n in whl.namelist() if ".data/scripts/" in n}
        top = tarfile.TarInfo("uv-%s" % target)
        top.type, top.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(top)
        for script in ("uv", "uvx"):
            data = whl.read(names[script])
            info = tarfile.TarInfo("uv-%s/%s" % (target, script))
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main(wheel_dir, mirror, target, versions):
    name = "uv-%s.tar.gz" % target
    for version in versions:
        good = os.path.join(mirror, "good", version, name)
        corrupt = os.path.join(mirror, "corrupt", version, name)
        if os.path.exists(good + ".sha256") and os.path.exists(corrupt + ".sha256"):
            continue
        wheels = glob.glob(os.path.join(wheel_dir, "uv-%s-*.whl" % version))
        if not wheels:
            sys.exit("no uv %s wheel in %s" % (version, wheel_dir))
        data = tarball_from_wheel(wheels[0], target)
        sha = ("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name)).encode()
        middle = len(data) // 2
        bad = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:]
        write_atomic(good, data)
        write_atomic(good + ".sha256", sha)
        write_atomic(corrupt, bad)
        write_atomic(corrupt + ".sha256", sha)
        print("built %s and its corrupted copy" % good)


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
