#include "data/csv.h"

#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/file_util.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

// The error message of parsing `text` (named "t.csv") with `options`; "" when it parses.
std::string Error(const std::string& text, const CsvOptions& options = {}) {
  absl::StatusOr<CsvTable> t = ParseCsv(text, "t.csv", options);
  if (t.ok()) return "";
  EXPECT_TRUE(absl::IsInvalidArgument(t.status())) << t.status();
  return std::string(t.status().message());
}

TEST(Csv, FeaturesAndALabelColumnByName) {
  absl::StatusOr<CsvTable> t = ParseCsv("a,price,b\n1,10.5,-2\n3,20,4e-1\n", "t.csv",
                                        CsvOptions().LabelColumn("price"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->rows, 2);
  EXPECT_EQ(t->feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t->num_features(), 2);
  EXPECT_EQ(t->label_name, "price");
  EXPECT_EQ(t->features, (std::vector<float>{1, -2, 3, 0.4f}));
  EXPECT_EQ(t->labels, (std::vector<float>{10.5f, 20}));
  EXPECT_TRUE(t->classes.empty());

  // No label column: every column a feature, no labels.
  t = ParseCsv("x,y\n1,2\n", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->features, (std::vector<float>{1, 2}));
  EXPECT_TRUE(t->labels.empty());
  EXPECT_EQ(t->label_name, "");

  // A header alone: no rows.
  t = ParseCsv("x,y\n", "t.csv", CsvOptions().LabelColumn("y"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->rows, 0);
}

TEST(Csv, Rfc4180QuotingAndLineEndings) {
  // BOM, CRLF, quoted header and fields (a delimiter, doubled quotes and a line break
  // inside quotes, in an unused text column), a quoted number, spaces around numbers, an
  // empty line, no final line break.
  const std::string two_rows =
      "\xEF\xBB\xBF\"id\",name,\"value\"\r\n"
      "1,\"Smith, John\",\" 2.5 \"\r\n"
      "\r\n"
      "2,\"said \"\"hi\"\"\nand left\", -7";
  const std::string text = two_rows + "\r\n3,,  +8e1";
  absl::StatusOr<CsvTable> t =
      ParseCsv(text, "t.csv", CsvOptions().Columns({"value", "id"}));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->rows, 3);
  EXPECT_EQ(t->feature_names, (std::vector<std::string>{"value", "id"}));
  EXPECT_EQ(t->features, (std::vector<float>{2.5f, 1, -7, 2, 80, 3}));

  // The text column's contents reach the class labels unchanged.
  t = ParseCsv(two_rows, "t.csv",
               CsvOptions().LabelColumn("name").LabelMode("int").Columns({"id"}));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->classes, (std::vector<std::string>{"Smith, John", "said \"hi\"\nand left"}));
  EXPECT_EQ(t->labels, (std::vector<float>{0, 1}));
  EXPECT_EQ(Error(text, CsvOptions().LabelColumn("name").LabelMode("int")),
            "t.csv:6: column 2 (\"name\"): an empty class label");

  // Other delimiters; a trailing delimiter is an empty last field.
  t = ParseCsv("a;b\n1;2\n", "t.csv", CsvOptions().Delimiter(';'));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->features, (std::vector<float>{1, 2}));
  t = ParseCsv("a\tb\n1\t2\n", "t.csv", CsvOptions().Delimiter('\t'));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->features, (std::vector<float>{1, 2}));
  EXPECT_EQ(Error("a,b\n1,\n"), "t.csv:2: column 2 (\"b\"): \"\" is empty (a missing value?)");
  EXPECT_EQ(Error("a,b\n1,2,"), "t.csv:2: 3 fields, but the header (line 1) has 2 columns");
}

