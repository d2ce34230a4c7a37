// A TextVectorization-like tokenizer (Keras' layers.TextVectorization, output_mode "int"):
// text -> standardised (lowercased, punctuation stripped) -> split into words or
// characters -> integer ids from a vocabulary built by Adapt, padded or truncated to a
// fixed length.
//
//   TextVectorization tv(TextVectorizationOptions().MaxTokens(10000).SequenceLength(200));
//   tv.Adapt(training_texts);             // the vocabulary, by frequency
//   std::vector<int32_t> ids = tv.Encode("Hello, world!");  // 200 ids
//   tv.Save("model/vocabulary.json");     // beside the model; Load reads it back
//
// Ids: 0 is padding (the empty token ""), 1 the out-of-vocabulary token "[UNK]", then the
// vocabulary, most frequent first, ties by token (bytewise), so Adapt is deterministic.
// max_tokens counts those two: at most max_tokens - 2 words are kept.
// Standardisation lowercases ASCII letters (Keras lowercases all of Unicode; other bytes
// are kept as they are) and strips Keras' punctuation, ASCII's !"#$%&'()*+,-./:;<=>?@[\]^_`
// {|}~. Splitting on whitespace splits on ASCII spaces, tabs and line breaks; splitting into
// characters gives UTF-8 code points (a byte that starts no valid one is a token of its
// own), spaces included, as Keras' split="character".
// The vocabulary file is JSON: {"format": "gradway.text_vectorization", "version": 1, the
// options, "vocabulary": [tokens from id 2 on]}, each token a string, or {"hex": "..."} with
// its bytes when they are not valid UTF-8 (text in another encoding), so that every token
// loads back byte for byte; Load refuses anything else with an error naming the file.
#ifndef GRADWAY_DATA_TEXT_VECTORIZATION_H_
#define GRADWAY_DATA_TEXT_VECTORIZATION_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gradway::data {

struct TextVectorizationOptions {
  // Vocabulary size, padding and "[UNK]" included (>= 2); 0: every token Adapt sees.
  int64_t max_tokens = 0;
  // "lower_and_strip_punctuation" (Keras' default), "lower", "strip_punctuation" or "none".
  std::string standardize = "lower_and_strip_punctuation";
  // "whitespace" (Keras' default) or "character".
  std::string split = "whitespace";
  // Encode's length: ids past it are dropped, missing ones are 0; 0: as many as tokens.
  int64_t sequence_length = 0;

  TextVectorizationOptions& MaxTokens(int64_t v) { max_tokens = v; return *this; }
  TextVectorizationOptions& Standardize(std::string v) {
    standardize = std::move(v);
    return *this;
  }
  TextVectorizationOptions& Split(std::string v) { split = std::move(v); return *this; }
  TextVectorizationOptions& SequenceLength(int64_t v) { sequence_length = v; return *this; }
};

class TextVectorization {
 public:
  static constexpr int32_t kPadding = 0;
  static constexpr int32_t kOutOfVocabulary = 1;

  // Throws std::invalid_argument naming the option for an unknown standardize or split,
  // max_tokens 1 or negative, or a negative sequence_length.
  explicit TextVectorization(TextVectorizationOptions options = {});

  // Replaces the vocabulary with the most frequent tokens of `texts`.
  void Adapt(const std::vector<std::string>& texts);
  // The standardised tokens of `text`.
  std::vector<std::string> Tokens(absl::string_view text) const;
  // The ids of Tokens(text), padded or truncated to sequence_length when it is set.
  std::vector<int32_t> Encode(absl::string_view text) const;
  // Tokens by id: "", "[UNK]", then the adapted vocabulary.
  std::vector<std::string> Vocabulary() const;
  int64_t vocabulary_size() const { return static_cast<int64_t>(tokens_.size()) + 2; }
  const TextVectorizationOptions& options() const { return options_; }

  // Writes the options and the vocabulary to `path` (atomically).
  absl::Status Save(const std::string& path) const;
  // Reads what Save wrote. Errors name the file: not JSON, another format or version, a
  // bad option, a vocabulary that is not unique non-empty strings or longer than
  // max_tokens allows.
  static absl::StatusOr<TextVectorization> Load(const std::string& path);

 private:
  void SetVocabulary(std::vector<std::string> tokens);

  TextVectorizationOptions options_;
  std::vector<std::string> tokens_;                  // id 2 on
  std::unordered_map<std::string, int32_t> ids_;  // token -> id
};

}  // namespace gradway::data

#endif  // GRADWAY_DATA_TEXT_VECTORIZATION_H_
