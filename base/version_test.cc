#include "base/version.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace gradway {
namespace {

TEST(VersionTest, LibraryAgreesWithTheHeader) {
  EXPECT_STREQ(VersionString(), GRADWAY_VERSION_STRING);
  EXPECT_EQ(VersionMajor(), GRADWAY_VERSION_MAJOR);
  EXPECT_EQ(VersionMinor(), GRADWAY_VERSION_MINOR);
  EXPECT_EQ(VersionPatch(), GRADWAY_VERSION_PATCH);
}

TEST(VersionTest, StringIsMajorDotMinorDotPatch) {
  EXPECT_EQ(std::string(GRADWAY_VERSION_STRING),
            std::to_string(GRADWAY_VERSION_MAJOR) + "." +
                std::to_string(GRADWAY_VERSION_MINOR) + "." +
                std::to_string(GRADWAY_VERSION_PATCH));
  // Semantic versioning: plain decimal numbers, no leading zeros, no suffix.
  EXPECT_TRUE(std::regex_match(GRADWAY_VERSION_STRING,
                               std::regex("(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)")))
      << GRADWAY_VERSION_STRING;
  EXPECT_GE(GRADWAY_VERSION_MAJOR, 1);
}

// The install step, the Debian package and the CMake and pkg-config files read the version
// from these lines of the header with a regular expression: each must be there, once, in
// this form, and say what the macros say.
TEST(VersionTest, HeaderLinesParseAsTheToolsReadThem) {
  std::ifstream in(std::string(std::getenv("TEST_SRCDIR")) + "/gradway/base/version.h");
  ASSERT_TRUE(in) << "base/version.h is not in the test's runfiles";
  std::stringstream text;
  text << in.rdbuf();
  const std::string header = text.str();
  const std::regex line("^#define GRADWAY_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+)$");
  std::map<std::string, int> found;
  std::istringstream lines(header);
  for (std::string l; std::getline(lines, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) {
      EXPECT_EQ(found.count(m[1]), 0u) << "twice: " << l;
      found[m[1]] = std::stoi(m[2]);
    }
  }
  EXPECT_EQ(found["MAJOR"], GRADWAY_VERSION_MAJOR);
  EXPECT_EQ(found["MINOR"], GRADWAY_VERSION_MINOR);
  EXPECT_EQ(found["PATCH"], GRADWAY_VERSION_PATCH);
  EXPECT_EQ(found.size(), 3u);
}

}  // namespace
}  // namespace gradway
