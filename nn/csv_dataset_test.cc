#include "nn/csv_dataset.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_util.h"
#include "gtest/gtest.h"
#include "nn/layers.h"
#include "nn/losses.h"
#include "nn/model.h"
#include "nn/optimizers.h"

namespace gradway {
namespace nn {
namespace {

std::string WriteCsv(const std::string& name, const std::string& text) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
  EXPECT_TRUE(data::WriteFileAtomically(path, text).ok());
  return path;
}

TEST(CsvTensors, ShapesPerLabelMode) {
  const std::string path =
      WriteCsv("modes.csv", "a,b,kind,c\n1,2,cat,3\n4,5,dog,6\n7,8,cat,9\n");
  absl::StatusOr<CsvTensors> t =
      ReadCsvTensors(path, CsvOptions().LabelColumn("kind").LabelMode("int"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->x.shape(), (Shape{3, 3}));
  EXPECT_EQ(t->x.ToVector(), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(t->y.shape(), (Shape{3}));
  EXPECT_EQ(t->y.ToVector(), (std::vector<float>{0, 1, 0}));
  EXPECT_EQ(t->feature_names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(t->classes, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(t->num_classes, 2);

  t = ReadCsvTensors(path, CsvOptions().LabelColumn("kind").LabelMode("categorical"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->y.shape(), (Shape{3, 2}));
  EXPECT_EQ(t->y.ToVector(), (std::vector<float>{1, 0, 0, 1, 1, 0}));

  t = ReadCsvTensors(path, CsvOptions().LabelColumn("c").Columns({"b", "a"}));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->x.ToVector(), (std::vector<float>{2, 1, 5, 4, 8, 7}));
  EXPECT_EQ(t->y.shape(), (Shape{3, 1}));
  EXPECT_EQ(t->y.ToVector(), (std::vector<float>{3, 6, 9}));

  t = ReadCsvTensors(path, CsvOptions().Columns({"a"}));  // no label column: no y
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->x.shape(), (Shape{3, 1}));
  EXPECT_FALSE(t->y.defined());
}

TEST(CsvTensors, ErrorsNameTheFile) {
  const std::string path = WriteCsv("bad.csv", "a,b\n1,2\n3,x\n");
  absl::Status s = ReadCsvTensors(path, CsvOptions().LabelColumn("b")).status();
  EXPECT_EQ(s.message(), path + ":3: column 2 (\"b\"): \"x\" is not a number");
  s = CsvDataset(path, CsvOptions()).status();
  EXPECT_EQ(s.message(),
            path + ": CsvDataset needs a label column (CsvOptions().LabelColumn(name))");
  s = CsvDataset(path + ".missing", CsvOptions().LabelColumn("b")).status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
}

TEST(CsvDataset, FitsALinearRegression) {
  // y = 2 a - b + 1 on a grid; a Dense(1) fits it from the CSV.
  std::string text = "a,b,y\n";
  for (int i = 0; i < 64; ++i) {
    const float a = (i % 8) * 0.25f - 1, b = (i / 8) * 0.25f - 1;
    absl::StrAppendFormat(&text, "%.9g,%.9g,%.9g\n", a, b, 2 * a - b + 1);
  }
  absl::StatusOr<std::shared_ptr<TensorDataset>> data =
      CsvDataset(WriteCsv("linear.csv", text), CsvOptions().LabelColumn("y"));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ((*data)->x_shape(), (Shape{2}));
  EXPECT_EQ((*data)->y_shape(), (Shape{1}));
  Sequential model(/*seed=*/3);
  Dense& dense = model.Add(Dense(DenseOptions(1).InputShape({2})));
  model.Compile(MeanSquaredError(), Adam(AdamOptions().LearningRate(0.05)));
  History h = model.Fit(**data, FitOptions().Epochs(60).BatchSize(16).Verbose(0));
  EXPECT_LT(h.history["loss"].back(), 1e-3);
  const std::vector<float> w = dense.kernel().ToVector();  // [2, 1]
  EXPECT_NEAR(w[0], 2, 0.05);
  EXPECT_NEAR(w[1], -1, 0.05);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
