#include "data/text_vectorization.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "data/file_util.h"

namespace gradway::data {
namespace {

using json = nlohmann::json;

constexpr const char* kFormat = "gradway.text_vectorization";
constexpr absl::string_view kPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

// An even number of hexadecimal digits.
bool IsHex(const std::string& s) {
  if (s.size() % 2 != 0) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// The length of the UTF-8 code point starting at s[i], or 1 for a byte that starts none.
size_t CodePointLength(absl::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const size_t n =
      c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n <= 1 || i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 1;
  }
  return n;
}

// Why `o` is not valid, or "".
std::string OptionsError(const TextVectorizationOptions& o) {
  const std::string& st = o.standardize;
  if (st != "lower_and_strip_punctuation" && st != "lower" && st != "strip_punctuation" &&
      st != "none") {
    return absl::StrCat("standardize \"", st, "\" is not one of lower_and_strip_punctuation, "
                        "lower, strip_punctuation, none");
  }
  if (o.split != "whitespace" && o.split != "character") {
    return absl::StrCat("split \"", o.split, "\" is not whitespace or character");
  }
  if (o.max_tokens < 0 || o.max_tokens == 1) {
    return absl::StrCat("max_tokens must be 0 (no limit) or >= 2 (padding and [UNK] "
                        "included), got ", o.max_tokens);
  }
  if (o.sequence_length < 0) {
    return absl::StrCat("sequence_length must be >= 0, got ", o.sequence_length);
  }
  return "";
}

}  // namespace

TextVectorization::TextVectorization(TextVectorizationOptions options)
    : options_(std::move(options)) {
  const std::string error = OptionsError(options_);
  if (!error.empty()) throw std::invalid_argument("TextVectorization: " + error);
}

std::vector<std::string> TextVectorization::Tokens(absl::string_view text) const {
  const std::string& st = options_.standardize;
  const bool lower = st == "lower" || st == "lower_and_strip_punctuation";
  const bool strip = st == "strip_punctuation" || st == "lower_and_strip_punctuation";
  std::string s;
  s.reserve(text.size());
  for (char c : text) {
    if (strip && kPunctuation.find(c) != absl::string_view::npos) continue;
    s.push_back(lower && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  std::vector<std::string> tokens;
  if (options_.split == "character") {
    for (size_t i = 0; i < s.size();) {
      const size_t n = CodePointLength(s, i);
      tokens.push_back(s.substr(i, n));
      i += n;
    }
    return tokens;
  }
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !IsSpace(s[j])) ++j;
    if (j > i) tokens.push_back(s.substr(i, j - i));
    i = j;
  }
  return tokens;
}

void TextVectorization::Adapt(const std::vector<std::string>& texts) {
  std::unordered_map<std::string, int64_t> counts;
  for (const std::string& text : texts) {
    for (std::string& t : Tokens(text)) ++counts[std::move(t)];
  }
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  const int64_t keep = options_.max_tokens - 2;
  if (options_.max_tokens > 0 && static_cast<int64_t>(sorted.size()) > keep) {
    sorted.resize(static_cast<size_t>(keep));
  }
  std::vector<std::string> tokens;
  tokens.reserve(sorted.size());
  for (auto& p : sorted) tokens.push_back(std::move(p.first));
  SetVocabulary(std::move(tokens));
}

void TextVectorization::SetVocabulary(std::vector<std::string> tokens) {
  tokens_ = std::move(tokens);
  ids_.clear();
  for (size_t i = 0; i < tokens_.size(); ++i) ids_[tokens_[i]] = static_cast<int32_t>(i + 2);
}

std::vector<int32_t> TextVectorization::Encode(absl::string_view text) const {
  std::vector<int32_t> ids;
  for (const std::string& t : Tokens(text)) {
    const auto it = ids_.find(t);
    ids.push_back(it == ids_.end() ? kOutOfVocabulary : it->second);
  }
  if (options_.sequence_length > 0) {
    ids.resize(static_cast<size_t>(options_.sequence_length), kPadding);
  }
  return ids;
}

std::vector<std::string> TextVectorization::Vocabulary() const {
  std::vector<std::string> v = {"", "[UNK]"};
  v.insert(v.end(), tokens_.begin(), tokens_.end());
  return v;
}

absl::Status TextVectorization::Save(const std::string& path) const {
  json j;
  j["format"] = kFormat;
  j["version"] = 1;
  j["max_tokens"] = options_.max_tokens;
  j["standardize"] = options_.standardize;
  j["split"] = options_.split;
  j["sequence_length"] = options_.sequence_length;
  // A token that is not valid UTF-8 (bytes of another encoding) cannot be a JSON string:
  // it is written as {"hex": "<its bytes in hex>"}, so that every byte survives.
  json vocabulary = json::array();
  for (const std::string& t : tokens_) {
    try {
      json(t).dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::strict);
      vocabulary.push_back(t);
    } catch (const json::exception&) {
      vocabulary.push_back({{"hex", absl::BytesToHexString(t)}});
    }
  }
  j["vocabulary"] = std::move(vocabulary);
  std::string text;
  try {
    text = j.dump(1, ' ', /*ensure_ascii=*/false, json::error_handler_t::strict);
  } catch (const json::exception& e) {
    return absl::InternalError(
        absl::StrCat(path, ": cannot write the vocabulary: ", e.what()));
  }
  return WriteFileAtomically(path, text + "\n");
}

