#include "data/csv.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/charconv.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/file_util.h"

namespace gradway::data {
namespace {

// Class labels given as numbers must be integers that a float holds exactly.
constexpr int kMaxClassLabel = 1 << 24;

struct Field {
  std::string value;  // unquoted, "" unescaped
  int64_t line;       // where the field starts (1-based)
};

// Splits CSV text into records (RFC 4180; see csv.h).
class RecordReader {
 public:
  RecordReader(absl::string_view text, char delimiter, const std::string& name)
      : text_(text), delimiter_(delimiter), name_(name) {
    if (absl::StartsWith(text_, "\xEF\xBB\xBF")) text_.remove_prefix(3);  // UTF-8 BOM
  }

  // The next record into *fields and its first line into *line; false at the end.
  absl::StatusOr<bool> Next(std::vector<Field>* fields, int64_t* line) {
    SkipEmptyLines();
    if (pos_ >= text_.size()) return false;
    *line = line_;
    fields->clear();
    for (;;) {
      fields->push_back({std::string(), line_});
      absl::Status s = text_[pos_] == '"' ? Quoted(&fields->back(), fields->size())
                                          : Unquoted(&fields->back(), fields->size());
      if (!s.ok()) return s;
      if (pos_ >= text_.size()) return true;
      if (text_[pos_] == delimiter_) {
        ++pos_;
        if (pos_ >= text_.size()) {  // "a,b," at the end: an empty last field
          fields->push_back({std::string(), line_});
          return true;
        }
        continue;
      }
      EndLine();
      return true;
    }
  }

 private:
  bool AtLineEnd() const {
    return text_[pos_] == '\n' ||
           (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n');
  }
  void EndLine() {
    pos_ += text_[pos_] == '\r' ? 2 : 1;
    ++line_;
  }
  void SkipEmptyLines() {
    while (pos_ < text_.size() && AtLineEnd()) EndLine();
  }
  absl::Status Error(int64_t line, size_t column, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(name_, ":", line, ": column ", column, ": ",
                                                   what));
  }

  // A field up to the delimiter or the line's end; a quote in it is an error.
  absl::Status Unquoted(Field* field, size_t column) {
    const size_t begin = pos_;
    while (pos_ < text_.size() && text_[pos_] != delimiter_ && !AtLineEnd()) {
      if (text_[pos_] == '"') {
        return Error(line_, column,
                     "a quote inside an unquoted field (quote the whole field and double "
                     "the quotes in it)");
      }
      ++pos_;
    }
    field->value.assign(text_.data() + begin, pos_ - begin);
    return absl::OkStatus();
  }

  // A field in quotes: anything up to a quote not doubled, then a delimiter or line end.
  absl::Status Quoted(Field* field, size_t column) {
    const int64_t start = line_;
    ++pos_;
    for (;;) {
      if (pos_ >= text_.size()) {
        return Error(start, column, "a quoted field is not closed by the end of the file");
      }
      const char c = text_[pos_++];
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          field->value += '"';
          ++pos_;
          continue;
        }
        break;
      }
      if (c == '\n') ++line_;
      field->value += c;
    }
    if (pos_ < text_.size() && text_[pos_] != delimiter_ && !AtLineEnd()) {
      return Error(line_, column,
                   absl::StrCat("'", absl::CHexEscape(text_.substr(pos_, 1)),
                                "' after a quoted field's closing quote (a field with quotes "
                                "must be quoted whole)"));
    }
    return absl::OkStatus();
  }

