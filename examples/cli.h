// What every example's command line shares: Abseil flag parsing with a --help that lists
// the example's own flags, fatal errors, and paths relative to where the user typed
// `bazel run`.
#ifndef GRADWAY_EXAMPLES_CLI_H_
#define GRADWAY_EXAMPLES_CLI_H_

#include <string>

namespace gradway {
namespace examples {

// Parses the flags (absl) with `usage` as --help's summary; --help lists the flags of
// examples/ only. Unknown flags and bad values print a message and exit with status 1
// (Abseil's); a positional argument prints one and exits with status 2.
void ParseFlags(int argc, char** argv, const char* usage);

// Prints "error: <message>" to stderr and exits with `status`.
[[noreturn]] void Die(const std::string& message, int status);

// `path` as the user meant it: `bazel run` starts programs in their runfiles folder, so a
// relative path is taken relative to the folder the command was typed in
// (BUILD_WORKING_DIRECTORY) when there is one. Empty and absolute paths are unchanged.
std::string UserPath(const std::string& path);

}  // namespace examples
}  // namespace gradway

#endif  // GRADWAY_EXAMPLES_CLI_H_
