# uvfleet.uv.shared: the managed Python and tool dirs hold only what root made; what else is retired.
#
#   managed-retire.py JSON
#
# JSON: {"mode": "retire" | "verify" | "remove" | "purge", "dirs": ["/opt/uv/python", ...], "check": false,
#        "lib": "/usr/local/lib/uvfleet/lib"}
#
# Run by the role with the node's python3 (ansible.builtin.script), as root, on the
# managed dirs (uv_shared_python_policy / uv_shared_tool_policy: managed).
#
# A managed dir must hold nothing a user other than root could have written: no entry
# owned by another user, nothing group- or world-writable (an ACL that grants write
# shows as the group bits: its mask), no file with a second link (written through the
# other one). Only uv's lock files are tolerated: regular files *.lock of mode 0666,
# root's, whose content nobody reads (a member's uvx takes the tool dir's .lock).
# "Untrusted" below means a dir with anything else in it.
#
# - retire (tasks/dirs.yml, before the directories are made): an untrusted dir, say
#   after a switch from collaborative, is renamed aside to <dir>.retired-<UTC time>
#   (its parent is root's: nobody can swap it), so that the role makes a new, empty
#   one and root installs fresh there. Root never runs, finds or adopts what was in
#   it; nothing in it is changed (no chown, no chmod), members keep what they had.
#   In check mode: what would be retired.
# - verify (before root's uv runs in the managed dirs, and the self-check): the
#   findings, one per dir; with "fail", a failure that names them.
# - remove (uv_shared_retired_dirs: remove): the <dir>.retired-* beside each managed
#   dir are removed with uvfleet/pythons_tools/rmtree.py of the node command's library
#   ("lib"): fd-based, never following a symlink, closed to members first.
# - purge (uv_shared_state: absent with uv_shared_purge): the same removal for each
#   shared dir itself and the <dir>.retired-* beside it.
#
# The scan is GNU find in pre-order, stopping at the first finding (-quit): a member
# can change only what is below a directory she can write, and find judges that
# directory (a finding) before it lists it, so it never reads a directory a member
# controls, and costs at most the entries of root's own installs. Names are escaped
# in the output. Prints one JSON object: changed, retired / findings / removed.
import json
import os
import re
import stat
import subprocess
import sys
import time

FIND = "/usr/bin/find"
# uv's lock files (0666 by uv's design, content never read), root's: tolerated
LOCK = ["(", "-type", "f", "-name", "*.lock", "-perm", "0666", "-uid", "0", ")"]
# what a user other than root could have written
UNTRUSTED = (["(", "!", "-uid", "0", "-o", "(", "!", "-type", "l", "!"] + LOCK
             + ["(", "-perm", "/022", "-o", "(", "-type", "f", "-links", "+1", ")", ")", ")", ")"])
RETIRED = ".retired-"
STAMP = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


def fail(msg):
    print(json.dumps({"failed": True, "msg": msg}))
    sys.exit(1)


def show(name):
    """A name from a member-writable place, escaped (no control character, ASCII only)."""
    return json.dumps(name, ensure_ascii=True)[1:-1]


def check_ancestors(path):
    """No component of path is a symlink, and only root can change a directory above it: its parent root's and
    closed to writes by others, every directory higher up too (or a root-owned sticky one, /tmp, above a
    root-owned directory). Otherwise someone could swap the dir (or what is renamed beside it)."""
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts)):
        parent, child = "/" + "/".join(parts[:i]), "/" + "/".join(parts[:i + 1])
        st, child_st = os.lstat(parent), os.lstat(child)
        if stat.S_ISLNK(child_st.st_mode):
            fail("%s is a symlink: a managed dir (%s) must be reached without one, or it could be swapped"
                 % (child, path))
        closed = st.st_uid == 0 and not st.st_mode & 0o022
        sticky = st.st_uid == 0 and st.st_mode & stat.S_ISVTX and child_st.st_uid == 0 and i < len(parts) - 1
        if not (closed or sticky):
            fail("%s (owner uid %d, mode %04o) can be changed by users other than root, who could swap %s: a "
                 "managed dir needs a parent and ancestors only root can change"
                 % (parent, st.st_uid, stat.S_IMODE(st.st_mode), child))


