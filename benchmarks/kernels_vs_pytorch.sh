#!/bin/sh
# Installs the reference libraries when missing (python3-torch, libopenblas-dev; apt-get,
# needs root), then runs benchmarks/kernels_vs_pytorch.py with the given arguments,
# e.g. benchmarks/kernels_vs_pytorch.sh --threads 2
set -e
missing=""
for pkg in python3-torch python3-numpy libopenblas-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
cd "$(dirname "$0")/.."
exec /usr/bin/python3 benchmarks/kernels_vs_pytorch.py "$@"
