"""Check mode on a converged node (issue 23): `ansible-playbook --check --diff` of the site
playbook reports nothing to change and changes nothing on disk, to the inode (mode, owner,
group, ACLs and other xattrs, mtime, ctime of every entry of the shared directories,
/etc/uv, /etc/uvfleet, /usr/local/lib/uvfleet, the wrappers, the scheduled jobs' units and
cron entries, the accounts). Runs first, on the node converge and idempotence left; the
scheduler test (test_scheduler_cron.py) repeats it with both jobs on under cron.
(A fresh node in check mode: the clone scenario.)"""
from disk_snapshot import check_run_changes_nothing


def test_check_mode_on_a_converged_node_changes_nothing(host):
    check_run_changes_nothing(host)
