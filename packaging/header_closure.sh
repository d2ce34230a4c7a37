#!/usr/bin/env bash
# Lists the headers an install puts under include/gradway/: the public entry headers and,
# recursively, every header of gradway's that they #include "..." (nothing else, so no
# internal header is installed). Paths are relative to the repository's root, one a line.
#   header_closure.sh OUT ENTRY_HEADERS... -- AVAILABLE_HEADERS...
# ENTRY_HEADERS are repository paths (nn/nn.h); AVAILABLE_HEADERS are the files Bazel
# provides (possibly under external/gradway/). A quoted include that is not one of them
# is another library's (absl/..., hwy/...) and is not followed.
set -euo pipefail
out=$1
shift
entries=()
while (($#)) && [ "$1" != "--" ]; do
  entries+=("$1")
  shift
done
shift
declare -A file_of  # repository path -> file
for f in "$@"; do
  file_of[${f#external/gradway/}]=$f
done
for h in "${entries[@]}"; do
  if [[ -z ${file_of[$h]:-} ]]; then
    echo "header_closure.sh: entry header $h is not a header of the libraries" >&2
    exit 1
  fi
done
declare -A seen
queue=("${entries[@]}")
while ((${#queue[@]})); do
  h=${queue[0]}
  queue=("${queue[@]:1}")
  [[ -n ${seen[$h]:-} ]] && continue
  [[ -z ${file_of[$h]:-} ]] && continue  # another library's header
  seen[$h]=1
  while read -r inc; do
    queue+=("$inc")
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "${file_of[$h]}")
done
printf '%s\n' "${!seen[@]}" | LC_ALL=C sort > "$out"
