#!/usr/bin/env bash
# Builds the README's three projects that use gradway from outside this repository, each
# in a temporary folder, and runs the README's XOR program (<!-- readme-custom-layer -->)
# built by each:
#   cmake       the README's CMakeLists.txt (find_package(gradway CONFIG REQUIRED)) against
#               `bazel run //:install -- --prefix=TMP/prefix`
#   pkg-config  the README's g++ command line, against the same prefix
#   bazel       the README's WORKSPACE (local_repository + gradway_dependencies()) and BUILD,
#               with the repository's path filled in; no .bazelrc
# Prints "PASS: consumer NAME" or "FAIL: consumer NAME" for each, and exits non-zero when
# any fails. Needs what third_party/install.sh installs (cmake and pkg-config among them).
#   .ci/consumers.sh               installs into a temporary prefix first
#   .ci/consumers.sh --installed   uses the install already in /usr/local (the README's
#                                  `bazel run //:install`), exactly as the README's commands do
set -uo pipefail
cd "$(dirname "$0")/.."
installed=0
case ${1:-} in
  --installed) installed=1 ;;
  "") ;;
  *) echo "usage: $0 [--installed]" >&2; exit 2 ;;
esac
repo=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/gradway-consumers.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The text between <!-- MARKER:begin --> and <!-- MARKER:end --> in README.md, fences dropped.
readme_block() {
  sed -n "/<!-- $1:begin -->/,/<!-- $1:end -->/p" "$repo/README.md" | sed -e '/^<!--/d' -e '/^```/d'
}
project() {  # project NAME: a fresh folder holding the README's main.cc
  mkdir -p "$work/$1"
  readme_block readme-custom-layer > "$work/$1/main.cc"
  grep -q 'int main' "$work/$1/main.cc" || { echo "consumers.sh: no XOR program in README.md" >&2; return 1; }
}
status=0
report() {  # report NAME RC
  if [ "$2" -eq 0 ]; then echo "PASS: consumer $1"; else echo "FAIL: consumer $1"; status=1; fi
}

prefix_options=()  # where CMake and pkg-config look, beside their defaults (/usr/local)
if ((!installed)); then
  prefix=$work/prefix
  if ! bazel run //:install -- --prefix="$prefix"; then
    for name in cmake pkg-config bazel; do report "$name" 1; done
    exit 1
  fi
  prefix_options=(-DCMAKE_PREFIX_PATH="$prefix")
  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
fi

(
  set -e
  project cmake || exit 1
  cd "$work/cmake" || exit 1
  readme_block consumer-cmake > CMakeLists.txt
  cmake -S . -B build "${prefix_options[@]}" > /dev/null
  cmake --build build
  ./build/xor
)
report cmake $?

(
  set -e
  project pkg-config || exit 1
  cd "$work/pkg-config" || exit 1
  command=$(readme_block consumer-pkg-config)
  echo "+ $command"
  bash -c "$command"
  ./xor
)
report pkg-config $?

(
  set -e
  project bazel || exit 1
  cd "$work/bazel" || exit 1
  readme_block consumer-bazel-workspace | sed "s|/path/to/gradway|$repo|" > WORKSPACE
  readme_block consumer-bazel-build > BUILD
  # Its own output base, removed afterwards; compiled actions shared through the disk cache.
  rc=0
  bazel --output_base="$work/bazel-output" run --disk_cache="$HOME/.cache/gradway/bazel-disk" \
    //:xor || rc=$?
  bazel --output_base="$work/bazel-output" shutdown
  chmod -R u+w "$work/bazel-output"
  exit $rc
)
report bazel $?

exit $status
