#!/usr/bin/env bash
# Installs ONNX Runtime for Node.js, the independent runtime that .ci/onnx/check.py runs
# exported models in (through .ci/onnx/ort_run.js), offline from the npm registry.
#   bash third_party/install_onnxruntime.sh
#
# Fetches the npm packages onnxruntime-node@1.20.1 and the onnxruntime-common@1.20.1 it
# depends on with the npm client (`npm pack`: npm knows where its registry is and verifies
# TLS), checks each tarball against the integrity pinned below, and unpacks them as
#     ${XDG_CACHE_HOME:-$HOME/.cache}/gradway/onnxruntime/node_modules/onnxruntime-node
#     ${XDG_CACHE_HOME:-$HOME/.cache}/gradway/onnxruntime/node_modules/onnxruntime-common
# onnxruntime-node ships ONNX Runtime's own Linux x64 build
# (bin/napi-v3/linux/x64/libonnxruntime.so.1.20.1) and its Node binding; only the Linux x64
# binaries are unpacked (the other platforms' are not used). Nothing of the packages runs
# at install time (--ignore-scripts: onnxruntime-node's install script would download
# CUDA libraries); its other dependency, `tar`, is used only by that script and is not
# installed. Before the folder is put in place, Node loads the binding once to show that
# it works on this machine.
#
# Installs Debian's nodejs (and npm when no npm is on the PATH) with apt-get when node is
# missing; a Node.js already on the PATH is kept.
#
# Idempotent: when the packages are there (the marker file names the pinned integrities
# and the files below exist) it prints one line and does nothing else (about 0.02 s). The
# folder appears atomically (filled as a temporary folder, then renamed), so an
# interrupted run never leaves a half-written cache behind. Any mismatch stops the script
# with a message naming the file.
#
# Needs: bash, tar, gzip, sha512sum (coreutils); node and npm (installed when missing).
set -euo pipefail

readonly VERSION="1.20.1"
readonly PACKAGES=(onnxruntime-node onnxruntime-common)
# `npm view onnxruntime-node@1.20.1 dist.integrity` is
# sha512-di/I4HDXRw+FLgq+TyHmQEDd3cEp9iFFZm0r4uJ1Wd7b/WE1VXtKWo8yemex347c6GNF/3Pv86ZfPhIWxORr0w==
# and `npm view onnxruntime-common@1.20.1 dist.integrity` (the exact version
# onnxruntime-node 1.20.1 depends on) is
# sha512-YiU0s0IzYYC+gWvqD1HzLc46Du1sXpSiwzKb63PACIJr6LfL27VsXSXQvt68EzD3V0D5Bc0vyJTjmMxp0ylQiw==
# which are these digests in hex.
readonly -A SHA512=(
  [onnxruntime-node]="762fc8e070d7470f852e0abe4f21e64040ddddc129f62145666d2be2e27559dedbfd6135557b4a5a8f327a67b1df8edce86345ff73eff3a65f3e1216c4e46bd3"
  [onnxruntime-common]="622534b342336180be816bea0f51f32dce3a0eed6c5e94a2c3329beb73c008826be8b7cbdbb56c5d25d0bedebc1330f75740f905cd2fc894e398cc69d329508b"
)
# What must be in the installed folder, relative to its node_modules.
readonly BIN="onnxruntime-node/bin/napi-v3/linux/x64"
readonly FILES=(
  onnxruntime-node/package.json
  onnxruntime-node/dist/index.js
  "${BIN}/libonnxruntime.so.${VERSION}"
  "${BIN}/libonnxruntime.so.1"
  "${BIN}/onnxruntime_binding.node"
  onnxruntime-common/package.json
  onnxruntime-common/dist/cjs/index.js
)
# The marker file written last into the installed folder: which tarballs it came from.
marker_text() {
  local p
  for p in "${PACKAGES[@]}"; do echo "${p}@${VERSION} sha512 ${SHA512[${p}]}"; done
}

