#include "fuzzing/fuzz_input.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>

namespace gradway::fuzzing {
namespace {

std::string ScratchFolder() {
  if (const char* dir = std::getenv("TEST_TMPDIR"); dir != nullptr && *dir != '\0') return dir;
  if (::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  if (const char* dir = std::getenv("TMPDIR"); dir != nullptr && *dir != '\0') return dir;
  return "/tmp";
}

// The scratch files of this process, removed at exit.
std::map<std::string, std::string>& Paths() {
  static auto* paths = new std::map<std::string, std::string>();
  return *paths;
}

void RemoveScratchFiles() {
  for (const auto& [name, path] : Paths()) std::remove(path.c_str());
}

}  // namespace

std::string WriteScratchFile(const char* name, const uint8_t* data, size_t size) {
  std::map<std::string, std::string>& paths = Paths();
  auto it = paths.find(name);
  if (it == paths.end()) {
    if (paths.empty()) std::atexit(RemoveScratchFiles);
    const std::string path = ScratchFolder() + "/gradway-fuzz-" +
                             std::to_string(::getpid()) + "-" + name;
    it = paths.emplace(name, path).first;
  }
  const std::string& path = it->second;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  // An empty input may come with data == nullptr, which fwrite must not be given.
  if (f == nullptr || (size != 0 && std::fwrite(data, 1, size, f) != size) ||
      std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace gradway::fuzzing