absl::StatusOr<TextVectorization> TextVectorization::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  const auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a gradway vocabulary file: ", why));
  };
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (!j.contains("format") || j["format"] != kFormat) {
    return bad(absl::StrCat("\"format\" is not \"", kFormat, "\""));
  }
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"] != 1) {
    return bad("\"version\" is not 1 (a newer gradway may have written it)");
  }
  TextVectorizationOptions o;
  for (const char* key : {"max_tokens", "sequence_length"}) {
    if (!j.contains(key) || !j[key].is_number_integer()) {
      return bad(absl::StrCat("no integer \"", key, "\""));
    }
  }
  for (const char* key : {"standardize", "split"}) {
    if (!j.contains(key) || !j[key].is_string()) {
      return bad(absl::StrCat("no string \"", key, "\""));
    }
  }
  o.max_tokens = j["max_tokens"].get<int64_t>();
  o.sequence_length = j["sequence_length"].get<int64_t>();
  o.standardize = j["standardize"].get<std::string>();
  o.split = j["split"].get<std::string>();
  const std::string error = OptionsError(o);
  if (!error.empty()) return bad(error);
  if (!j.contains("vocabulary") || !j["vocabulary"].is_array()) {
    return bad("no \"vocabulary\" list");
  }
  const json& v = j["vocabulary"];
  if (o.max_tokens > 0 && static_cast<int64_t>(v.size()) > o.max_tokens - 2) {
    return bad(
        absl::StrCat(v.size(), " tokens, more than max_tokens ", o.max_tokens, " allows"));
  }
  if (v.size() > static_cast<size_t>(INT32_MAX - 2)) return bad("too many tokens");
  std::vector<std::string> tokens;
  std::unordered_map<std::string, int32_t> seen;
  for (const json& t : v) {
    std::string token;
    if (t.is_string()) {
      token = t.get<std::string>();
    } else if (t.is_object() && t.size() == 1 && t.contains("hex") && t["hex"].is_string() &&
               IsHex(t["hex"].get<std::string>())) {
      token = absl::HexStringToBytes(t["hex"].get<std::string>());
    }
    if (token.empty()) {
      return bad(absl::StrCat("token ", tokens.size() + 2,
                              " is not a non-empty string (or {\"hex\": its bytes})"));
    }
    if (!seen.emplace(token, 0).second) {
      return bad(absl::StrCat("token ", tokens.size() + 2, " \"", absl::CHexEscape(token),
                              "\" appears twice"));
    }
    tokens.push_back(std::move(token));
  }
  TextVectorization tv(o);
  tv.SetVocabulary(std::move(tokens));
  return tv;
}

}  // namespace gradway::data
