#!/bin/sh
# Prepare one test node of the uvfleet.uv.shared scenarios (one call: the podman
# connection makes every task cost seconds).
#
#   prepare-node.sh HOME_BASE
#
# - users alice (umask 077) and bob (umask 022), who the role makes group members,
#   and carol, who stays outside; fixed UIDs so that they match on every node;
# - alice's ssh key for `ssh localhost cmd`, her crontab and a system service with
#   User=alice: the cron and systemd channels run /srv/channel-probe.sh;
# - a local Python mirror in /srv/pymirror (make-python-mirror.sh).
set -eu
home_base="$1"
install -d -m 0755 "$home_base"
for spec in alice:2001:077 bob:2002:022 carol:2003:022; do
  user=${spec%%:*}; rest=${spec#*:}; uid=${rest%%:*}; mask=${rest#*:}
  if ! id "$user" >/dev/null 2>&1; then
    useradd -m -d "$home_base/$user" -u "$uid" -s /bin/bash "$user"
  fi
  for rc in .profile .bashrc; do
    f="$home_base/$user/$rc"
    if ! grep -qx "umask $mask" "$f" 2>/dev/null; then
      { echo "umask $mask"; cat "$f" 2>/dev/null || true; } > "$f.new"
      mv "$f.new" "$f"
      chown "$user:$user" "$f"
      chmod 0644 "$f"
    fi
  done
done

if [ ! -f "$home_base/alice/.ssh/id_ed25519" ]; then
  runuser -u alice -- sh -c '
    set -eu; umask 077; cd
    mkdir -p .ssh channels
    ssh-keygen -q -t ed25519 -N "" -f .ssh/id_ed25519
    cp .ssh/id_ed25519.pub .ssh/authorized_keys'
  runuser -u alice -- sh -c 'ssh-keyscan -t ed25519 localhost > ~/.ssh/known_hosts 2>/dev/null' || true
fi

# cron starts jobs with PATH=/usr/bin:/bin; crontabs that use tools from
# /usr/local/bin set PATH themselves (docs/shared.md).
cat > /var/spool/cron/crontabs/alice <<'CRON'
PATH=/usr/local/bin:/usr/bin:/bin
* * * * * /srv/channel-probe.sh $HOME/channels/cron.out
CRON
chown alice:crontab /var/spool/cron/crontabs/alice
chmod 0600 /var/spool/cron/crontabs/alice
touch /var/spool/cron/crontabs

cat > /etc/systemd/system/uvfleet-channel-probe.service <<UNIT
[Unit]
Description=uvfleet channel probe as alice

[Service]
Type=oneshot
User=alice
ExecStart=/srv/channel-probe.sh $home_base/alice/channels/systemd.out
UNIT
systemctl daemon-reload
