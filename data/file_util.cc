#include "data/file_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace gradway::data {

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool DirExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::Status ErrnoStatus(int errno_value, const std::string& path, absl::string_view what) {
  const std::string message = absl::StrCat(path, ": ", what, ": ", std::strerror(errno_value));
  switch (errno_value) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return ErrnoStatus(errno, path, "cannot open");
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const bool failed = std::ferror(f);
  const int err = errno;
  std::fclose(f);
  if (failed) return ErrnoStatus(err, path, "read error");
  return out;
}

std::string TempPathFor(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return absl::StrCat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
}

absl::Status CommitTempFile(const std::string& tmp_path, const std::string& path) {
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp_path.c_str());
    return ErrnoStatus(err, path, absl::StrCat("cannot rename ", tmp_path, " to it"));
  }
  return absl::OkStatus();
}

namespace {

// Writes all of `bytes` to `fd`, retrying short writes and EINTR. Returns 0 or an errno.
int WriteAll(int fd, absl::string_view bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return 0;
}

// The folder holding `path` ("." for a bare file name).
std::string FolderOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  return WriteFileAtomically(path, absl::Span<const absl::string_view>(&contents, 1));
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::Span<const absl::string_view> pieces) {
  // A fresh name each time; O_EXCL so that a temporary left by a crashed process of the
  // same pid is never written into (the next counter value is tried instead).
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    tmp = TempPathFor(path);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    const int open_err = errno;
    if (fd < 0 && (open_err != EEXIST || attempt >= 100)) {
      return ErrnoStatus(open_err, path, absl::StrCat("cannot create temporary file ", tmp));
    }
  }
  int err = 0;
  const char* what = "write error";
  for (absl::string_view piece : pieces) {
    err = WriteAll(fd, piece);
    if (err != 0) break;
  }
  if (err == 0 && ::fsync(fd) != 0) {
    err = errno;
    what = "fsync error";
  }
  if (::close(fd) != 0 && err == 0) {
    err = errno;
    what = "close error";
  }
  if (err != 0) {
    std::remove(tmp.c_str());
    return ErrnoStatus(err, path, absl::StrCat(what, " in temporary file ", tmp));
  }
  absl::Status committed = CommitTempFile(tmp, path);
  if (!committed.ok()) return committed;
  return SyncFolderOf(path, "written");
}

absl::Status SyncFolderOf(const std::string& path, absl::string_view done) {
  // A file system that cannot sync folders says EINVAL.
  const std::string folder = FolderOf(path);
  const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    const int open_err = errno;
    return ErrnoStatus(open_err, path, absl::StrCat(done, ", but cannot open its folder ",
                                                 folder, " to fsync it"));
  }
  int err = ::fsync(dir_fd) == 0 ? 0 : errno;
  if (err == EINVAL) err = 0;
  ::close(dir_fd);
  if (err != 0) {
    return ErrnoStatus(err, path, absl::StrCat(done, ", but fsync of its folder ", folder,
                                               " failed"));
  }
  return absl::OkStatus();
}

absl::Status RemoveFileDurably(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    const int err = errno;
    if (err == ENOENT) return absl::OkStatus();
    return ErrnoStatus(err, path, "cannot remove");
  }
  return SyncFolderOf(path, "removed");
}

int RemoveStaleTemporaries(const std::string& folder) {
  int removed = 0;
  std::error_code ec;
  std::filesystem::directory_iterator it(folder, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    // "<name>.tmp.<pid>.<n>"
    const std::string name = it->path().filename().string();
    const size_t dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0) continue;
    const size_t tmp = name.rfind(".tmp.", dot - 1);
    if (tmp == std::string::npos || tmp + 5 > dot) continue;
    int64_t pid = 0, n = 0;
    if (!absl::SimpleAtoi(name.substr(tmp + 5, dot - tmp - 5), &pid) ||
        !absl::SimpleAtoi(name.substr(dot + 1), &n) || pid <= 0 || pid > INT32_MAX) {
      continue;
    }
    const bool alive = ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
    std::error_code file_ec;
    if (!alive && it->is_regular_file(file_ec) && std::filesystem::remove(it->path(), file_ec)) {
      ++removed;
    }
  }
  return removed;
}

absl::Status MakeDirs(const std::string& path) {
  if (path.empty() || DirExists(path)) return absl::OkStatus();
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    absl::Status parent = MakeDirs(path.substr(0, slash));
    if (!parent.ok()) return parent;
  }
  if (::mkdir(path.c_str(), 0755) != 0) {
    const int err = errno;
    // EEXIST: made meanwhile by someone else (fine) or a file is in the way (not fine).
    if (err != EEXIST || !DirExists(path)) {
      return ErrnoStatus(err, path, "cannot create directory");
    }
  }
  return absl::OkStatus();
}

}  // namespace gradway::data
