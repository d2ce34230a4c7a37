#!/usr/bin/env bash
# The test layering.bzl defines: fails, listing every violation, when a package
# depends on (or includes a header of) a package it must not reach.
#
# layering_test.sh --package=//nn --graph=FILE --forbidden=//data,//examples \
#     --forbidden_direct=//ops --allowed_direct=//ops:adam --checked=NAME,... --build=FILE SOURCE...
#   --graph: the genquery output (--output=graph) of the deps of every target in the package;
#   --checked: the names of the targets the graph covers; --build: the package's BUILD file.
set -euo pipefail

forbidden=() forbidden_direct=() allowed_direct=()
for arg in "$@"; do
  case $arg in
    --package=*) package=${arg#*=} ;;
    --graph=*) graph=${arg#*=} ;;
    --forbidden=*) IFS=, read -r -a forbidden <<<"${arg#*=}" ;;
    --forbidden_direct=*) IFS=, read -r -a forbidden_direct <<<"${arg#*=}" ;;
    --allowed_direct=*) IFS=, read -r -a allowed_direct <<<"${arg#*=}" ;;
    --checked=*) checked=",${arg#*=}," ;;
    --build=*) build_file=${arg#*=} ;;
    *) break ;;
  esac
  shift
done
violations=()

in_any() {  # in_any LABEL PACKAGE...: LABEL is in one of the packages (or a subpackage)
  local label=$1 p
  shift
  for p in "$@"; do
    if [[ $label == "$p:"* || $label == "$p/"* ]]; then return 0; fi
  done
  return 1
}

# The query must have run over this package's targets.
if ! grep -q "^  \"${package}:" "$graph"; then
  echo "layering_test: the dependency graph has no target of ${package}" >&2
  exit 1
fi

# Targets defined after layering_test() are not in the query.
while read -r target; do
  if [[ $checked != *",${target},"* ]]; then
    violations+=("${package}:${target} is defined after layering_test(), which must come last")
  fi
done < <(sed -nE 's/^[[:space:]]*name = "([^"]+)".*/\1/p' "$build_file")

# Edges "from" -> "to": the ones that cross into a forbidden package, and this package's
# direct dependencies on a package it may use only through another.
while read -r from to; do
  if in_any "$to" "${forbidden[@]}" && ! in_any "$from" "${forbidden[@]}"; then
    violations+=("${from} -> ${to}: ${package} must not reach ${to%%:*}")
  fi
  if [[ $from == "${package}:"* ]] && in_any "$to" "${forbidden_direct[@]}" &&
     [[ " ${allowed_direct[*]} " != *" ${to} "* ]]; then
    violations+=("${from} -> ${to}: ${package} may use ${to%%:*} only through another package")
  fi
done < <(sed -nE 's/^ *"([^"]+)" -> "([^"]+)"$/\1 \2/p' "$graph")

# #includes: "ops/x.h" is a header of //ops; an allowed target //ops:adam allows "ops/adam.h".
allowed_headers=" "
for a in "${allowed_direct[@]}"; do allowed_headers+="${a#//}.h "; done
allowed_headers=${allowed_headers//://}
for source in "$@"; do
  while IFS=: read -r line header; do
    p="//${header%%/*}"
    # A package's internal/ headers are its own (autograd/internal/: the graph, TensorImpl).
    if [[ $header == */internal/* && $package != "//${header%%/internal/*}" ]]; then
      violations+=("${source}:${line}: #include \"${header}\": internal to //${header%%/internal/*}")
    elif in_any "$p:" "${forbidden[@]}"; then
      violations+=("${source}:${line}: #include \"${header}\": ${package} must not reach ${p}")
    elif in_any "$p:" "${forbidden_direct[@]}" && [[ $allowed_headers != *" ${header} "* ]]; then
      violations+=("${source}:${line}: #include \"${header}\": ${package} may use ${p} only through another package")
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"/]+/' "$source" |
           sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
done

if ((${#violations[@]} > 0)); then
  echo "${package} breaks the layering (base <- ops <- autograd <- nn <- examples; data beside"
  echo "nn; base below all, benchmarks above all):"
  printf '  %s\n' "${violations[@]}"
  exit 1
fi
echo "${package}: $(grep -c -- ' -> ' "$graph") dependency edges and $# sources, none across a layer"