# The cache folder, by data/mnist.h's DefaultCacheDir() rules: $XDG_CACHE_HOME when it is
# an absolute path, else $HOME/.cache, else the home folder in the password database.
# .ci/onnx/ort_run.js looks there by the same rules.
home="${HOME:-}"
if [[ -z "${home}" ]]; then home="$(getent passwd "$(id -u)" | cut -d: -f6)"; fi
if [[ "${XDG_CACHE_HOME:-}" == /* ]]; then
  readonly CACHE_ROOT="${XDG_CACHE_HOME}/gradway"
else
  readonly CACHE_ROOT="${home}/.cache/gradway"
fi
readonly DEST="${CACHE_ROOT}/onnxruntime"

# Prints what is wrong with the installation in folder $1 (the first missing file, or a
# marker that names other tarballs); prints nothing when it is complete.
first_problem() {
  local dir="$1" f
  if [[ ! -f "${dir}/INSTALLED" ]]; then
    echo "${dir}/INSTALLED: missing"
    return
  fi
  if [[ "$(cat "${dir}/INSTALLED")" != "$(marker_text)" ]]; then
    echo "${dir}/INSTALLED: names other packages than onnxruntime-node/-common@${VERSION}"
    return
  fi
  for f in "${FILES[@]}"; do
    if [[ ! -f "${dir}/node_modules/${f}" ]]; then
      echo "${dir}/node_modules/${f}: missing"
      return
    fi
  done
}

if [[ "$(uname -s)" != Linux || "$(uname -m)" != x86_64 ]]; then
  echo "install_onnxruntime.sh: only Linux x86-64 is supported" \
       "(this is $(uname -s) $(uname -m))" >&2
  exit 1
fi

# Node.js runs ONNX Runtime; npm fetches it. Debian's packages when they are missing.
missing=()
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1 && [[ -n "$(first_problem "${DEST}")" ]]; then
  missing+=(npm)
fi
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "install_onnxruntime.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
if ! command -v node >/dev/null 2>&1; then
  echo "install_onnxruntime.sh: no 'node' on the PATH after installing Debian's nodejs" >&2
  exit 1
fi
node_version="$(node --version)"  # v18.20.4; `node --version` starts in 0.01 s
node_major="${node_version#v}"
node_major="${node_major%%.*}"
if ((node_major < 16)); then
  echo "install_onnxruntime.sh: Node.js ${node_version} is too old for onnxruntime-node" \
       "${VERSION}; Node.js 16 or later is needed (Debian 12's nodejs is 18)" >&2
  exit 1
fi

if [[ -z "$(first_problem "${DEST}")" ]]; then
  echo "install_onnxruntime.sh: ONNX Runtime ${VERSION} for Node.js is already installed in ${DEST}"
  exit 0
fi

for tool in npm tar gzip sha512sum; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "install_onnxruntime.sh: '${tool}' is missing; run: bash third_party/install.sh" >&2
    exit 1
  fi
done

mkdir -p "${CACHE_ROOT}"
TMP="$(mktemp -d "${CACHE_ROOT}/.onnxruntime.tmp.XXXXXX")"
trap 'rm -rf "${TMP}"' EXIT

specs=()
for p in "${PACKAGES[@]}"; do specs+=("${p}@${VERSION}"); done
echo "install_onnxruntime.sh: fetching ${specs[*]} with npm (70 MB)"
# --ignore-scripts: nothing of the packages runs. npm's own cache goes to the temporary
# folder so that nothing is left behind.
if ! (cd "${TMP}" && npm pack "${specs[@]}" --ignore-scripts --loglevel=error \
        --no-update-notifier --no-fund --no-audit --cache "${TMP}/npm-cache" \
        --pack-destination "${TMP}" >/dev/null); then
  echo "install_onnxruntime.sh: 'npm pack ${specs[*]}' failed (see npm's message above)" >&2
  exit 1
fi

mkdir -p "${TMP}/onnxruntime/node_modules"
for p in "${PACKAGES[@]}"; do
  tarball="${TMP}/${p}-${VERSION}.tgz"
  actual="$(sha512sum "${tarball}" | cut -d' ' -f1)"
  if [[ "${actual}" != "${SHA512[${p}]}" ]]; then
    echo "install_onnxruntime.sh: ${p}-${VERSION}.tgz does not match its pinned integrity" >&2
    echo "  expected sha512 ${SHA512[${p}]}" >&2
    echo "  got      sha512 ${actual}" >&2
    exit 1
  fi
  members=(package)
  if [[ "${p}" == onnxruntime-node ]]; then
    # Its JavaScript and the Linux x64 binaries; not the 100 MB for other platforms.
    members=(package/package.json package/README.md package/dist package/bin/napi-v3/linux/x64)
  fi
  mkdir "${TMP}/unpacked-${p}"
  tar --no-same-owner -xzf "${tarball}" -C "${TMP}/unpacked-${p}" "${members[@]}"
  mv "${TMP}/unpacked-${p}/package" "${TMP}/onnxruntime/node_modules/${p}"
done

# The package must hold the library it is used for: say so plainly if a future tarball
# (under the same pinned integrity, this cannot happen) or a partial unpack lacks it.
for f in "${FILES[@]}"; do
  if [[ ! -f "${TMP}/onnxruntime/node_modules/${f}" ]]; then
    echo "install_onnxruntime.sh: onnxruntime-node@${VERSION} lacks ${f}:" \
         "the Linux x64 ONNX Runtime library or its Node binding is not in the package" >&2
    exit 1
  fi
done
# Node must be able to load the binding here (glibc, N-API version).
if ! loaded="$(node -e '
    const ort = require(process.argv[1]);
    if (typeof ort.InferenceSession !== "function") throw new Error("no InferenceSession");
    console.log(ort.env.versions.node);' \
    "${TMP}/onnxruntime/node_modules/onnxruntime-node" 2>&1)"; then
  echo "install_onnxruntime.sh: Node.js ${node_version} cannot load" \
       "onnxruntime-node@${VERSION}:" >&2
  echo "  ${loaded//$'\n'/$'\n'  }" >&2
  exit 1
fi
marker_text >"${TMP}/onnxruntime/INSTALLED"
chmod -R u+rwX,go+rX "${TMP}/onnxruntime"

# Another run may have finished meanwhile: keep its copy.
if [[ -z "$(first_problem "${DEST}")" ]]; then
  echo "install_onnxruntime.sh: ONNX Runtime ${VERSION} for Node.js is already installed in ${DEST}"
  exit 0
fi
# A previous folder that fails the check (partial, or another version) is kept under
# another name, not merged or deleted; the new one takes its place in one rename.
if [[ -e "${DEST}" ]]; then
  kept="${DEST}.previous-$(date +%Y%m%d-%H%M%S)"
  reason="$(first_problem "${DEST}")"
  mv "${DEST}" "${kept}"
  echo "install_onnxruntime.sh: moved the previous ${DEST} to ${kept} (${reason})"
fi
mv -T "${TMP}/onnxruntime" "${DEST}"
echo "install_onnxruntime.sh: installed ONNX Runtime ${loaded} for Node.js ${node_version}" \
     "(onnxruntime-node, onnxruntime-common) in ${DEST}"
