#include "base/conv_algorithm.h"

namespace gradway {
namespace {

constexpr ConvAlgorithm kAlgorithms[] = {ConvAlgorithm::kAuto, ConvAlgorithm::kDirect,
                                         ConvAlgorithm::kWinograd,
                                         ConvAlgorithm::kWinograd2x2};

}  // namespace

const char* ConvAlgorithmName(ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::kDirect:
      return "direct";
    case ConvAlgorithm::kWinograd:
      return "winograd";
    case ConvAlgorithm::kWinograd2x2:
      return "winograd2x2";
    case ConvAlgorithm::kAuto:
      break;
  }
  return "auto";
}

std::optional<ConvAlgorithm> ConvAlgorithmFromName(std::string_view name) {
  for (ConvAlgorithm a : kAlgorithms) {
    if (name == ConvAlgorithmName(a)) return a;
  }
  return std::nullopt;
}

const char* ConvAlgorithmNames() { return "auto, direct, winograd or winograd2x2"; }

}  // namespace gradway
