#include "base/version.h"

namespace gradway {
namespace {

#define GRADWAY_VERSION_TEXT_(x) #x
#define GRADWAY_VERSION_TEXT(x) GRADWAY_VERSION_TEXT_(x)

constexpr bool SameText(const char* a, const char* b) {
  return *a == *b && (*a == '\0' || SameText(a + 1, b + 1));
}

// A release changes the three numbers and the string together.
static_assert(SameText(GRADWAY_VERSION_STRING, GRADWAY_VERSION_TEXT(GRADWAY_VERSION_MAJOR) "."
                       GRADWAY_VERSION_TEXT(GRADWAY_VERSION_MINOR) "."
                       GRADWAY_VERSION_TEXT(GRADWAY_VERSION_PATCH)),
              "GRADWAY_VERSION_STRING must be MAJOR.MINOR.PATCH");

#undef GRADWAY_VERSION_TEXT
#undef GRADWAY_VERSION_TEXT_

}  // namespace

const char* VersionString() { return GRADWAY_VERSION_STRING; }
int VersionMajor() { return GRADWAY_VERSION_MAJOR; }
int VersionMinor() { return GRADWAY_VERSION_MINOR; }
int VersionPatch() { return GRADWAY_VERSION_PATCH; }

}  // namespace gradway
