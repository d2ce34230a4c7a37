// Fuzz target for the text corpora's parsers (data/text_corpora.h): any bytes, read as the
// pronouncing dictionary, give entries whose every phoneme is valid ARPAbet or an error
// naming the input and a line, never a crash, a leak or a hang; read as an e-mail, they give
// its subject and body on one line. See //:fuzzing.bzl.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "data/text_corpora.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const auto entries = gradway::data::ParseCmudict(bytes, "fuzz.txt");
  if (!entries.ok()) {
    if (std::string(entries.status().message()).rfind("fuzz.txt:", 0) != 0) std::abort();
  } else {
    for (const auto& e : *entries) {
      if (e.word.empty() || e.phonemes.empty()) std::abort();
      for (const std::string& p : e.phonemes) {
        if (p.empty() || p.size() > 4) std::abort();
      }
    }
  }
  const std::string text = gradway::data::EmailSubjectAndBody(bytes);
  if (text.find('\n') != std::string::npos || text.find('\r') != std::string::npos) std::abort();
  return 0;
}
