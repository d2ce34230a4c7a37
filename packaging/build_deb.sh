#!/usr/bin/env bash
# Builds gradway's Debian packages from the install tree (`bazel run //:install` with
# --prefix=/usr into a staging folder):
#   gradway_VERSION_amd64.deb      libgradway.so.MAJOR and libgradway_mpi.so.MAJOR; its
#                                  Depends computed by dpkg-shlibdeps from what they link
#   gradway-dev_VERSION_amd64.deb  the headers, the static libraries, the .so links, the
#                                  pkg-config and CMake files; Depends on gradway and the
#                                  -dev packages whose headers gradway's headers include
# Usage:  bash packaging/build_deb.sh [OUT_DIR]     (default: the current folder)
# Then, on any Debian 12:  apt install ./gradway_*.deb ./gradway-dev_*.deb
set -euo pipefail
out=$(realpath "${1:-.}")
cd "$(dirname "$0")/.."
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/gradway-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT

bazel run //:install -- --prefix=/usr --destdir="$work/root"
version=$(cat "$(bazel info bazel-bin 2>/dev/null)/packaging/version.txt")
major=${version%%.*}
root=$work/root/usr
rm -f "$root/share/gradway/install_manifest.txt"  # dpkg keeps the list of files
rmdir "$root/share/gradway"

# Splits the tree: the runtime package takes the versioned shared libraries.
run=$work/gradway
dev=$work/gradway-dev
mkdir -p "$run/usr/lib" "$run/DEBIAN" "$run/usr/share/doc/gradway" "$dev/DEBIAN"
mv "$root"/lib/lib*.so."$major"* "$run/usr/lib/"
mv "$root" "$dev/usr"
rm -rf "$dev/usr/share/doc/gradway"  # the install's CHANGELOG.md and LICENSE: see below
mkdir -p "$dev/usr/share/doc/gradway-dev"
for pkg in "$run" "$dev"; do
  doc=$pkg/usr/share/doc/$(basename "$pkg")
  cp LICENSE "$doc/copyright"
done
gzip -9n < CHANGELOG.md > "$run/usr/share/doc/gradway/changelog.gz"

maintainer="gradway developers <gradway@users.noreply.github.com>"
# What other packages' programs that link libgradway.so.MAJOR depend on.
printf 'libgradway %s gradway (>= %s)\nlibgradway_mpi %s gradway (>= %s)\n' \
  "$major" "$version" "$major" "$version" > "$run/DEBIAN/shlibs"
# dpkg-shlibdeps reads the Debian packages that provide what the libraries link (not
# gradway itself: -x, for libgradway_mpi's libgradway.so.MAJOR).
mkdir -p "$work/shlibdeps/debian"
printf 'Source: gradway\n\nPackage: gradway\nArchitecture: amd64\n' > "$work/shlibdeps/debian/control"
depends=$(cd "$work/shlibdeps" && dpkg-shlibdeps -O -xgradway -S"$run" "$run"/usr/lib/lib*.so."$version" |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build_deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

control() {  # control PACKAGE DEPENDS SUGGESTS DESCRIPTION...
  local pkg=$1 deps=$2 suggests=$3 section=libs
  [[ $pkg == *-dev ]] && section=libdevel
  shift 3
  cat > "$work/$pkg/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version
Architecture: amd64
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$work/$pkg" | cut -f1)
Depends: $deps
Suggests: $suggests
Section: $section
Priority: optional
Description: $1
$(shift; printf ' %s\n' "$@")
CONTROL
}
control gradway "$depends" "gradway-dev" \
  "C++17 deep learning library: autodiff, SIMD kernels, Keras-like training" \
  "gradway is a reverse-mode autodiff engine over float32 tensors with kernels" \
  "vectorised with Highway and parallelised with oneTBB, and Keras-like layers," \
  "losses, optimisers and a training loop. This package holds the shared libraries."
control gradway-dev \
  "gradway (= $version), libabsl-dev, libhwy-dev, libtbb-dev, zlib1g-dev, libpng-dev, libjpeg62-turbo-dev, libonnx-dev, libprotobuf-dev" \
  "libopenmpi-dev, cmake, pkg-config" \
  "C++17 deep learning library: headers, static libraries, pkg-config, CMake" \
  "What a program that uses gradway builds with: the headers, libgradway.a, the" \
  "pkg-config files gradway and gradway-mpi, and the CMake package" \
  "(find_package(gradway CONFIG REQUIRED); target gradway::gradway)."

for pkg in gradway gradway-dev; do
  dpkg-deb --root-owner-group --build "$work/$pkg" "$out/${pkg}_${version}_amd64.deb"
done
ls -l "$out"/gradway*_"$version"_amd64.deb
