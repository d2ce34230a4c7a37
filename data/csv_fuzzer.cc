// Fuzz target for the CSV reader (data/csv.h ReadCsv): any bytes give a table or an error
// naming the file, never a crash, a leak or a hang. See //:fuzzing.bzl.
//
// The first byte picks the delimiter (byte % 3: ',', ';' or tab, so the seeds start with
// '0', '1' or '2') and is not part of the file. Each
// input is read with every column a feature, and, when its first line parses as a header,
// with its last column as the label in each label_mode and its columns in reverse order.
// A table read back from its numbers written with 9 significant digits gives the same
// floats, bit for bit.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "data/csv.h"
#include "fuzzing/fuzz_input.h"

namespace {

using gradway::data::CsvOptions;
using gradway::data::CsvTable;

// The table's invariants; an error names the file.
void Check(const absl::StatusOr<CsvTable>& t, const std::string& path, const CsvOptions& o) {
  if (!t.ok()) {
    if (std::string(t.status().message()).find(path) == std::string::npos) std::abort();
    return;
  }
  if (t->features.size() != static_cast<size_t>(t->rows * t->num_features())) std::abort();
  if (t->labels.size() != (o.label_column.empty() ? 0u : static_cast<size_t>(t->rows))) {
    std::abort();
  }
  for (float v : t->features) {
    if (!std::isfinite(v)) std::abort();
  }
  if (o.label_mode == "value") return;
  if (!t->classes.empty() && t->classes.size() != static_cast<size_t>(t->num_classes)) {
    std::abort();
  }
  for (float label : t->labels) {
    if (label < 0 || label >= t->num_classes || label != std::floor(label)) std::abort();
  }
}

// A CSV field for `text`, quoted (RFC 4180).
std::string QuoteField(const std::string& text) {
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

// The table's features written back as CSV and read again: the same floats.
void CheckRoundTrip(const CsvTable& t, char delimiter) {
  std::string text;
  for (int64_t j = 0; j < t.num_features(); ++j) {
    absl::StrAppend(&text, j ? std::string(1, delimiter) : "", QuoteField(t.feature_names[j]));
  }
  text += "\n";
  for (int64_t i = 0; i < t.rows; ++i) {
    for (int64_t j = 0; j < t.num_features(); ++j) {
      absl::StrAppend(&text, j ? std::string(1, delimiter) : "",
                      absl::StrFormat("%.9g", t.features[i * t.num_features() + j]));
    }
    text += "\n";
  }
  absl::StatusOr<CsvTable> again =
      gradway::data::ParseCsv(text, "round trip", CsvOptions().Delimiter(delimiter));
  if (!again.ok() || again->rows != t.rows || again->features.size() != t.features.size() ||
      (!t.features.empty() && std::memcmp(again->features.data(), t.features.data(),
                                          t.features.size() * sizeof(float)) != 0)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gradway::data;
  if (size == 0) return 0;
  const char delimiter = ",;\t"[data[0] % 3];
  const std::string path = gradway::fuzzing::WriteScratchFile("csv", data + 1, size - 1);
  const CsvOptions all = CsvOptions().Delimiter(delimiter);
  const absl::StatusOr<CsvTable> table = ReadCsv(path, all);
  Check(table, path, all);
  if (table.ok()) CheckRoundTrip(*table, delimiter);

  // The header alone (the first line, without its line break), for the columns' names.
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t line_end = text.find('\n');
  std::string first_line = text.substr(0, line_end);
  if (line_end != std::string::npos && !first_line.empty() && first_line.back() == '\r') {
    first_line.pop_back();  // CRLF
  }
  const absl::StatusOr<CsvTable> header = ParseCsv(first_line, "header", all);
  if (!header.ok() || header->num_features() < 2) return 0;
  const std::vector<std::string>& names = header->feature_names;
  for (const char* mode : {"value", "int", "categorical"}) {
    const CsvOptions o = CsvOptions(all).LabelColumn(names.back()).LabelMode(mode);
    Check(ReadCsv(path, o), path, o);
  }
  const CsvOptions reversed = CsvOptions(all).Columns({names.rbegin(), names.rend()});
  const absl::StatusOr<CsvTable> r = ReadCsv(path, reversed);
  Check(r, path, reversed);
  // The same columns in another order: readable when they are in the file's order.
  if (table.ok() && !r.ok()) std::abort();
  return 0;
}
