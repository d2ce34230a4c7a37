// Tabular data from a CSV file (data/csv.h reads it) as tensors or a TensorDataset:
//
//   absl::StatusOr<nn::CsvTensors> t = nn::ReadCsvTensors(
//       "iris.csv", nn::CsvOptions().LabelColumn("species").LabelMode("int"));
//   model.Fit(t->x, t->y, nn::FitOptions().Epochs(50));   // x [150, 4], y [150]
//
// x [rows, features] holds the feature columns' numbers; y follows label_mode: "value"
// [rows, 1] (regression: fits a Dense(1) output with MeanSquaredError), "int" the class
// index [rows] (SparseCategoricalCrossentropy), "categorical" one-hot [rows, classes]
// (CategoricalCrossentropy).
#ifndef GRADWAY_NN_CSV_DATASET_H_
#define GRADWAY_NN_CSV_DATASET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "autograd/tensor.h"
#include "data/csv.h"
#include "nn/dataset.h"

namespace gradway {
namespace nn {

using CsvOptions = data::CsvOptions;

struct CsvTensors {
  Tensor x;  // [rows, features]
  Tensor y;  // as label_mode says; undefined without a label column
  std::vector<std::string> feature_names;  // x's columns
  // With label_mode "int" or "categorical": the class count, and the class texts of a text
  // label column (label i is classes[i]; empty for numeric labels).
  int num_classes = 0;
  std::vector<std::string> classes;
};

// The table `table` (from data::ReadCsv with `label_mode`) as tensors.
CsvTensors CsvTableToTensors(const data::CsvTable& table, const std::string& label_mode);

// Reads the CSV file at `path` (data::ReadCsv) as tensors.
// Errors: data::ReadCsv's, naming the file (and line and column).
absl::StatusOr<CsvTensors> ReadCsvTensors(const std::string& path, const CsvOptions& options = {});

// The same as a TensorDataset (x, y) for Fit and Evaluate; a label column is needed.
// Errors: ReadCsvTensors'; InvalidArgument naming the file without options.label_column.
absl::StatusOr<std::shared_ptr<TensorDataset>> CsvDataset(const std::string& path,
                                                          const CsvOptions& options);

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_CSV_DATASET_H_
