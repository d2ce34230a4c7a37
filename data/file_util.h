// Small file helpers shared by the data/ readers and writers: whole-file reads and
// atomic writes (write a temporary file beside the target, then rename it over the
// target, so a reader never sees a half-written file).
#ifndef GRADWAY_DATA_FILE_UTIL_H_
#define GRADWAY_DATA_FILE_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gradway::data {

// True if `path` names an existing regular file (or a symlink to one).
bool FileExists(const std::string& path);

// True if `path` names an existing directory.
bool DirExists(const std::string& path);

// Reads the whole file at `path` as bytes.
// Errors: NotFound if it does not exist, Internal/PermissionDenied for other I/O
// failures; the message starts with the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// A fresh temporary path in the same directory as `path` (same file system, so a rename
// is atomic): "<path>.tmp.<pid>.<counter>".
std::string TempPathFor(const std::string& path);

// Renames `tmp_path` over `path` (atomic on POSIX). On failure removes `tmp_path`.
// Errors: Internal naming both paths and the system error.
absl::Status CommitTempFile(const std::string& tmp_path, const std::string& path);

// Writes `contents` to `path` atomically (temporary file + rename).
// Errors: the path and the system error (e.g. missing directory, no permission).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// Creates `path` and its missing parents (like `mkdir -p`).
// Errors: the path and the system error.
absl::Status MakeDirs(const std::string& path);

// Builds an absl::Status of a code suited to `errno_value` whose message is
// "<path>: <what>: <strerror>".
absl::Status ErrnoStatus(int errno_value, const std::string& path, absl::string_view what);

}  // namespace gradway::data

#endif  // GRADWAY_DATA_FILE_UTIL_H_
