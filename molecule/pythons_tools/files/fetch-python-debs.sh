#!/bin/sh
# Download Debian 11's CPython 3.9 (.deb files) into DIR with apt, using a private
# bullseye source list and state directories (the controller's apt is not touched).
# make-python-mirror.sh turns them into a second distribution of the test mirror.
#   fetch-python-debs.sh DIR
set -eu
dir="$1"
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main" > "$dir/apt/sources.list"
set -- -o Dir::Etc::sourcelist="$dir/apt/sources.list" -o Dir::Etc::sourceparts=- \
  -o Dir::State::Lists="$dir/apt/lists" -o Dir::Cache="$dir/apt/cache" -o APT::Sandbox::User=root
apt-get "$@" -qq update
cd "$dir"
apt-get "$@" -qq download python3.9-minimal=3.9.2-1 libpython3.9-minimal=3.9.2-1 \
  libpython3.9-stdlib=3.9.2-1 python3.9=3.9.2-1 python3-distutils=3.9.2-1 python3-lib2to3=3.9.2-1
rm -rf "$dir/apt"
touch "$dir/done"
