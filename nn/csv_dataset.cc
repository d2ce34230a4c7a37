#include "nn/csv_dataset.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gradway {
namespace nn {

CsvTensors CsvTableToTensors(const data::CsvTable& table, const std::string& label_mode) {
  CsvTensors out;
  out.feature_names = table.feature_names;
  out.num_classes = table.num_classes;
  out.classes = table.classes;
  out.x = Tensor::Empty({table.rows, table.num_features()});
  std::copy(table.features.begin(), table.features.end(), out.x.data());
  if (table.label_name.empty()) return out;
  if (label_mode == "categorical") {
    out.y = Tensor::Zeros({table.rows, static_cast<int64_t>(table.num_classes)});
    float* y = out.y.data();
    for (int64_t i = 0; i < table.rows; ++i) {
      y[i * table.num_classes + static_cast<int64_t>(table.labels[i])] = 1.f;
    }
    return out;
  }
  out.y = label_mode == "int" ? Tensor::Empty({table.rows}) : Tensor::Empty({table.rows, 1});
  std::copy(table.labels.begin(), table.labels.end(), out.y.data());
  return out;
}

absl::StatusOr<CsvTensors> ReadCsvTensors(const std::string& path, const CsvOptions& options) {
  absl::StatusOr<data::CsvTable> table = data::ReadCsv(path, options);
  if (!table.ok()) return table.status();
  return CsvTableToTensors(*table, options.label_mode);
}

absl::StatusOr<std::shared_ptr<TensorDataset>> CsvDataset(const std::string& path,
                                                          const CsvOptions& options) {
  if (options.label_column.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": CsvDataset needs a label column (CsvOptions().LabelColumn(name))"));
  }
  absl::StatusOr<CsvTensors> t = ReadCsvTensors(path, options);
  if (!t.ok()) return t.status();
  return std::make_shared<TensorDataset>(std::move(t->x), std::move(t->y));
}

}  // namespace nn
}  // namespace gradway