  absl::string_view text_;
  char delimiter_;
  const std::string& name_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// The number in `text` (blanks around it allowed) into *out; false with *why saying what
// is wrong otherwise.
bool ParseNumber(absl::string_view text, float* out, std::string* why) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsBlank(text.back())) text.remove_suffix(1);
  if (text.empty()) {
    *why = "is empty (a missing value?)";
    return false;
  }
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+' && last - first > 1 && first[1] != '-') ++first;
  float value = 0;
  const absl::from_chars_result r = absl::from_chars(first, last, value);
  if (r.ptr != last) {
    *why = "is not a number";
    return false;
  }
  if (r.ec == std::errc::result_out_of_range) {
    double wide = 0;
    const absl::from_chars_result d = absl::from_chars(first, last, wide);
    if (d.ec == std::errc() && std::abs(wide) >= 1) {
      *why = "is beyond float's range";
      return false;
    }
    value = d.ec == std::errc() ? static_cast<float>(wide) : (*first == '-' ? -0.f : 0.f);
  }
  if (!std::isfinite(value)) {
    *why = "is not a finite number";
    return false;
  }
  // from_chars also takes hexadecimal ("0x1p3"); a CSV number is decimal.
  if (text.find_first_not_of("0123456789.eE+-") != absl::string_view::npos) {
    *why = "is not a number";
    return false;
  }
  *out = value;
  return true;
}

// "\"1,4\"" for a field in a message (escaped, at most 40 characters).
std::string Quote(const std::string& value) {
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, 40)),
                      value.size() > 40 ? "...\"" : "\"");
}

// The header's column index of each name (an error naming the file for a name twice).
absl::StatusOr<std::map<std::string, size_t>> HeaderIndex(const std::vector<Field>& header,
                                                          const std::string& name) {
  std::map<std::string, size_t> index;
  for (size_t j = 0; j < header.size(); ++j) {
    if (!index.emplace(header[j].value, j).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ":", header[j].line, ": the header names column ", Quote(header[j].value),
          " twice (columns ", index[header[j].value] + 1, " and ", j + 1, ")"));
    }
  }
  return index;
}

// Which columns are features, and which one is the label (-1: none).
absl::Status ChooseColumns(const std::vector<Field>& header, const CsvOptions& options,
                           const std::string& name, std::vector<size_t>* features,
                           int64_t* label) {
  absl::StatusOr<std::map<std::string, size_t>> index = HeaderIndex(header, name);
  if (!index.ok()) return index.status();
  std::vector<std::string> names;
  for (const Field& f : header) names.push_back(Quote(f.value));
  auto find = [&](const std::string& column, const char* what) -> absl::StatusOr<size_t> {
    auto it = index->find(column);
    if (it == index->end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": ", what, " ", Quote(column), " is not in the header {",
          absl::StrJoin(names, ", "), "}"));
    }
    return it->second;
  };
  *label = -1;
  if (!options.label_column.empty()) {
    absl::StatusOr<size_t> j = find(options.label_column, "the label column");
    if (!j.ok()) return j.status();
    *label = static_cast<int64_t>(*j);
  }
  if (options.columns.empty()) {
    for (size_t j = 0; j < header.size(); ++j) {
      if (static_cast<int64_t>(j) != *label) features->push_back(j);
    }
    if (features->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": no feature column: the header {", absl::StrJoin(names, ", "),
          "} has the label column only"));
    }
    return absl::OkStatus();
  }
  for (const std::string& column : options.columns) {
    absl::StatusOr<size_t> j = find(column, "the column");
    if (!j.ok()) return j.status();
    if (static_cast<int64_t>(*j) == *label || std::count(features->begin(), features->end(), *j)) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": column ", Quote(column), " is chosen twice (as a feature twice, or as a "
          "feature and the label)"));
    }
    features->push_back(*j);
  }
  return absl::OkStatus();
}

