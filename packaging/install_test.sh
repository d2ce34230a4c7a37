#!/usr/bin/env bash
# //packaging:install_test: installs gradway into a temporary prefix with install.sh, as
# `bazel run //:install` does, and checks what a user of the prefix gets:
# - each installed header compiles alone, in its own translation unit, with only the prefix
#   on the include path, at -Wall -Wextra -Werror;
# - the installed headers are the public ones and what they include, no internal header
#   (ops/, the training loop's internals, data's file utilities, autograd/internal/);
# - the libraries carry the version of base/version.h (soname libgradway.so.MAJOR), export
#   gradway's API, and the pkg-config and CMake files name the prefix and the version;
# - --uninstall removes every file the install wrote and nothing else (not even an empty
#   folder gradway shares with others, such as lib/pkgconfig); installing again over an
#   install replaces it.
set -euo pipefail
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
prefix=$TEST_TMPDIR/prefix
mkdir -p "$prefix/share/other" "$prefix/lib/pkgconfig" "$prefix/lib/cmake" "$prefix/include"
echo "not gradway's" > "$prefix/share/other/keep.txt"
bash packaging/install.sh --prefix="$prefix"
# Again over the first: the manifest still lists each file once.
bash packaging/install.sh --prefix="$prefix"
inc=$prefix/include/gradway
version=$(cat packaging/version.txt)
major=${version%%.*}

# The headers.
mapfile -t headers < <(cd "$inc" && find . -name '*.h' | sed 's|^\./||' | LC_ALL=C sort)
((${#headers[@]} >= 30)) || fail "only ${#headers[@]} headers installed"
for must in nn/nn.h autograd/autograd.h base/version.h data/mnist.h data/png.h \
            distributed/mpi_collective.h; do
  [ -f "$inc/$must" ] || fail "public header $must is not installed"
done
for h in "${headers[@]}"; do
  case $h in
    ops/* | autograd/internal/* | nn/fit_loop.h | nn/epoch_iterator.h | nn/callback_list.h | \
    nn/data_parallel.h | nn/test_util.h | data/file_util.h | data/alloc_probe.h | *_test.h)
      fail "internal header $h is installed" ;;
  esac
done
mpi_include=/usr/lib/x86_64-linux-gnu/openmpi/include
for h in "${headers[@]}"; do
  extra=()
  [[ $h == distributed/* ]] && extra=(-isystem "$mpi_include" -DOMPI_SKIP_MPICXX)
  echo "#include \"$h\"" > "$TEST_TMPDIR/tu.cc"
  g++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -I"$inc" "${extra[@]}" "$TEST_TMPDIR/tu.cc" ||
    fail "installed header $h does not compile alone"
done
echo "PASS: ${#headers[@]} headers, each compiles alone at -Wall -Wextra -Werror"

# The libraries.
lib=$prefix/lib
for l in gradway gradway_mpi; do
  [ -f "$lib/lib$l.so.$version" ] && [ -f "$lib/lib$l.a" ] || fail "lib$l missing"
  soname=$(readelf -d "$lib/lib$l.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ "$soname" = "lib$l.so.$major" ] || fail "lib$l soname '$soname', want lib$l.so.$major"
  [ "$(readlink "$lib/lib$l.so")" = "lib$l.so.$major" ] || fail "lib$l.so link"
  [ "$(readlink "$lib/lib$l.so.$major")" = "lib$l.so.$version" ] || fail "lib$l.so.$major link"
done
# (nm's output in a variable: `nm | grep -q` fails under pipefail when grep stops early)
symbols=$(nm -DC --defined-only "$lib/libgradway.so.$version")
mpi_symbols=$(nm -DC --defined-only "$lib/libgradway_mpi.so.$version")
grep -q 'gradway::nn::Model::Fit' <<<"$symbols" || fail "libgradway.so does not export nn::Model::Fit"
grep -q 'gradway::VersionString' <<<"$symbols" || fail "libgradway.so does not export VersionString"
grep -q 'gradway::distributed::' <<<"$mpi_symbols" || fail "libgradway_mpi.so does not export distributed::"
if grep -q 'gradway::nn::Model::' <<<"$mpi_symbols"; then
  fail "libgradway_mpi.so holds a second copy of nn::Model (it must use libgradway.so's)"
fi
readelf -d "$lib/libgradway_mpi.so.$version" | grep -q "NEEDED.*\[libgradway.so.$major\]" ||
  fail "libgradway_mpi.so does not name libgradway.so.$major as needed"
echo "PASS: libgradway and libgradway_mpi $version, sonames *.so.$major"

# pkg-config and CMake files.
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion gradway)" = "$version" ] || fail "gradway.pc version"
pkg-config --cflags gradway | grep -q -- "-I$inc" || fail "gradway.pc Cflags: $(pkg-config --cflags gradway)"
pkg-config --libs gradway | grep -q -- "-L$lib -lgradway" || fail "gradway.pc Libs: $(pkg-config --libs gradway)"
pkg-config --exists 'gradway-mpi = '"$version" || fail "gradway-mpi.pc"
grep -q "libgradway.so.$version" "$lib/cmake/gradway/gradwayConfig.cmake" || fail "gradwayConfig.cmake version"
grep -q "\"$version\"" "$lib/cmake/gradway/gradwayConfigVersion.cmake" || fail "gradwayConfigVersion.cmake"
echo "PASS: gradway.pc, gradway-mpi.pc, gradwayConfig.cmake for $version"

# Uninstall: back to what was there before.
manifest=$prefix/share/gradway/install_manifest.txt
n=$(wc -l < "$manifest")
[ "$(sort "$manifest" | uniq -d | wc -l)" -eq 0 ] || fail "the manifest lists a file twice"
[ "$n" -eq "$(cd "$prefix" && find . ! -type d ! -path ./share/other/keep.txt | wc -l)" ] ||
  fail "the manifest lists $n files, the prefix holds others"
bash packaging/install.sh --prefix="$prefix" --uninstall
left=$(cd "$prefix" && find . \( ! -type d -o -name '*gradway*' \) | LC_ALL=C sort | paste -sd' ')
[ "$left" = "./share/other/keep.txt" ] || fail "after uninstall: $left"
for d in lib/pkgconfig lib/cmake include; do
  [ -d "$prefix/$d" ] || fail "--uninstall removed $d, which was there before"
done
echo "PASS: --uninstall removed the $n files of the manifest and kept the rest"
