#!/usr/bin/env bash
# Installs gradway into a prefix: bazel run //:install -- [--prefix=DIR] [--destdir=DIR]
#                                  bazel run //:install -- [--prefix=DIR] --uninstall
#   --prefix=DIR   where gradway goes (default /usr/local; a relative DIR is relative to the
#                  folder bazel was run from)
#   --destdir=DIR  stage the files under DIR/PREFIX while they name PREFIX (for packages:
#                  packaging/build_deb.sh)
#   --uninstall    remove what the last install into PREFIX put there (its manifest)
# Installs:
#   PREFIX/include/gradway/{autograd,base,data,distributed,nn}/*.h  the public headers and
#                                          every header of gradway's they include, no other
#   PREFIX/lib/libgradway.so.X.Y.Z (soname libgradway.so.X), libgradway.so, libgradway.a
#   PREFIX/lib/libgradway_mpi.so.X.Y.Z, libgradway_mpi.a            data-parallel training
#   PREFIX/lib/pkgconfig/gradway.pc, gradway-mpi.pc
#   PREFIX/lib/cmake/gradway/gradwayConfig.cmake, gradwayConfigVersion.cmake
#   PREFIX/share/doc/gradway/{CHANGELOG.md,LICENSE}
#   PREFIX/share/gradway/install_manifest.txt   every file above, for --uninstall
set -euo pipefail

prefix=/usr/local
destdir=""
uninstall=0
for arg in "$@"; do
  case $arg in
    --prefix=*) prefix=${arg#--prefix=} ;;
    --destdir=*) destdir=${arg#--destdir=} ;;
    --uninstall) uninstall=1 ;;
    *)
      echo "install.sh: unknown argument '$arg'" >&2
      echo "usage: bazel run //:install -- [--prefix=DIR] [--destdir=DIR] [--uninstall]" >&2
      exit 2
      ;;
  esac
done
absolute() {  # a path given on the command line, relative to where bazel was run
  case $1 in
    "~") printf '%s' "$HOME" ;;
    "~/"*) printf '%s/%s' "$HOME" "${1#\~/}" ;;
    /*) printf '%s' "$1" ;;
    *) printf '%s/%s' "${BUILD_WORKING_DIRECTORY:-$PWD}" "$1" ;;
  esac
}
if [ -z "$prefix" ]; then
  echo "install.sh: --prefix is empty" >&2
  exit 2
fi
prefix=$(absolute "$prefix")
prefix=${prefix%/}
[ -n "$destdir" ] && destdir=$(absolute "$destdir")
root=$destdir$prefix
manifest_name=share/gradway/install_manifest.txt

# Removes what the manifest of an earlier install lists, and gradway's own folders when
# they are empty then (never a folder gradway shares, such as lib/pkgconfig).
remove_installed() {
  while read -r f; do
    rm -f "$root/$f"
  done < "$root/$manifest_name"
  rm -f "$root/$manifest_name"
  for d in include/gradway/{autograd,base,data,distributed,nn} include/gradway \
           lib/cmake/gradway share/doc/gradway share/gradway; do
    rmdir "$root/$d" 2>/dev/null || true
  done
}
refresh_linker_cache() {  # as root, for this machine (not a staging --destdir)
  if [ -z "$destdir" ] && [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then
    ldconfig
  fi
}

if ((uninstall)); then
  if [ ! -f "$root/$manifest_name" ]; then
    echo "install.sh: nothing to uninstall: no $root/$manifest_name" >&2
    exit 1
  fi
  remove_installed
  refresh_linker_cache
  echo "install.sh: removed gradway from $root"
  exit 0
fi

# Bazel runs this in its runfiles folder, beside what //packaging:install builds.
here=packaging
if [ ! -f "$here/version.txt" ]; then
  echo "install.sh: run it with: bazel run //:install -- --prefix=DIR" >&2
  exit 2
fi
if ! mkdir -p "$root" 2>/dev/null || [ ! -w "$root" ]; then
  echo "install.sh: cannot write to $root: run as root, or choose --prefix=DIR" >&2
  exit 1
fi
version=$(cat "$here/version.txt")
major=${version%%.*}
# An earlier install here (another version, other headers) goes first, so that the new
# manifest lists everything of gradway's in the prefix.
if [ -f "$root/$manifest_name" ]; then
  remove_installed
fi

manifest=()
put() {  # put MODE SOURCE DEST: copies SOURCE to PREFIX/DEST
  install -D -m "$1" "$2" "$root/$3"
  manifest+=("$3")
}
link() {  # link TARGET DEST: PREFIX/DEST -> TARGET (in the same folder)
  mkdir -p "$(dirname "$root/$2")"
  ln -sfn "$1" "$root/$2"
  manifest+=("$2")
}

while read -r h; do
  put 644 "$h" "include/gradway/$h"
done < "$here/public_headers.txt"

for lib in gradway gradway_mpi; do
  put 755 "$here/lib$lib.so" "lib/lib$lib.so.$version"
  link "lib$lib.so.$version" "lib/lib$lib.so.$major"
  link "lib$lib.so.$major" "lib/lib$lib.so"
  put 644 "$here/lib$lib.a" "lib/lib$lib.a"
done

# Programs built with pkg-config find libgradway.so at run time by itself when PREFIX/lib
# is not one of the dynamic linker's folders.
rpath=""
case $prefix in
  /usr | /usr/local) ;;
  *) rpath=" -Wl,-rpath,\${libdir}" ;;
esac
for pc in gradway gradway-mpi; do
  tmp=$(mktemp)
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@RPATH@|$rpath|g" \
    "$here/$pc.pc.in" > "$tmp"
  put 644 "$tmp" "lib/pkgconfig/$pc.pc"
  rm -f "$tmp"
done
put 644 "$here/gradwayConfig.cmake" lib/cmake/gradway/gradwayConfig.cmake
put 644 "$here/gradwayConfigVersion.cmake" lib/cmake/gradway/gradwayConfigVersion.cmake
put 644 CHANGELOG.md share/doc/gradway/CHANGELOG.md
put 644 LICENSE share/doc/gradway/LICENSE

manifest+=("$manifest_name")
mkdir -p "$(dirname "$root/$manifest_name")"
printf '%s\n' "${manifest[@]}" > "$root/$manifest_name"

refresh_linker_cache
echo "install.sh: installed gradway $version into $root (${#manifest[@]} files; manifest: $root/$manifest_name)"
