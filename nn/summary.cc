// Model::Summary: Keras' model.summary() table.
#include <algorithm>
#include <array>
#include <ostream>
#include <string>
#include <vector>

#include "autograd/error.h"
#include "nn/model.h"

namespace gradway {
namespace nn {
namespace {

std::string WithCommas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

}  // namespace

std::vector<const Module*> Model::SummaryLayers() const {
  std::vector<const Module*> out;
  for (const auto& c : children()) out.push_back(c.second.get());
  return out;
}

void Model::Summary(std::ostream& os) const {
  GRADWAY_CHECK(built(), "Summary: ", Description(),
                " is not built yet; give the first layer an InputShape, or call Fit or "
                "Predict first");
  std::vector<const Module*> layers = SummaryLayers();
  std::vector<std::array<std::string, 3>> rows = {{"Layer (type)", "Output Shape", "Param #"}};
  for (const Module* m : layers) {
    rows.push_back({m->Description(),
                    m->built() ? BatchShapeString(m->output_shape()) : "multiple",
                    std::to_string(m->ParameterCount())});
  }
  // Keras' column widths (29, 26, 10), widened to fit the longest entry plus a space, so
  // long layer or type names keep the columns aligned.
  int widths[3] = {29, 26, 10};
  for (const auto& r : rows) {
    for (int i = 0; i < 2; ++i) {
      widths[i] = std::max(widths[i], static_cast<int>(r[i].size()) + 1);
    }
    widths[2] = std::max(widths[2], static_cast<int>(r[2].size()));
  }
  const int kLine = widths[0] + widths[1] + widths[2];
  auto row = [&](const std::array<std::string, 3>& r) {
    std::string line;
    for (int i = 0; i < 3; ++i) {
      line += r[i];
      line.resize(line.size() + (widths[i] - r[i].size()), ' ');
    }
    os << line << '\n';
  };
  os << "Model: \"" << name() << "\"\n";
  os << std::string(kLine, '_') << '\n';
  row(rows[0]);
  os << std::string(kLine, '=') << '\n';
  for (size_t i = 0; i < layers.size(); ++i) {
    row(rows[i + 1]);
    os << std::string(kLine, i + 1 == layers.size() ? '=' : '_') << '\n';
  }
  if (layers.empty()) os << std::string(kLine, '=') << '\n';
  const int64_t total = ParameterCount(), trainable = TrainableParameterCount();
  os << "Total params: " << WithCommas(total) << '\n';
  os << "Trainable params: " << WithCommas(trainable) << '\n';
  os << "Non-trainable params: " << WithCommas(total - trainable) << '\n';
  os << std::string(kLine, '_') << '\n';
}

}  // namespace nn
}  // namespace gradway
