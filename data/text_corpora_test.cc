#include "data/text_corpora.h"

#include <string>
#include <vector>

#include "data/file_util.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

TEST(CmudictTest, ParsesEntriesCommentsAndVariants) {
  const auto entries = ParseCmudict(
      ";;; a comment\nA  AH0\nA(1)  EY1\r\n\nABANDON\tAH0 B AE1 N D AH0 N\n", "dict.txt");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[1].word, "A(1)");
  EXPECT_EQ((*entries)[1].phonemes, std::vector<std::string>{"EY1"});
  EXPECT_EQ((*entries)[2].word, "ABANDON");
  EXPECT_EQ((*entries)[2].phonemes,
            (std::vector<std::string>{"AH0", "B", "AE1", "N", "D", "AH0", "N"}));
}

TEST(CmudictTest, ErrorsNameTheFileAndLine) {
  EXPECT_EQ(ParseCmudict("A  AH0\nHELLO\n", "d.txt").status().message(),
            "d.txt:2: the word 'HELLO' has no phonemes");
  EXPECT_EQ(ParseCmudict("A  AH0\n\nB  B IY3\n", "d.txt").status().message(),
            "d.txt:3: 'IY3' is not an ARPAbet phoneme (1-3 capital letters and an optional "
            "stress digit 0-2)");
  EXPECT_EQ(ParseCmudict("X  ab\n", "d.txt").status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string missing = ::testing::TempDir() + "/nowhere/dict.txt";
  EXPECT_EQ(LoadCmudict(missing).status().message(),
            missing + " does not exist: install the corpus with `bash data/install_text.sh` "
                      "(or `bash third_party/install.sh`)");
}

TEST(EmailTest, SubjectAndBody) {
  EXPECT_EQ(EmailSubjectAndBody("From: a@b\nSubject: Cheap\n pills\nX: y\n\nBuy\nnow\tplease"),
            "Cheap  pills   Buy now please");
  EXPECT_EQ(EmailSubjectAndBody("Subject: Hi\r\nTo: me\r\n\r\nBody"), "Hi     Body");
  EXPECT_EQ(EmailSubjectAndBody("no headers at all"), " no headers at all");
  EXPECT_EQ(EmailSubjectAndBody(""), " ");
}

TEST(SpamAssassinTest, LoadsGroupsInOrderWithLabels) {
  const std::string dir = ::testing::TempDir() + "/spam-assassin";
  for (const char* group : {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"}) {
    ASSERT_TRUE(MakeDirs(dir + "/" + group).ok());
  }
  ASSERT_TRUE(WriteFileAtomically(dir + "/spam-1/00002.b.txt", "second").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/spam-1/00001.a.txt", "first").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/spam-1/00001.a.json", "{}").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/easy-ham-2/00001.c.txt", "ham").ok());
  const auto emails = LoadSpamAssassin(dir);
  ASSERT_TRUE(emails.ok()) << emails.status();
  ASSERT_EQ(emails->size(), 3u);
  EXPECT_EQ((*emails)[0].group, "easy-ham-2");
  EXPECT_FALSE((*emails)[0].spam);
  EXPECT_EQ((*emails)[1].text, "first");
  EXPECT_TRUE((*emails)[1].spam);
  EXPECT_EQ((*emails)[2].file, "00002.b.txt");

  const std::string partial = ::testing::TempDir() + "/partial";
  ASSERT_TRUE(MakeDirs(partial + "/easy-ham-1").ok());
  EXPECT_EQ(LoadSpamAssassin(partial).status().message(),
            partial + "/easy-ham-2 does not exist: install the corpus with `bash "
                      "data/install_text.sh` (or `bash third_party/install.sh`)");
  const std::string empty = ::testing::TempDir() + "/empty";
  for (const char* group : {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"}) {
    ASSERT_TRUE(MakeDirs(empty + "/" + group).ok());
  }
  EXPECT_EQ(LoadSpamAssassin(empty).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gradway::data
