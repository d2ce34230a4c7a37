// The main() of a fuzz target outside --config=fuzz (see //:fuzzing.bzl): runs
// LLVMFuzzerTestOneInput once on each file named on the command line (folders: every file
// in them, recursively, in name order), as libFuzzer does when given files. A crash or a
// sanitizer report ends the process; an exception escaping the target, or a return value
// other than 0 or -1, fails with a message naming the input. Exit status 0 when every
// input ran cleanly.
//   bazel run //data:idx_fuzzer -- "$PWD/data/fuzz/idx_corpus/valid-images"
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// The files named by `arg`: itself, or the files under it when it is a folder.
std::vector<std::string> FilesOf(const std::string& arg, std::string* error) {
  std::error_code ec;
  if (!fs::is_directory(arg, ec)) return {arg};
  std::vector<std::string> files;
  for (fs::recursive_directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) files.push_back(it->path().string());
  }
  if (ec) *error = arg + ": cannot list: " + ec.message();
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " FILE_OR_FOLDER...\n"
              << "Runs the fuzz target once on each input (build with --config=fuzz to "
                 "fuzz).\n";
    return 2;
  }
  int inputs = 0;
  for (int i = 1; i < argc; ++i) {
    std::string error;
    for (const std::string& path : FilesOf(argv[i], &error)) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::cerr << path << ": cannot open\n";
        return 1;
      }
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      std::cerr << "Running: " << path << " (" << bytes.size() << " bytes)\n";
      int result = 0;
      try {
        result = LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                                        bytes.size());
      } catch (const std::exception& e) {
        std::cerr << path << ": FAILED: the fuzz target let an exception escape: " << e.what()
                  << "\n";
        return 1;
      } catch (...) {
        std::cerr << path << ": FAILED: the fuzz target let an exception escape\n";
        return 1;
      }
      if (result != 0 && result != -1) {
        std::cerr << path << ": FAILED: the fuzz target returned " << result << "\n";
        return 1;
      }
      ++inputs;
    }
    if (!error.empty()) {
      std::cerr << error << "\n";
      return 1;
    }
  }
  if (inputs == 0) {
    std::cerr << "no inputs found in the arguments\n";
    return 1;
  }
  std::cerr << "Ran " << inputs << " inputs: all passed\n";
  return 0;
}
