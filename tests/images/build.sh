#!/usr/bin/env bash
# Build the Debian test images with debootstrap and import them into podman.
#
#   tests/images/build.sh [11|12|13 ...]     (default: all three)
#
# Images are named localhost/uvfleet/debian:<release> and carry a label with the
# hash of their recipe (this script + packages.txt). An image whose label matches is
# kept; a changed recipe rebuilds it. No registry is needed: packages come from
# Debian's archive ($DEBIAN_MIRROR, default http://deb.debian.org/debian).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${CONTAINERS_CONF:=$here/../podman/containers.conf}"
export CONTAINERS_CONF
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
workdir="${UVFLEET_IMAGE_WORKDIR:-/var/tmp/uvfleet-images}"

codename() {
  case "$1" in
    11) echo bullseye ;;
    12) echo bookworm ;;
    13) echo trixie ;;
    *) echo "unknown Debian release '$1' (use 11, 12 or 13)" >&2; return 2 ;;
  esac
}

recipe_hash() {
  cat "$here/build.sh" "$here/packages.txt" | sha256sum | cut -c1-16
}

build_one() {
  local release="$1" name code hash current root
  code="$(codename "$release")"
  name="localhost/uvfleet/debian:$release"
  hash="$(recipe_hash)"
  current="$(podman image inspect --format '{{ index .Labels "uvfleet.recipe" }}' "$name" 2>/dev/null || true)"
  if [[ "$current" == "$hash" ]]; then
    echo "image $name is up to date (recipe $hash)"
    return 0
  fi
  echo "building $name from Debian $code (recipe $hash)"
  root="$workdir/$code"
  rm -rf "$root"
  mkdir -p "$workdir"
  local packages
  packages="$(grep -v '^#' "$here/packages.txt" | xargs | tr ' ' ',')"
  debootstrap --variant=minbase --include="$packages" "$code" "$root" "$mirror" \
    > "$workdir/$code.log" 2>&1 || { tail -20 "$workdir/$code.log" >&2; return 1; }
  # A container has no console to log in on and no kernel to tune.
  chroot "$root" systemctl mask getty@tty1.service serial-getty@console.service \
    systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount >/dev/null 2>&1 || true
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/etc/ssh/ssh_host_*
  # sshd makes its host keys on first boot.
  cat > "$root/etc/systemd/system/ssh-keygen-once.service" <<'UNIT'
[Unit]
Description=Create SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
UNIT
  chroot "$root" systemctl enable ssh-keygen-once.service >/dev/null 2>&1
  echo "deb $mirror $code main" > "$root/etc/apt/sources.list"
  : > "$root/etc/machine-id"
  tar -C "$root" -c . | podman import \
    --change 'CMD ["/sbin/init"]' \
    --change "LABEL uvfleet.recipe=$hash" \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    - "$name" >/dev/null
  rm -rf "$root"
  echo "built $name"
}

releases=("$@")
[[ ${#releases[@]} -gt 0 ]] || releases=(11 12 13)
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 2; }
for r in "${releases[@]}"; do
  build_one "$r"
done
