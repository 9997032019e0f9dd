#!/usr/bin/env bash
# Install what the test harness needs on a Debian 12 machine, as root. Idempotent:
# packages already present are not touched, so a warm machine skips apt entirely.
set -euo pipefail
packages=(podman runc debootstrap acl attr xfsprogs python3-venv make git shellcheck pandoc)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
