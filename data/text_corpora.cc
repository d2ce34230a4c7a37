#include "data/text_corpora.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "data/file_util.h"
#include "data/mnist.h"

namespace gradway::data {
namespace {

constexpr const char* kGroups[] = {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1",
                                   "spam-2"};

absl::Status NotInstalled(const std::string& path) {
  return absl::NotFoundError(absl::StrCat(
      path, " does not exist: install the corpus with `bash data/install_text.sh` (or "
            "`bash third_party/install.sh`)"));
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The names of the regular files in `dir` ending in `suffix`, sorted.
absl::StatusOr<std::vector<std::string>> FilesIn(const std::string& dir,
                                                 absl::string_view suffix) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, dir, "cannot list");
  std::vector<std::string> names;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (absl::EndsWith(name, suffix) && name[0] != '.') names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// The value of the header `name` (case-insensitive) in the header block, unfolded.
std::string HeaderValue(absl::string_view headers, absl::string_view name) {
  std::string value;
  bool in = false;
  for (absl::string_view line : absl::StrSplit(headers, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    if (in && continuation) {
      absl::StrAppend(&value, " ", line);
      continue;
    }
    in = false;
    if (line.size() > name.size() && line[name.size()] == ':' &&
        absl::EqualsIgnoreCase(line.substr(0, name.size()), name) && value.empty()) {
      value = std::string(absl::StripLeadingAsciiWhitespace(line.substr(name.size() + 1)));
      in = true;
    }
  }
  return value;
}

bool IsPhoneme(absl::string_view p) {
  size_t letters = 0;
  while (letters < p.size() && p[letters] >= 'A' && p[letters] <= 'Z') ++letters;
  if (letters < 1 || letters > 3) return false;
  return p.size() == letters || (p.size() == letters + 1 && p[letters] >= '0' && p[letters] <= '2');
}

}  // namespace

std::string DefaultSpamAssassinDir() { return DefaultCacheDir() + "/spam-assassin"; }
std::string DefaultCmudictPath() { return DefaultCacheDir() + "/cmudict/dict.txt"; }

absl::StatusOr<std::vector<Email>> LoadSpamAssassin(const std::string& dir) {
  if (!IsDir(dir)) return NotInstalled(dir);
  std::vector<Email> emails;
  for (const char* group : kGroups) {
    const std::string folder = absl::StrCat(dir, "/", group);
    if (!IsDir(folder)) return NotInstalled(folder);
    absl::StatusOr<std::vector<std::string>> files = FilesIn(folder, ".txt");
    if (!files.ok()) return files.status();
    for (const std::string& file : *files) {
      absl::StatusOr<std::string> text = ReadFileToString(absl::StrCat(folder, "/", file));
      if (!text.ok()) return text.status();
      emails.push_back({group, file, std::move(*text), absl::StartsWith(group, "spam")});
    }
  }
  if (emails.empty()) {
    return absl::NotFoundError(absl::StrCat(dir, " holds no e-mail (<group>/*.txt): reinstall ",
                                            "it with `bash data/install_text.sh`"));
  }
  return emails;
}

std::string EmailSubjectAndBody(absl::string_view message) {
  size_t split = message.find("\n\n");
  const size_t crlf = message.find("\r\n\r\n");
  if (crlf != absl::string_view::npos && (split == absl::string_view::npos || crlf < split)) {
    split = crlf;
  }
  absl::string_view headers, body = message;
  if (split != absl::string_view::npos) {
    headers = message.substr(0, split);
    body = message.substr(split);
  }
  std::string out = absl::StrCat(HeaderValue(headers, "Subject"), " ", body);
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

absl::StatusOr<std::vector<Pronunciation>> ParseCmudict(absl::string_view text,
                                                        const std::string& name) {
  std::vector<Pronunciation> entries;
  int64_t number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || absl::StartsWith(line, ";;;")) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields.size() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(name, ":", number, ": the word '",
                                                     fields[0], "' has no phonemes"));
    }
    Pronunciation p;
    p.word = std::string(fields[0]);
    for (size_t i = 1; i < fields.size(); ++i) {
      if (!IsPhoneme(fields[i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, ":", number, ": '", fields[i], "' is not an ARPAbet phoneme (1-3 capital ",
            "letters and an optional stress digit 0-2)"));
      }
      p.phonemes.emplace_back(fields[i]);
    }
    entries.push_back(std::move(p));
  }
  return entries;
}

absl::StatusOr<std::vector<Pronunciation>> LoadCmudict(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return NotInstalled(path);
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<Pronunciation>> entries = ParseCmudict(*text, path);
  if (entries.ok() && entries->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no entries"));
  }
  return entries;
}

}  // namespace gradway::data
