// Small file helpers shared by the data/ readers and writers (and nn/'s checkpoints):
// whole-file reads, durable atomic writes (write a temporary file beside the target,
// fsync it, rename it over the target, fsync the folder, so a reader never sees a
// half-written file and a crash leaves the old or the new file) and `mkdir -p`.
// A leaf library: it depends on Abseil only.
#ifndef GRADWAY_DATA_FILE_UTIL_H_
#define GRADWAY_DATA_FILE_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

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

// Writes `contents` to `path` atomically and durably: to a fresh temporary beside it
// (TempPathFor, so concurrent writes of one path, from threads or processes, never share
// a temporary), flushed and fsync'ed, renamed over `path`, then the folder fsync'ed. A
// reader sees the old file or the new one in full, never a mix. On any failure the
// temporary is removed and `path` is left as it was. Creates no directories.
// Errors: the path and the system error (e.g. missing directory, no permission).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// The same, writing the concatenation of `pieces` (in order) without first joining them,
// e.g. WriteFileAtomically(path, {header, payload}).
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::Span<const absl::string_view> pieces);

// Makes a rename or removal in the folder holding `path` durable (fsync of the folder;
// file systems that cannot sync folders are accepted). `done` starts the error message
// ("written", "removed"): "<path>: written, but fsync of its folder <f> failed: ...".
absl::Status SyncFolderOf(const std::string& path, absl::string_view done);

// Removes the file `path` and syncs its folder, so the removal survives a crash. OK if it
// does not exist. Errors: the path and the system error.
absl::Status RemoveFileDurably(const std::string& path);

// Removes the temporaries that WriteFileAtomically left in `folder` when their process was
// killed mid-write: files named "<name>.tmp.<pid>.<n>" whose process is no longer running.
// Returns how many it removed; a missing folder has none.
int RemoveStaleTemporaries(const std::string& folder);

// Creates `path` and its missing parents (like `mkdir -p`); OK if it already exists as a
// directory. Errors: the path and the system error (e.g. a file is in the way).
absl::Status MakeDirs(const std::string& path);

// Builds an absl::Status of a code suited to `errno_value` whose message is
// "<path>: <what>: <strerror>".
absl::Status ErrnoStatus(int errno_value, const std::string& path, absl::string_view what);

}  // namespace gradway::data

#endif  // GRADWAY_DATA_FILE_UTIL_H_
