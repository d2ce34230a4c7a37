// CSV files of numbers (tabular data): a header row naming the columns, then one row per
// sample, as RFC 4180 writes them. nn/csv_dataset.h turns a table into tensors.
//
//   sepal_length,sepal_width,petal_length,petal_width,species
//   5.1,3.5,1.4,0.2,setosa
//   7.0,3.2,4.7,1.4,"versicolor"
//
//   ReadCsv("iris.csv", CsvOptions().LabelColumn("species").LabelMode("int"))
//     -> 4 feature columns, labels 0..2 (classes {setosa, versicolor, virginica}).
//
// The format (RFC 4180, with what common writers add): fields separated by the delimiter
// (',' by default), records by LF or CRLF; a field in double quotes may hold delimiters,
// quotes (doubled: "a ""b""") and line breaks; a UTF-8 byte order mark at the start is
// skipped; empty lines are skipped (so a one-column file cannot hold an empty value).
// Numbers: decimal or exponent notation (1, -2.5, +3e-4, .5), spaces or tabs around them
// allowed, parsed exactly (correctly rounded to float); not numbers: empty fields, "nan",
// "inf" and values beyond float's range.
// Every error names the file and, for a problem in the data, the line (of the field, for a
// field), the column (1-based) and its header name, e.g.
//   "iris.csv:17: column 3 (\"petal_length\"): \"1,4\" is not a number"
//   "iris.csv:20: 4 fields, but the header (line 1) has 5 columns"
#ifndef GRADWAY_DATA_CSV_H_
#define GRADWAY_DATA_CSV_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gradway::data {

// How to read a CSV file, as chainable setters:
//   CsvOptions().LabelColumn("price").Columns({"rooms", "area"})
struct CsvOptions {
  // The field separator (not '"', '\r' or '\n').
  char delimiter = ',';
  // The column holding the target, by header name; empty: no label column.
  std::string label_column;
  // What the label column holds and how nn/csv_dataset.h shapes y:
  //   "value":       any number (regression); y [rows, 1].
  //   "int":         a class: a non-negative integer, or any text when the column is not
  //                  all numbers (the texts, sorted, become classes 0, 1, ...); y [rows].
  //   "categorical": a class as "int", one-hot; y [rows, classes].
  std::string label_mode = "value";
  // The feature columns, by header name, in this order; empty: every column but the label
  // column, in the file's order. Columns not used are not parsed (they may hold text).
  std::vector<std::string> columns;

  CsvOptions& Delimiter(char v) {
    delimiter = v;
    return *this;
  }
  CsvOptions& LabelColumn(std::string v) {
    label_column = std::move(v);
    return *this;
  }
  CsvOptions& LabelMode(std::string v) {
    label_mode = std::move(v);
    return *this;
  }
  CsvOptions& Columns(std::vector<std::string> v) {
    columns = std::move(v);
    return *this;
  }
};

// A CSV file's numbers.
struct CsvTable {
  std::vector<std::string> feature_names;  // the feature columns' header names, in order
  std::string label_name;                  // the label column's, or empty
  int64_t rows = 0;
  std::vector<float> features;  // rows * num_features() values, row by row
  std::vector<float> labels;    // rows values (empty without a label column): the number,
                                // or with label_mode "int"/"categorical" the class index
  // With label_mode "int" or "categorical": the classes, labels in [0, num_classes). For a
  // text label column, classes[i] is class i's text; for numbers, num_classes is the
  // largest label + 1 and `classes` is empty.
  std::vector<std::string> classes;
  int num_classes = 0;

  int64_t num_features() const { return static_cast<int64_t>(feature_names.size()); }
};

// Reads the CSV file at `path`.
// Errors: NotFound for a missing file; InvalidArgument naming the file for a file with no
// header row, a header naming a column twice, options naming a column the header lacks
// (listing the header's), a bad label_mode or delimiter, and, naming the line and column
// too, a field that is not a number (in a column that is used), a row with more or fewer
// fields than the header, a quote inside an unquoted field, a character after a closing
// quote, a quoted field still open at the end of the file (naming the line where it
// starts), an empty class label, and a numeric class label that is not a non-negative
// integer below 2^24.
absl::StatusOr<CsvTable> ReadCsv(const std::string& path, const CsvOptions& options = {});

// The same, for CSV text held in memory; errors name it `name` instead of a path.
absl::StatusOr<CsvTable> ParseCsv(absl::string_view text, const std::string& name,
                                  const CsvOptions& options = {});

}  // namespace gradway::data

#endif  // GRADWAY_DATA_CSV_H_