def untrusted(path):
    """The first entry of path a user other than root could have written, as a message; None when there is none."""
    argv = [FIND, "-P", path, "-xdev"] + UNTRUSTED + ["-printf", "%U %m %n %y %P\\0", "-quit"]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    out = proc.stdout.decode("utf-8", "surrogateescape")
    if not out:
        if proc.returncode != 0:
            return "could not be read through (%s)" % show(proc.stderr.decode("utf-8", "replace").strip()[-300:])
        return None
    uid, mode, links, kind, rel = out.rstrip("\0").split(" ", 4)
    plural = "" if links == "1" else "s"
    what = "%s (uid %s, mode %s, %s link%s, type %s)" % (show(rel) or ".", uid, mode, links, plural, kind)
    if uid != "0":
        why = "owned by uid %s" % uid
    elif int(mode, 8) & 0o022:
        why = "writable by the group or others"
    else:
        why = "a file with %s links (it can be written through the others)" % links
    return "%s: %s" % (what, why)


def retired_name(path, stamp):
    name = "%s%s%s" % (path, RETIRED, stamp)
    n = 1
    while os.path.lexists(name):
        n += 1
        name = "%s%s%s-%d" % (path, RETIRED, stamp, n)
    return name


def untrusted_dirs(dirs):
    """(dir, why) for each existing dir of ``dirs`` that holds what a user other than root could have written."""
    for path in dirs:
        if not os.path.lexists(path):
            continue
        check_ancestors(path)
        why = untrusted(path)
        if why is not None:
            yield path, why


def retire(conf):
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    retired = []
    for path, why in untrusted_dirs(conf["dirs"]):
        target = retired_name(path, stamp)
        retired.append({"dir": path, "to": target, "why": why})
        if not conf["check"]:
            os.rename(path, target)
    return {"changed": bool(retired), "retired": retired, "retiring": [r["dir"] for r in retired]}


def verify(conf):
    findings = [{"dir": path, "why": why} for path, why in untrusted_dirs(conf["dirs"])]
    if findings and conf.get("fail"):
        fail("root's uv does not run in a managed dir that holds what a user other than root could have written: %s. "
             "Run the role with its directory tasks (tag uv_shared_dirs), which retire such a dir and make it anew "
             "(uv_shared_retired_dirs)" % "; ".join("%s: %s" % (f["dir"], f["why"]) for f in findings))
    return {"changed": False, "findings": findings}


def retired_beside(path):
    parent, base = os.path.split(path)
    try:
        names = os.listdir(parent)
    except FileNotFoundError:
        return []
    prefix = base + RETIRED
    return sorted(n for n in names if n.startswith(prefix) and STAMP.match(n[len(prefix):]))


def remove(conf):
    removed, warnings = [], []
    rmtree = None
    dirs = conf["dirs"]
    if conf["mode"] == "purge":  # a dir inside another goes with it (its parent is not root's alone)
        dirs = [d for d in dirs if not any(d.startswith(o.rstrip("/") + "/") for o in dirs if o != d)]
    for path in dirs:
        parent = os.path.dirname(path)
        names = retired_beside(path)
        if conf["mode"] == "purge" and os.path.lexists(path):
            names.append(os.path.basename(path))
        for name in names:
            full = os.path.join(parent, name)
            entry = {"path": full, "done": conf["check"]}
            removed.append(entry)
            if conf["check"]:
                continue
            check_ancestors(full)
            if rmtree is None:
                sys.dont_write_bytecode = True  # nothing of root's into the library's directory
                sys.path.insert(0, conf["lib"])
                from uvfleet.pythons_tools import rmtree  # pylint: disable=import-error  # the node command's library
            try:
                result = rmtree.remove(parent, name)
            except rmtree.RemoveError as exc:
                fail(str(exc))
            entry.update(result)
            if not result["done"]:
                warnings.append("%s was not removed completely: %d entries left (%d on other mounts)%s; it is closed "
                                "to everyone but root now, and the next run tries again"
                                % (full, result["left"], result["other_fs"],
                                   (": " + "; ".join(result["errors"])) if result["errors"] else ""))
    return {"changed": bool(removed), "removed": removed, "warnings": warnings}


def main():
    conf = json.loads(sys.argv[1])
    modes = {"retire": retire, "verify": verify, "remove": remove, "purge": remove}
    try:
        result = modes[conf["mode"]](conf)
    except OSError as exc:
        fail("%s: %s" % (show(exc.filename or ""), exc.strerror))
    print(json.dumps(result))


main()
