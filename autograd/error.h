// The one error type gradway throws for misuse of its API: shape mismatches, bad
// arguments, backward through a freed graph. Messages name the op and the shapes, e.g.
// "matmul: shapes (3, 2) and (3, 2) cannot be multiplied".
#ifndef GRADWAY_AUTOGRAD_ERROR_H_
#define GRADWAY_AUTOGRAD_ERROR_H_

#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"

namespace gradway {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error with the concatenation of `parts` (anything absl::StrCat accepts).
template <typename... Parts>
[[noreturn]] void Fail(const Parts&... parts) {
  throw Error(absl::StrCat(parts...));
}

// Throws Error(StrCat(parts...)) unless `condition` holds.
#define GRADWAY_CHECK(condition, ...)                     \
  do {                                                    \
    if (!(condition)) ::gradway::Fail(__VA_ARGS__);       \
  } while (false)

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_ERROR_H_