TEST(Csv, NumbersAreParsedExactly) {
  absl::StatusOr<CsvTable> t = ParseCsv(
      "v\n0.1\n.5\n5.\n1E3\n-0\n16777217\n3.4028235e38\n1e-50\n-1e-400\n1.17549435e-38\n",
      "t.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::vector<float> expected = {0.1f, 0.5f, 5, 1000, -0.f, 16777216.f,
                                       std::numeric_limits<float>::max(), 0, -0.f,
                                       std::numeric_limits<float>::min()};
  ASSERT_EQ(t->features.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(t->features[i], expected[i]) << i;
  EXPECT_TRUE(std::signbit(t->features[4]));
  EXPECT_TRUE(std::signbit(t->features[8]));

  EXPECT_EQ(Error("a,b\n1,2\n3,abc\n"), "t.csv:3: column 2 (\"b\"): \"abc\" is not a number");
  EXPECT_EQ(Error("a\n1,5\n"), "t.csv:2: 2 fields, but the header (line 1) has 1 column");
  EXPECT_EQ(Error("a\n\"1,5\"\n"), "t.csv:2: column 1 (\"a\"): \"1,5\" is not a number");
  EXPECT_EQ(Error("a\nnan\n"), "t.csv:2: column 1 (\"a\"): \"nan\" is not a finite number");
  EXPECT_EQ(Error("a\n-inf\n"), "t.csv:2: column 1 (\"a\"): \"-inf\" is not a finite number");
  EXPECT_EQ(Error("a\n1e39\n"), "t.csv:2: column 1 (\"a\"): \"1e39\" is beyond float's range");
  EXPECT_EQ(Error("a\n0x10\n"), "t.csv:2: column 1 (\"a\"): \"0x10\" is not a number");
  EXPECT_EQ(Error("a\n1p3\n"), "t.csv:2: column 1 (\"a\"): \"1p3\" is not a number");
  EXPECT_EQ(Error("a\n+-1\n"), "t.csv:2: column 1 (\"a\"): \"+-1\" is not a number");
  EXPECT_EQ(Error("a\n1 2\n"), "t.csv:2: column 1 (\"a\"): \"1 2\" is not a number");
  EXPECT_EQ(Error("a\n\"x\ny\"\n"), "t.csv:2: column 1 (\"a\"): \"x\\ny\" is not a number");
  const std::string long_text(60, 'z');
  EXPECT_EQ(Error("a\n" + long_text + "\n"),
            "t.csv:2: column 1 (\"a\"): \"" + long_text.substr(0, 40) + "...\" is not a number");
}

TEST(Csv, ClassLabels) {
  // Numbers: class indices, num_classes the largest + 1.
  absl::StatusOr<CsvTable> t =
      ParseCsv("x,y\n1,0\n2,3\n3,1\n", "t.csv", CsvOptions().LabelColumn("y").LabelMode("int"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->labels, (std::vector<float>{0, 3, 1}));
  EXPECT_EQ(t->num_classes, 4);
  EXPECT_TRUE(t->classes.empty());
  // Texts (any field not a number): the sorted texts are the classes.
  t = ParseCsv("x,species\n1,setosa\n2,virginica\n3,setosa\n4,\"versicolor\"\n5,2\n", "t.csv",
               CsvOptions().LabelColumn("species").LabelMode("categorical"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->classes, (std::vector<std::string>{"2", "setosa", "versicolor", "virginica"}));
  EXPECT_EQ(t->labels, (std::vector<float>{1, 3, 1, 2, 0}));
  EXPECT_EQ(t->num_classes, 4);

  const CsvOptions int_labels = CsvOptions().LabelColumn("y").LabelMode("int");
  EXPECT_EQ(Error("x,y\n1,0\n2,1.5\n", int_labels),
            "t.csv:3: column 2 (\"y\"): \"1.5\" is not a class index (a non-negative integer "
            "below 16777216)");
  EXPECT_EQ(Error("x,y\n1,-1\n", int_labels),
            "t.csv:2: column 2 (\"y\"): \"-1\" is not a class index (a non-negative integer "
            "below 16777216)");
  EXPECT_EQ(Error("x,y\n1,1e9\n", int_labels),
            "t.csv:2: column 2 (\"y\"): \"1e9\" is not a class index (a non-negative integer "
            "below 16777216)");
  // A value label must be a number.
  EXPECT_EQ(Error("x,y\n1,cat\n", CsvOptions().LabelColumn("y")),
            "t.csv:2: column 2 (\"y\"): \"cat\" is not a number");
}

TEST(Csv, StructureErrorsNameTheLineAndColumn) {
  EXPECT_EQ(Error(""), "t.csv: no header row (empty file)");
  EXPECT_EQ(Error("\n\r\n"), "t.csv: no header row (empty file)");
  EXPECT_EQ(Error("a,b,c\n1,2,3\n4,5\n"),
            "t.csv:3: 2 fields, but the header (line 1) has 3 columns");
  EXPECT_EQ(Error("\na,b\n1,2\n"), "");  // an empty line before the header
  EXPECT_EQ(Error("\na,b\n1\n"), "t.csv:3: 1 field, but the header (line 2) has 2 columns");
  EXPECT_EQ(Error("a,b\n1,2\"3\n"),
            "t.csv:2: column 2: a quote inside an unquoted field (quote the whole field and "
            "double the quotes in it)");
  EXPECT_EQ(Error("a,b\n\"1\"x,2\n"),
            "t.csv:2: column 1: 'x' after a quoted field's closing quote (a field with quotes "
            "must be quoted whole)");
  // Line numbers count the line breaks inside quoted fields.
  EXPECT_EQ(Error("a,b\n1,\"2\n\n\"\n3,\"4\n", CsvOptions().Columns({"a"})),
            "t.csv:5: column 2: a quoted field is not closed by the end of the file");
  EXPECT_EQ(Error("t,b\n\"x\ny\",2\n3,q\n", CsvOptions().Columns({"b"})),
            "t.csv:4: column 2 (\"b\"): \"q\" is not a number");
  EXPECT_EQ(Error("a,b,a\n1,2,3\n"),
            "t.csv:1: the header names column \"a\" twice (columns 1 and 3)");
}

TEST(Csv, OptionErrors) {
  const std::string text = "a,b\n1,2\n";
  EXPECT_EQ(Error(text, CsvOptions().LabelColumn("c")),
            "t.csv: the label column \"c\" is not in the header {\"a\", \"b\"}");
  EXPECT_EQ(Error(text, CsvOptions().Columns({"a", "z"})),
            "t.csv: the column \"z\" is not in the header {\"a\", \"b\"}");
  EXPECT_EQ(Error(text, CsvOptions().Columns({"a", "a"})),
            "t.csv: column \"a\" is chosen twice (as a feature twice, or as a feature and the "
            "label)");
  EXPECT_EQ(Error(text, CsvOptions().LabelColumn("a").Columns({"a"})),
            "t.csv: column \"a\" is chosen twice (as a feature twice, or as a feature and the "
            "label)");
  EXPECT_EQ(Error("a\n1\n", CsvOptions().LabelColumn("a")),
            "t.csv: no feature column: the header {\"a\"} has the label column only");
  EXPECT_EQ(Error(text, CsvOptions().LabelColumn("b").LabelMode("sparse")),
            "t.csv: label_mode must be \"value\", \"int\" or \"categorical\", not \"sparse\"");
  EXPECT_EQ(Error(text, CsvOptions().LabelMode("int")),
            "t.csv: label_mode \"int\" needs a label_column");
  EXPECT_EQ(Error(text, CsvOptions().Delimiter('"')), "t.csv: the delimiter cannot be '\\\"'");
}

TEST(ReadCsv, ReadsAFileAndNamesIt) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/data.csv");
  ASSERT_TRUE(WriteFileAtomically(path, "f,label\n0.5,1\n1.5,0\n").ok());
  absl::StatusOr<CsvTable> t = ReadCsv(path, CsvOptions().LabelColumn("label").LabelMode("int"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->features, (std::vector<float>{0.5f, 1.5f}));
  EXPECT_EQ(t->labels, (std::vector<float>{1, 0}));
  EXPECT_EQ(t->num_classes, 2);

  ASSERT_TRUE(WriteFileAtomically(path, "f,label\n0.5,1\n1.5,?\n").ok());
  absl::Status s = ReadCsv(path, CsvOptions().LabelColumn("label")).status();
  EXPECT_EQ(s.message(), path + ":3: column 2 (\"label\"): \"?\" is not a number");
  s = ReadCsv(path + ".missing").status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_NE(s.message().find(path + ".missing"), std::string::npos) << s;
}

}  // namespace
}  // namespace gradway::data
