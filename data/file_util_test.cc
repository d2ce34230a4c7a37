#include "data/file_util.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

// A fresh, empty folder under TEST_TMPDIR.
std::string TmpDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(root != nullptr ? root : "/tmp", "/file_util_", name);
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(MakeDirs(dir).ok());
  return dir;
}

// The names in `dir` (not recursive).
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

// `n` bytes that differ from position to position and between seeds.
std::string Bytes(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + seed * 101 + i / 251) & 0xff);
  return s;
}

TEST(WriteFileAtomically, WritesAndReplaces) {
  const std::string dir = TmpDir("replace");
  const std::string path = dir + "/f.bin";
  ASSERT_TRUE(WriteFileAtomically(path, "first version").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  absl::StatusOr<std::string> text = ReadFileToString(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "second");
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"f.bin"});
}

TEST(WriteFileAtomically, PiecesAreWrittenInOrder) {
  const std::string dir = TmpDir("pieces");
  const std::string path = dir + "/pieces.bin";
  const std::string big = Bytes(100000, 3);
  const std::string with_nul("a\0b", 3);
  const std::vector<absl::string_view> pieces = {"head:", "", with_nul, big, ":tail"};
  ASSERT_TRUE(WriteFileAtomically(path, pieces).ok());
  absl::StatusOr<std::string> text = ReadFileToString(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, absl::StrCat("head:", with_nul, big, ":tail"));
  ASSERT_TRUE(WriteFileAtomically(path, absl::Span<const absl::string_view>()).ok());
  EXPECT_EQ(ReadFileToString(path).value(), "");
}

// Two threads write one path at once, many times (one as one piece, one as several), while
// a third reads it: every write succeeds, every read and the final file are one of the two
// contents in full, and no temporary is left behind.
TEST(WriteFileAtomically, ConcurrentWritesOfOnePathAllSucceed) {
  const std::string dir = TmpDir("concurrent");
  const std::string path = dir + "/model.safetensors";
  const std::string a = Bytes(64 * 1024 + 3, 1);
  const std::string b = Bytes(48 * 1024 + 5, 2);
  ASSERT_TRUE(WriteFileAtomically(path, a).ok());
  constexpr int kWrites = 100;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::string> errors[2];
  std::thread writer_a([&] {
    for (int i = 0; i < kWrites; ++i) {
      absl::Status s = WriteFileAtomically(path, a);
      if (!s.ok()) {
        ++failures;
        errors[0].push_back(s.ToString());
      }
    }
  });
  std::thread writer_b([&] {
    const absl::string_view v(b);
    const std::vector<absl::string_view> pieces = {v.substr(0, 8), v.substr(8, 1000),
                                                   v.substr(1008)};
    for (int i = 0; i < kWrites; ++i) {
      absl::Status s = WriteFileAtomically(path, pieces);
      if (!s.ok()) {
        ++failures;
        errors[1].push_back(s.ToString());
      }
    }
  });
  std::atomic<int> reads{0}, torn_reads{0};
  std::thread reader([&] {
    while (!done.load()) {
      absl::StatusOr<std::string> text = ReadFileToString(path);
      ++reads;
      if (!text.ok() || (*text != a && *text != b)) ++torn_reads;
    }
  });
  writer_a.join();
  writer_b.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0) << (errors[0].empty() ? "" : errors[0][0])
                                << (errors[1].empty() ? "" : errors[1][0]);
  EXPECT_EQ(torn_reads.load(), 0) << "of " << reads.load() << " reads";
  absl::StatusOr<std::string> final_text = ReadFileToString(path);
  ASSERT_TRUE(final_text.ok()) << final_text.status();
  EXPECT_TRUE(*final_text == a || *final_text == b) << final_text->size() << " bytes";
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"model.safetensors"});
}

TEST(WriteFileAtomically, MissingFolderFailsNamingThePathAndLeavesNothing) {
  const std::string dir = TmpDir("missing");
  const std::string path = dir + "/no/such/folder/f.txt";
  absl::Status s = WriteFileAtomically(path, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), path)) << s;
  EXPECT_TRUE(Entries(dir).empty());
  // The pieces variant fails the same way.
  const std::vector<absl::string_view> pieces = {"x", "y"};
  s = WriteFileAtomically(path, pieces);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), path)) << s;
  EXPECT_TRUE(Entries(dir).empty());
}

