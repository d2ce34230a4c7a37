#include "examples/cli.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace gradway {
namespace examples {

void ParseFlags(int argc, char** argv, const char* usage) {
  absl::FlagsUsageConfig usage_config;
  // --help lists the flags defined here (not Abseil's own).
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "examples/");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  absl::SetProgramUsageMessage(usage);
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    Die(absl::StrCat("unexpected argument '", positional[1], "' (see --help)"), 2);
  }
}

void Die(const std::string& message, int status) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::exit(status);
}

std::string UserPath(const std::string& path) {
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (cwd == nullptr || path.empty() || path[0] == '/') return path;
  return (std::filesystem::path(cwd) / path).lexically_normal().string();
}

}  // namespace examples
}  // namespace gradway