// The class labels of label_mode "int" / "categorical" from the label fields: numbers
// (non-negative integers) when every field is one, else the sorted distinct texts.
absl::Status ClassLabels(const std::vector<Field>& fields, const std::string& name,
                         size_t column, const std::string& header, CsvTable* table) {
  std::vector<float> numbers(fields.size());
  std::string why;
  bool all_numbers = true;
  for (size_t i = 0; i < fields.size() && all_numbers; ++i) {
    all_numbers = ParseNumber(fields[i].value, &numbers[i], &why);
  }
  if (all_numbers) {
    float largest = -1;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (numbers[i] < 0 || numbers[i] >= static_cast<float>(kMaxClassLabel) ||
          numbers[i] != std::floor(numbers[i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, ":", fields[i].line, ": column ", column + 1, " (", Quote(header), "): ",
            Quote(fields[i].value), " is not a class index (a non-negative integer below ",
            kMaxClassLabel, ")"));
      }
      largest = std::max(largest, numbers[i]);
    }
    table->labels = std::move(numbers);
    table->num_classes = static_cast<int>(largest) + 1;
    return absl::OkStatus();
  }
  std::map<std::string, int> classes;
  for (const Field& f : fields) {
    if (f.value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ":", f.line, ": column ", column + 1, " (", Quote(header),
          "): an empty class label"));
    }
    classes.emplace(f.value, 0);
  }
  for (auto& [text, index] : classes) {
    index = static_cast<int>(table->classes.size());
    table->classes.push_back(text);
  }
  for (const Field& f : fields) table->labels.push_back(static_cast<float>(classes[f.value]));
  table->num_classes = static_cast<int>(table->classes.size());
  return absl::OkStatus();
}

absl::Status CheckOptions(const CsvOptions& options, const std::string& name) {
  const char d = options.delimiter;
  if (d == '"' || d == '\r' || d == '\n') {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": the delimiter cannot be '", absl::CHexEscape(std::string(1, d)), "'"));
  }
  const std::string& mode = options.label_mode;
  if (mode != "value" && mode != "int" && mode != "categorical") {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": label_mode must be \"value\", \"int\" or \"categorical\", not \"", mode, "\""));
  }
  if (mode != "value" && options.label_column.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": label_mode \"", mode, "\" needs a label_column"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CsvTable> ParseCsv(absl::string_view text, const std::string& name,
                                  const CsvOptions& options) {
  if (absl::Status s = CheckOptions(options, name); !s.ok()) return s;
  RecordReader reader(text, options.delimiter, name);
  std::vector<Field> header, fields;
  int64_t header_line = 0, line = 0;
  absl::StatusOr<bool> more = reader.Next(&header, &header_line);
  if (!more.ok()) return more.status();
  if (!*more) return absl::InvalidArgumentError(absl::StrCat(name, ": no header row (empty file)"));
  std::vector<size_t> features;
  int64_t label = -1;
  if (absl::Status s = ChooseColumns(header, options, name, &features, &label); !s.ok()) return s;

  CsvTable table;
  for (size_t j : features) table.feature_names.push_back(header[j].value);
  if (label >= 0) table.label_name = header[label].value;
  const bool classes = options.label_mode != "value";
  std::vector<Field> class_fields;
  std::string why;
  while (true) {
    more = reader.Next(&fields, &line);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (fields.size() != header.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ":", line, ": ", fields.size(), " field", fields.size() == 1 ? "" : "s",
          ", but the header (line ", header_line, ") has ", header.size(), " column",
          header.size() == 1 ? "" : "s"));
    }
    auto number = [&](size_t j, float* out) -> absl::Status {
      if (ParseNumber(fields[j].value, out, &why)) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrCat(name, ":", fields[j].line, ": column ",
                                                     j + 1, " (", Quote(header[j].value),
                                                     "): ", Quote(fields[j].value), " ", why));
    };
    for (size_t j : features) {
      float v = 0;
      if (absl::Status s = number(j, &v); !s.ok()) return s;
      table.features.push_back(v);
    }
    if (label >= 0 && classes) {
      class_fields.push_back(std::move(fields[label]));
    } else if (label >= 0) {
      float v = 0;
      if (absl::Status s = number(label, &v); !s.ok()) return s;
      table.labels.push_back(v);
    }
    ++table.rows;
  }
  if (label >= 0 && classes) {
    absl::Status s = ClassLabels(class_fields, name, label, header[label].value, &table);
    if (!s.ok()) return s;
  }
  return table;
}

absl::StatusOr<CsvTable> ReadCsv(const std::string& path, const CsvOptions& options) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseCsv(*text, path, options);
}

}  // namespace gradway::data
