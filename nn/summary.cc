// Model::Summary: Keras' model.summary() table.
#include <algorithm>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

std::vector<std::vector<std::string>> Model::SummaryRows() const {
  std::vector<std::vector<std::string>> rows;
  if (!functional()) {
    rows.push_back({"Layer (type)", "Output Shape", "Param #"});
    for (const Module* m : SummaryLayers()) {
      rows.push_back({m->Description(),
                      m->built() ? BatchShapeString(m->output_shape()) : "multiple",
                      std::to_string(m->ParameterCount())});
    }
    return rows;
  }
  // A functional model: its inputs, then each layer once (in the order of its first call)
  // with every input of every call it is connected to, as Keras' "name[node][0]", where
  // node counts the calls of the producing layer.
  rows.push_back({"Layer (type)", "Output Shape", "Param #", "Connected to"});
  for (const auto& in : graph_inputs_) {
    rows.push_back({absl::StrCat(in->input_name, " (InputLayer)"), BatchShapeString(in->shape),
                    "0", "-"});
  }
  std::map<const internal::LayerCall*, int> node_index;
  std::map<const Module*, int> calls_of;
  std::map<const Module*, size_t> row_of;
  for (const auto& call : graph_) {
    const Module* layer = call->layer.get();
    node_index[call.get()] = calls_of[layer]++;
    std::string connected;
    for (const SymbolicTensor& in : call->inputs) {
      const internal::LayerCall* from = in.call().get();
      const int node = from->layer ? node_index[from] : 0;
      absl::StrAppend(&connected, connected.empty() ? "" : ", ", in.name(), "[", node, "][0]");
    }
    auto [it, first] = row_of.emplace(layer, rows.size());
    if (first) {
      rows.push_back({layer->Description(), BatchShapeString(call->shape),
                      std::to_string(layer->ParameterCount()), connected});
    } else {
      std::vector<std::string>& row = rows[it->second];
      if (row[1] != BatchShapeString(call->shape)) row[1] = "multiple";
      absl::StrAppend(&row[3], ", ", connected);
    }
  }
  return rows;
}

void Model::Summary(std::ostream& os) const {
  GRADWAY_CHECK(built(), "Summary: ", Description(),
                " is not built yet; give the first layer an InputShape, or call Fit or "
                "Predict first");
  const std::vector<std::vector<std::string>> rows = SummaryRows();
  const size_t columns = rows[0].size();
  // Keras' column widths (29, 26, 10, and 20 for "Connected to"), widened to fit the
  // longest entry plus a space, so long names keep the columns aligned.
  std::vector<int> widths = {29, 26, 10, 20};
  widths.resize(columns);
  for (const auto& r : rows) {
    for (size_t i = 0; i < columns; ++i) {
      const int pad = i + 1 == columns ? 0 : 1;
      widths[i] = std::max(widths[i], static_cast<int>(r[i].size()) + pad);
    }
  }
  int line_length = 0;
  for (int w : widths) line_length += w;
  auto row = [&](const std::vector<std::string>& r) {
    std::string line;
    for (size_t i = 0; i < columns; ++i) {
      line += r[i];
      line.resize(line.size() + (widths[i] - r[i].size()), ' ');
    }
    os << line << '\n';
  };
  os << "Model: \"" << name() << "\"\n";
  os << std::string(line_length, '_') << '\n';
  row(rows[0]);
  os << std::string(line_length, '=') << '\n';
  for (size_t i = 1; i < rows.size(); ++i) {
    row(rows[i]);
    os << std::string(line_length, i + 1 == rows.size() ? '=' : '_') << '\n';
  }
  if (rows.size() == 1) os << std::string(line_length, '=') << '\n';
  const int64_t total = ParameterCount(), trainable = TrainableParameterCount();
  os << "Total params: " << WithCommas(total) << '\n';
  os << "Trainable params: " << WithCommas(trainable) << '\n';
  os << "Non-trainable params: " << WithCommas(total - trainable) << '\n';
  os << std::string(line_length, '_') << '\n';
}

}  // namespace nn
}  // namespace gradway
