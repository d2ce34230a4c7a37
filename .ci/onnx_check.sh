#!/usr/bin/env bash
# Checks gradway's ONNX export with runtimes gradway did not write: trains the chapter's MLP
# and CNN with the default commands (in a temporary folder) and the Fashion-MNIST ResNet for
# one epoch, exports each with
# //examples:export_onnx --check_dir (all 10,000 MNIST test images and gradway's
# probabilities for them), writes a check folder for every layer form
# (//nn:onnx_layer_cases, random inputs), and runs .ci/onnx/check.py on all of them:
# Debian's python3-onnx full check, OpenCV's DNN module (python3-opencv) and ONNX Runtime
# (npm onnxruntime-node, third_party/install_onnxruntime.sh), each within 1e-5 of gradway
# with identical argmax. Installs those three when missing. Prints check.py's PASS/FAIL
# lines; exits non-zero when any check fails.
#   .ci/onnx_check.sh            the default commands (as the README's quick start)
#   .ci/onnx_check.sh --epochs=N shorter training, for a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
train_flags=()
case ${1:-} in
  --epochs=*) train_flags=("$1") ;;
  "") ;;
  *) echo "usage: $0 [--epochs=N]" >&2; exit 2 ;;
esac

# The runtimes that check: Debian's python3-onnx and python3-opencv, ONNX Runtime from npm.
missing=()
for p in python3-onnx python3-opencv; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "onnx_check.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" > /dev/null
fi
bash third_party/install_onnxruntime.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/gradway-onnx.XXXXXX")
trap 'rm -rf "$work"' EXIT
bazel build //examples:mnist_mlp //examples:mnist_cnn //examples:fashion_resnet \
  //examples:export_onnx //nn:onnx_layer_cases
bin=$(bazel info bazel-bin 2>/dev/null)

for model in mlp cnn; do
  mkdir -p "$work/$model"
  echo "onnx_check.sh: training the MNIST ${model^^} (bazel run //examples:mnist_$model ${train_flags[*]})"
  (cd "$work/$model" && "$bin/examples/mnist_$model" "${train_flags[@]}" > train.log 2>&1) || {
    tail -20 "$work/$model/train.log"
    exit 1
  }
  grep 'Test Accuracy' "$work/$model/train.log"
  "$bin/examples/export_onnx" --model="$work/$model/model" --output="$work/$model/model.onnx" \
    --check_dir="$work/checks/mnist_$model"
done
# The Fashion-MNIST ResNet (a functional model: batch norm, skips, augmentation), one epoch
# of the example, checked on 2,000 Fashion-MNIST test images.
mkdir -p "$work/resnet"
echo "onnx_check.sh: training the Fashion-MNIST ResNet for one epoch (//examples:fashion_resnet --epochs=1)"
(cd "$work/resnet" && "$bin/examples/fashion_resnet" --epochs=1 > train.log 2>&1) || {
  tail -20 "$work/resnet/train.log"
  exit 1
}
grep 'Test Accuracy' "$work/resnet/train.log"
"$bin/examples/export_onnx" --model="$work/resnet/model" --dataset=fashion --check_samples=2000 \
  --check_dir="$work/checks/fashion_resnet"
"$bin/nn/onnx_layer_cases" "$work/layers" > /dev/null

/usr/bin/python3 .ci/onnx/check.py --require-opencv "$work/checks"/* "$work/layers"/*
