#!/bin/sh
# gradway's MNIST examples side by side with the same training in PyTorch: one markdown
# table (seconds per epoch, test accuracy, peak memory, inference img/s and latency).
#
#   bash benchmarks/train_vs_pytorch.sh --dataset fashion --epochs 3 --threads 2
#   bash benchmarks/train_vs_pytorch.sh --dataset mnist --epochs 2 --models mlp
#   bash benchmarks/train_vs_pytorch.sh --dataset fashion --epochs 3 --threads 2 --models resnet
#   bash benchmarks/train_vs_pytorch.sh --epochs 3 --threads 2 --models spam,pronounce
#   (fashion_resnet's ResNet beside its PyTorch twin; add --train_samples 1280
#   --test_samples 500 for a smoke run of seconds)
#
# Installs the reference packages when missing (python3-torch, python3-numpy; apt-get,
# with sudo when not root; nothing is done when they are present), then runs
# benchmarks/train_vs_pytorch.py with the given arguments (see --help there and
# benchmarks/README.md). The PyTorch side runs in its faster glibc malloc configuration
# (MALLOC_TRIM_THRESHOLD_=1000000000 MALLOC_MMAP_THRESHOLD_=33554432 OPENBLAS_NUM_THREADS=1),
# set by the python script for the PyTorch process only.
set -e
missing=""
for pkg in python3-torch python3-numpy; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "train_vs_pytorch.sh: installing$missing" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
cd "$(dirname "$0")/.."
exec /usr/bin/python3 benchmarks/train_vs_pytorch.py "$@"
