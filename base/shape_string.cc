#include "base/shape_string.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gradway {
namespace {

std::vector<std::string> Dims(absl::Span<const int64_t> shape) {
  std::vector<std::string> dims;
  for (int64_t d : shape) dims.push_back(absl::StrCat(d));
  return dims;
}

// Python's tuple notation: "(a, b)", "(a,)" for one item, "()" for none.
std::string PythonTuple(const std::vector<std::string>& items) {
  return absl::StrCat("(", absl::StrJoin(items, ", "), items.size() == 1 ? ",)" : ")");
}

}  // namespace

std::string ShapeToString(absl::Span<const int64_t> shape) { return PythonTuple(Dims(shape)); }

std::string BatchShapeString(absl::Span<const int64_t> per_sample_shape) {
  std::vector<std::string> items = Dims(per_sample_shape);
  items.insert(items.begin(), "None");
  return PythonTuple(items);
}

}  // namespace gradway