// The temporary is written, then the rename fails (a non-empty folder is in the way): the
// error names the path and the temporary is removed.
TEST(WriteFileAtomically, FailedRenameRemovesTheTemporary) {
  const std::string dir = TmpDir("rename");
  const std::string path = dir + "/taken";
  ASSERT_TRUE(MakeDirs(path + "/inside").ok());
  absl::Status s = WriteFileAtomically(path, "contents");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), path)) << s;
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"taken"});
  EXPECT_TRUE(DirExists(path + "/inside"));
}

TEST(RemoveStaleTemporaries, RemovesOnlyDeadProcessesTemporaries) {
  const std::string dir = ::testing::TempDir() + "/stale_tmp";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(MakeDirs(dir).ok());
  // pid 0x7ffffff0 is above Linux's pid_max (4194304): no such process.
  const std::string dead = dir + "/a.safetensors.tmp.2147483632.0";
  const std::string alive = absl::StrCat(dir, "/a.safetensors.tmp.", ::getpid(), ".3");
  for (const std::string& keep : {dead, alive, dir + "/a.safetensors", dir + "/b.tmp.x.1",
                                  dir + "/c.tmp.12"}) {
    ASSERT_TRUE(WriteFileAtomically(keep, "x").ok());
  }
  EXPECT_EQ(RemoveStaleTemporaries(dir), 1);
  EXPECT_FALSE(FileExists(dead));
  EXPECT_TRUE(FileExists(alive));  // a write in progress in a live process
  EXPECT_TRUE(FileExists(dir + "/a.safetensors"));
  EXPECT_TRUE(FileExists(dir + "/b.tmp.x.1"));
  EXPECT_TRUE(FileExists(dir + "/c.tmp.12"));
  EXPECT_EQ(RemoveStaleTemporaries(dir + "/missing"), 0);
}

TEST(RemoveFileDurably, RemovesAndAcceptsAMissingFile) {
  const std::string path = ::testing::TempDir() + "/remove_me";
  ASSERT_TRUE(WriteFileAtomically(path, "x").ok());
  EXPECT_TRUE(RemoveFileDurably(path).ok());
  EXPECT_FALSE(FileExists(path));
  EXPECT_TRUE(RemoveFileDurably(path).ok());
  absl::Status st = RemoveFileDurably(::testing::TempDir());  // a folder: EISDIR
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(::testing::TempDir()), std::string::npos) << st;
}

TEST(MakeDirs, CreatesNestedFoldersAndIsIdempotent) {
  const std::string dir = TmpDir("makedirs");
  const std::string nested = dir + "/a/b/c/d";
  ASSERT_TRUE(MakeDirs(nested).ok());
  EXPECT_TRUE(DirExists(dir + "/a"));
  EXPECT_TRUE(DirExists(dir + "/a/b/c"));
  EXPECT_TRUE(DirExists(nested));
  ASSERT_TRUE(WriteFileAtomically(nested + "/kept", "kept").ok());
  // Again, and with a trailing slash: nothing changes.
  EXPECT_TRUE(MakeDirs(nested).ok());
  EXPECT_TRUE(MakeDirs(nested + "/").ok());
  EXPECT_TRUE(MakeDirs(dir + "/a/b").ok());
  EXPECT_EQ(ReadFileToString(nested + "/kept").value(), "kept");
  EXPECT_EQ(Entries(nested), std::vector<std::string>{"kept"});
  EXPECT_TRUE(MakeDirs("").ok());
}

TEST(MakeDirs, FileInTheWayFailsNamingThePath) {
  const std::string dir = TmpDir("file_in_way");
  ASSERT_TRUE(WriteFileAtomically(dir + "/file", "x").ok());
  absl::Status s = MakeDirs(dir + "/file");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), dir + "/file")) << s;
  s = MakeDirs(dir + "/file/sub");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), dir + "/file")) << s;
}

}  // namespace
}  // namespace gradway::data
