#!/bin/sh
# What uv sees when a command starts through one channel (login shell, ssh, cron,
# systemd, at). Usage: channel-probe.sh OUTFILE
out="$1"
{
  echo "user=$(id -un)"
  echo "uv=$(command -v uv)"
  echo "python_dir=$(uv python dir)"
  echo "python_bin_dir=$(uv python dir --bin)"
  echo "tool_dir=$(uv tool dir)"
  echo "tool_bin_dir=$(uv tool dir --bin)"
  echo "cache_dir=$(uv cache dir)"
  echo "uv_umask=$(uv run --no-project -p /usr/bin/python3 -- sh -c umask)"
} > "$out.tmp" 2>&1
mv "$out.tmp" "$out"
