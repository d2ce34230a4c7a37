// The algorithms that can compute a 2-D convolution pass (ops/conv.h runs them; the
// process-wide choice is set through base/runtime.h).
#ifndef GRADWAY_BASE_CONV_ALGORITHM_H_
#define GRADWAY_BASE_CONV_ALGORITHM_H_

#include <optional>
#include <string_view>

namespace gradway {

enum class ConvAlgorithm {
  kAuto,         // per shape and pass, the faster one (ops::Conv2DAlgorithmFor): Winograd
                 // F(4x4, 3x3) for 3x3 stride-1 kernels (F(2x2, 3x3) over more than 128
                 // summed channels), direct where Winograd loses (e.g. the forward pass
                 // with <= 4 input channels)
  kDirect,       // im2col tiles + GEMM (direct SIMD loops for <= 4 input channels)
  kWinograd,     // Winograd F(4x4, 3x3) wherever it applies (3x3, stride 1), else direct
  kWinograd2x2,  // Winograd F(2x2, 3x3) wherever it applies, else direct
};

// "auto", "direct", "winograd" (F(4x4, 3x3)) or "winograd2x2".
const char* ConvAlgorithmName(ConvAlgorithm algorithm);

// The algorithm ConvAlgorithmName names `name`; nullopt for any other string.
std::optional<ConvAlgorithm> ConvAlgorithmFromName(std::string_view name);

// "auto, direct, winograd or winograd2x2": the names ConvAlgorithmFromName accepts, for
// error messages.
const char* ConvAlgorithmNames();

}  // namespace gradway

#endif  // GRADWAY_BASE_CONV_ALGORITHM_H_
