# uvfleet.uv.shared: uv's own files in the managed Python and tool dirs.
#
#   managed-uv-files.py JSON
#
# JSON: {"dirs": [{"path": "/opt/uv/tools", "lock": "keep"}, {"path": "/opt/uv/python", "lock": "remove"}],
#        "check": false, "fresh": ["/opt/uv/python"]}
#
# "fresh": in check mode, dirs that the role's directory tasks would retire and make anew.
#
# Run by the role with the node's python3 (ansible.builtin.script), as root, after root's
# installs. Members cannot write a managed dir (root's, mode 2750), yet uv writes there:
#
# - `.gitignore`, the first time uv uses the dir (a member's `uvx` too): written here,
#   root's, group-readable, uv's own content; an existing entry of any type is left alone
#   (uv opens it create-new, so whatever is there satisfies it).
# - `.lock` of the tool dir ("keep"): a member's `uvx` takes it to look for an installed
#   tool and fails without it ("Could not create temporary file ... Permission denied").
#   It gets uv's own mode 0666 and no ACL (an inherited default ACL would leave the
#   group read-only); others cannot reach it through the 2750 dir. A symlink there (a
#   collaborative past) is removed, never followed.
# - `.lock` of the Python dir ("remove"): members do not need it, and a member holding it
#   would stall root's next install. Root's uv makes it anew on every install, so its
#   removal is listed under "cleaned", not reported as a change.
#
# Everything is done relative to the dir's fd, O_NOFOLLOW. Prints one JSON object:
# changed, actions (what was or, in check mode, would be done), cleaned.
import errno
import json
import os
import stat
import sys

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
FILE_FLAGS = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
ACL_ACCESS = "system.posix_acl_access"
LOCK_MODE = 0o666


def fail(msg):
    print(json.dumps({"failed": True, "msg": msg}))
    sys.exit(1)


def lstat_at(dir_fd, name):
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def gitignore(path, dir_fd, check, actions):
    if lstat_at(dir_fd, ".gitignore") is not None:
        return
    actions.append("created %s/.gitignore" % path)
    if check:
        return
    fd = os.open(".gitignore", FILE_FLAGS | os.O_CREAT | os.O_EXCL, 0o640, dir_fd=dir_fd)
    try:
        os.fchmod(fd, 0o640)
        os.write(fd, b"*")
    finally:
        os.close(fd)


def has_acl(fd):
    try:
        os.getxattr(fd, ACL_ACCESS)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return False
        raise
    return True


def keep_lock(path, dir_fd, dir_gid, check, actions):
    name = path + "/.lock"
    st = lstat_at(dir_fd, ".lock")
    if st is not None and stat.S_ISLNK(st.st_mode):
        actions.append("removed the symlink %s" % name)
        if not check:
            os.unlink(".lock", dir_fd=dir_fd)
        st = None
    if st is None:
        actions.append("created %s" % name)
        if check:
            return
        fd = os.open(".lock", FILE_FLAGS | os.O_CREAT | os.O_EXCL, LOCK_MODE, dir_fd=dir_fd)
    elif not stat.S_ISREG(st.st_mode):
        fail("%s is not a regular file (mode %o): remove it; uv keeps its lock there" % (name, st.st_mode))
    else:
        fd = os.open(".lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            fail("%s changed while it was looked at: run the role again" % name)
        if has_acl(fd):
            actions.append("removed the ACL of %s" % name)
            if not check:
                os.removexattr(fd, ACL_ACCESS)
        if stat.S_IMODE(st.st_mode) != LOCK_MODE:
            actions.append("mode %04o of %s to 0666" % (stat.S_IMODE(st.st_mode), name))
            if not check:
                os.fchmod(fd, LOCK_MODE)
        if (st.st_uid, st.st_gid) != (0, dir_gid):
            actions.append("owner of %s to root:%d" % (name, dir_gid))
            if not check:
                os.fchown(fd, 0, dir_gid)
    finally:
        os.close(fd)


def remove_lock(path, dir_fd, check, cleaned):
    st = lstat_at(dir_fd, ".lock")
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        fail("%s/.lock is a directory: remove it; uv keeps its lock there" % path)
    cleaned.append("removed %s/.lock" % path)
    if not check:
        os.unlink(".lock", dir_fd=dir_fd)


def main():
    conf = json.loads(sys.argv[1])
    actions, cleaned = [], []
    for entry in conf["dirs"]:
        path = entry["path"]
        if conf["check"] and path in conf.get("fresh", ()):
            # to be retired and made anew (managed-retire.py): what is there now is not looked at
            actions.append("created %s/.gitignore (with the directory)" % path)
            continue
        try:
            dir_fd = os.open(path, DIR_FLAGS)
        except OSError as exc:
            if conf["check"] and exc.errno == errno.ENOENT:
                actions.append("created %s/.gitignore (with the directory)" % path)
                continue
            fail("cannot open %s: %s (it must be a directory, not a symlink)" % (path, exc.strerror))
        try:
            dir_st = os.fstat(dir_fd)
            if dir_st.st_uid != 0 or dir_st.st_mode & 0o022:
                fail("%s is not root's and closed to writes (uid %d, mode %04o): rerun the role's directory "
                     "tasks first" % (path, dir_st.st_uid, stat.S_IMODE(dir_st.st_mode)))
            gitignore(path, dir_fd, conf["check"], actions)
            if entry["lock"] == "keep":
                keep_lock(path, dir_fd, dir_st.st_gid, conf["check"], actions)
            else:
                remove_lock(path, dir_fd, conf["check"], cleaned)
        except OSError as exc:
            fail("%s: %s" % (path, exc))
        finally:
            os.close(dir_fd)
    print(json.dumps({"changed": bool(actions), "actions": actions, "cleaned": cleaned}))


main()
