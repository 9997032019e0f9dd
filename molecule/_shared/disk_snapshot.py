"""What a run left on a node, to the inode: a snapshot of every entry below the trees the
roles manage (type, mode, owner, group, size, mtime and ctime in ns, the POSIX ACL and
other xattrs), taken on the node by its own python3, and the differences of two."""
import json

from playbook_run import changed, playbook
from uvfleet_story import ok

# the shared directories (and their parent), uv.toml, the node configuration, the node
# command and its library, the wrappers and the PATH snippet, the scheduled jobs' units
# and cron entries, their state and metrics, the accounts and groups
TREES = ["/var/cache/uv", "/opt/uv", "/etc/uv", "/etc/uvfleet", "/usr/local/lib/uvfleet", "/usr/local/bin",
         "/usr/local/sbin", "/etc/profile.d", "/etc/systemd/system", "/etc/cron.d", "/var/lib/uvfleet",
         "/var/lib/prometheus/node-exporter", "/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow",
         "/etc/sudoers.d"]

SNAPSHOT = r'''
import json, os, stat, sys
out = {}
def entry(path):
    try:
        st = os.lstat(path)
    except OSError:
        return
    xattrs = {}
    if not stat.S_ISLNK(st.st_mode):
        try:
            names = os.listxattr(path, follow_symlinks=False)
        except OSError:
            names = []
        for name in names:
            try:
                xattrs[name] = os.getxattr(path, name, follow_symlinks=False).hex()
            except OSError:
                pass
    out[path] = [stat.S_IFMT(st.st_mode), oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid, st.st_size,
                 st.st_mtime_ns, st.st_ctime_ns, st.st_nlink, xattrs,
                 os.readlink(path) if stat.S_ISLNK(st.st_mode) else None]
for top in json.loads(sys.argv[1]):
    entry(top)
    for base, dirs, files in os.walk(top):
        for name in dirs + files:
            entry(os.path.join(base, name))
print(json.dumps(out))
'''

FIELDS = ["type", "mode", "uid", "gid", "size", "mtime_ns", "ctime_ns", "nlink", "xattrs", "target"]


def snapshot(host, trees=None):
    """{path: [type, mode, uid, gid, size, mtime_ns, ctime_ns, nlink, xattrs, link target]}."""
    return json.loads(ok(host.run("python3 -c %s %s", SNAPSHOT, json.dumps(trees or TREES))).stdout)


def differences(before, after):
    """Lines naming each entry made, removed or moved (which fields, before -> after)."""
    lines = ["made: " + path for path in sorted(set(after) - set(before))]
    lines += ["removed: " + path for path in sorted(set(before) - set(after))]
    for path in sorted(set(before) & set(after)):
        moved = ["%s %s -> %s" % (field, old, new)
                 for field, old, new in zip(FIELDS, before[path], after[path]) if old != new]
        if moved:
            lines.append("%s: %s" % (path, ", ".join(moved)))
    return lines


def check_run_changes_nothing(host, args=(), extra_inventory=None):
    """Run the site playbook with --check --diff (and ARGS) and assert it changed nothing, reported or on disk."""
    before = snapshot(host)
    rc, stats, tasks, out = playbook(["uvfleet.uv.site", "--check", "--diff"] + list(args), extra_inventory=extra_inventory)
    after = snapshot(host)
    assert rc == 0, out
    assert stats and all(s["changed"] == 0 for s in stats.values()), ("check mode reports changes", changed(tasks), stats)
    moved = differences(before, after)
    assert moved == [], "check mode changed the node:\n" + "\n".join(moved[:50])
