// TextVectorization: Keras' standardisation and splits, the vocabulary by frequency with
// padding and [UNK], max_tokens, fixed-length sequences, Save / Load and its errors.
#include "data/text_vectorization.h"

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace gradway::data {
namespace {

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(TextVectorizationTest, StandardisesAndSplitsAsKeras) {
  TextVectorization words;
  EXPECT_EQ(words.Tokens("  Hello, World!\tIt's   A\ntest-case. "),
            (std::vector<std::string>{"hello", "world", "its", "a", "testcase"}));
  TextVectorization lower(TextVectorizationOptions().Standardize("lower"));
  EXPECT_EQ(lower.Tokens("Hi, THERE."), (std::vector<std::string>{"hi,", "there."}));
  TextVectorization none(TextVectorizationOptions().Standardize("none"));
  EXPECT_EQ(none.Tokens("Hi, THERE."), (std::vector<std::string>{"Hi,", "THERE."}));
  TextVectorization chars(TextVectorizationOptions().Split("character"));
  // UTF-8 code points (é is 2 bytes), spaces kept, a stray continuation byte on its own.
  EXPECT_EQ(chars.Tokens("Ab é!\x80"),
            (std::vector<std::string>{"a", "b", " ", "\xc3\xa9", "\x80"}));
  EXPECT_TRUE(words.Tokens("").empty());
  EXPECT_TRUE(words.Tokens(" ,.;  ").empty());
}

TEST(TextVectorizationTest, VocabularyByFrequencyThenToken) {
  TextVectorization tv(TextVectorizationOptions().MaxTokens(5));
  tv.Adapt({"the cat sat", "the dog sat", "the end", "a cat"});
  // the: 3, cat: 2, sat: 2 (cat < sat), then the ones seen once; max_tokens 5 keeps 3.
  EXPECT_EQ(tv.Vocabulary(), (std::vector<std::string>{"", "[UNK]", "the", "cat", "sat"}));
  EXPECT_EQ(tv.vocabulary_size(), 5);
  EXPECT_EQ(tv.Encode("The cat saw the dog"), (std::vector<int32_t>{2, 3, 1, 2, 1}));
  TextVectorization all;
  all.Adapt({"b a", "c b"});
  EXPECT_EQ(all.Vocabulary(), (std::vector<std::string>{"", "[UNK]", "b", "a", "c"}));
  // Adapt replaces the vocabulary.
  all.Adapt({"z"});
  EXPECT_EQ(all.Vocabulary(), (std::vector<std::string>{"", "[UNK]", "z"}));
}

TEST(TextVectorizationTest, FixedLengthSequencesPadAndTruncate) {
  TextVectorization tv(TextVectorizationOptions().SequenceLength(4));
  tv.Adapt({"one two three four five"});
  EXPECT_EQ(tv.Encode("two one"), (std::vector<int32_t>{6, 4, 0, 0}));
  EXPECT_EQ(tv.Encode("five four three two one"), (std::vector<int32_t>{2, 3, 5, 6}));
  EXPECT_EQ(tv.Encode(""), (std::vector<int32_t>{0, 0, 0, 0}));
}

TEST(TextVectorizationTest, SaveAndLoadKeepEverything) {
  TextVectorization tv(TextVectorizationOptions().MaxTokens(50).Split("character")
                           .SequenceLength(7).Standardize("lower"));
  tv.Adapt({"Hello, wörld", "quote \" and \\ and \n line"});
  const std::string path = TempPath("vocabulary.json");
  ASSERT_TRUE(tv.Save(path).ok());
  absl::StatusOr<TextVectorization> back = TextVectorization::Load(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Vocabulary(), tv.Vocabulary());
  EXPECT_EQ(back->options().max_tokens, 50);
  EXPECT_EQ(back->options().split, "character");
  EXPECT_EQ(back->options().standardize, "lower");
  EXPECT_EQ(back->Encode("Hello\n"), tv.Encode("Hello\n"));
}

TEST(TextVectorizationTest, BadOptionsAndFilesGiveClearErrors) {
  EXPECT_THROW(TextVectorization(TextVectorizationOptions().Split("words")),
               std::invalid_argument);
  EXPECT_THROW(TextVectorization(TextVectorizationOptions().MaxTokens(1)),
               std::invalid_argument);
  EXPECT_THROW(TextVectorization(TextVectorizationOptions().Standardize("upper")),
               std::invalid_argument);
  const std::string good =
      R"({"format": "gradway.text_vectorization", "version": 1, "max_tokens": 4,)"
      R"( "standardize": "none", "split": "whitespace", "sequence_length": 0,)"
      R"( "vocabulary": ["a", "b"]})";
  const std::string path = TempPath("v.json");
  WriteFile(path, good);
  ASSERT_TRUE(TextVectorization::Load(path).ok());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{not json", "not a JSON object"},
      {"[1, 2]", "not a JSON object"},
      {R"({"format": "keras"})", "\"format\" is not"},
      {std::string(good).replace(good.find("\"version\": 1"), 12, "\"version\": 2"),
       "\"version\" is not 1"},
      {std::string(good).replace(good.find("[\"a\", \"b\"]"), 10, "[\"a\", \"b\", \"c\"]"),
       "3 tokens, more than max_tokens 4 allows"},
      {std::string(good).replace(good.find("[\"a\", \"b\"]"), 10, "[\"a\", \"a\"]"),
       "token 3 \"a\" appears twice"},
      {std::string(good).replace(good.find("[\"a\", \"b\"]"), 10, "[\"a\", 7]"),
       "token 3 is not a non-empty string"},
      {std::string(good).replace(good.find("\"none\""), 6, "\"upper\""),
       "standardize \"upper\""},
  };
  for (const auto& [text, want] : cases) {
    WriteFile(path, text);
    const absl::StatusOr<TextVectorization> r = TextVectorization::Load(path);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status();
  }
  EXPECT_FALSE(TextVectorization::Load(TempPath("missing.json")).ok());
}

}  // namespace
// Tokens that are not valid UTF-8 (e-mails in Latin-1, say) save as {"hex": ...} and load
// back byte for byte: the loaded tokenizer encodes as the adapted one; before, they were
// saved with U+FFFD in place of the bytes and two of them could collide.
TEST(TextVectorizationTest, NonUtf8TokensSurviveSaveAndLoad) {
  TextVectorization tv;
  const std::string latin1 = "caf\xe9 na\xefve caf\xe9 \x93quoted\x94 plain";
  tv.Adapt({latin1});
  const std::string path = ::testing::TempDir() + "/latin1.json";
  ASSERT_TRUE(tv.Save(path).ok());
  const absl::StatusOr<TextVectorization> back = TextVectorization::Load(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Vocabulary(), tv.Vocabulary());
  EXPECT_EQ(back->Encode(latin1), tv.Encode(latin1));
  EXPECT_EQ(tv.Encode("caf\xe9")[0], 2);  // the most frequent token
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"hex\": \"636166e9\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"plain\""), std::string::npos) << text;
}

}  // namespace gradway::data
