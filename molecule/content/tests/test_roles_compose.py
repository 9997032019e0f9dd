"""The roles as a user meets them, after the content story (issue 23): what may never be a
shared directory is refused by the engine before anything changes on the node."""
import pytest

from playbook_run import failures, playbook
from uvfleet_story import explain, ok


@pytest.mark.parametrize("path, below", [("/mnt", None), ("/var/log/x", "/var/log"), ("/etc/uvcache", "/etc")])
def test_a_system_directory_is_refused_before_anything_changes(host, path, below):
    # a group and worker account that do not exist: were the refusal late, they would be made
    new = ["-e", "uv_shared_group=uvrefused", "-e", "uv_shared_group_gid=2791", "-e", "uv_shared_worker_user=_uvrefused",
           "-e", "uv_shared_cache_dir=" + path]
    watched = [p for p in (path, below) if p]
    before = ok(host.run("stat -c '%%n %%a %%U:%%G %%i' %s 2>&1; getent group uvrefused; getent passwd _uvrefused; "
                         "ls -ld --full-time /usr/local/lib/uvfleet/bin/uv /etc/uv/uv.toml", " ".join(watched)))
    rc, stats, tasks, out = playbook(["uvfleet.uv.site"] + new)
    assert rc == 2, out
    assert stats and all(s["changed"] == 0 for s in stats.values()), (stats, out)
    messages = " ".join(failures(tasks))
    assert "refusing to work on" in messages and path in messages, messages or out
    assert "Nothing was changed" in messages, messages
    after = host.run("stat -c '%%n %%a %%U:%%G %%i' %s 2>&1; getent group uvrefused; getent passwd _uvrefused; "
                     "ls -ld --full-time /usr/local/lib/uvfleet/bin/uv /etc/uv/uv.toml", " ".join(watched))
    assert after.stdout == before.stdout, explain(after)
    assert "uvrefused" not in after.stdout
