#include "data/plot.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/file_util.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A minimal XML well-formedness check: balanced, properly nested tags, quoted attributes,
// no stray '<' or '&' in text. Returns "" when well-formed, else what is wrong.
std::string XmlProblem(const std::string& xml) {
  std::vector<std::string> stack;
  size_t i = 0;
  int roots = 0;
  auto check_text = [&](size_t from, size_t to) -> std::string {
    for (size_t k = from; k < to; ++k) {
      if (xml[k] == '&') {
        const size_t semi = xml.find(';', k);
        if (semi == std::string::npos || semi - k > 6) return "bare & at " + std::to_string(k);
      }
    }
    return "";
  };
  while (i < xml.size()) {
    const size_t lt = xml.find('<', i);
    if (lt == std::string::npos) {
      if (auto p = check_text(i, xml.size()); !p.empty()) return p;
      break;
    }
    if (auto p = check_text(i, lt); !p.empty()) return p;
    if (xml.compare(lt, 5, "<?xml") == 0) {
      const size_t end = xml.find("?>", lt);
      if (end == std::string::npos) return "unterminated <?xml";
      i = end + 2;
      continue;
    }
    const size_t gt = xml.find('>', lt);
    if (gt == std::string::npos) return "unterminated tag at " + std::to_string(lt);
    std::string tag = xml.substr(lt + 1, gt - lt - 1);
    // Quotes inside the tag must balance.
    int quotes = 0;
    for (char c : tag) quotes += c == '"';
    if (quotes % 2 != 0) return "unbalanced quotes in <" + tag + ">";
    if (tag.find('<') != std::string::npos) return "'<' inside <" + tag + ">";
    if (!tag.empty() && tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return "unexpected </" + name + ">";
      stack.pop_back();
    } else {
      const bool self_closing = !tag.empty() && tag.back() == '/';
      size_t n = 0;
      while (n < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[n])) || tag[n] == ':' || tag[n] == '-')) ++n;
      const std::string name = tag.substr(0, n);
      if (name.empty()) return "tag without a name: <" + tag + ">";
      if (stack.empty()) ++roots;
      if (!self_closing) stack.push_back(name);
    }
    i = gt + 1;
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (roots != 1) return "expected one root element, got " + std::to_string(roots);
  return "";
}

int Count(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) ++n;
  return n;
}

// No NaN or infinity leaked into the coordinates.
void ExpectFiniteNumbers(const std::string& svg) {
  std::string lower;
  for (char c : svg) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_FALSE(absl::StrContains(lower, "nan")) << svg;
  EXPECT_FALSE(absl::StrContains(lower, "inf")) << svg;
}

TEST(LossPlot, TypicalRun) {
  const std::vector<double> train = {2.3, 1.1, 0.7, 0.5, 0.41, 0.35, 0.31, 0.29, 0.27, 0.26};
  const std::vector<double> val = {1.9, 1.0, 0.72, 0.6, 0.52, 0.5, 0.49, 0.49, 0.5, 0.51};
  const std::string svg = LossPlotSvg(train, val, "MNIST CNN <loss> & accuracy");
  EXPECT_EQ(XmlProblem(svg), "") << svg;
  EXPECT_TRUE(absl::StartsWith(svg, "<?xml")) << svg;
  EXPECT_TRUE(absl::StrContains(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_EQ(Count(svg, "<polyline"), 2) << svg;
  EXPECT_EQ(Count(svg, "<polyline class=\"train\" fill=\"none\" stroke=\"#1f77b4\""), 1) << svg;
  EXPECT_EQ(Count(svg, "<polyline class=\"validation\" fill=\"none\" stroke=\"#d62728\""), 1)
      << svg;
  // Ten points per line.
  const size_t start = svg.find("points=\"");
  const size_t end = svg.find('"', start + 8);
  EXPECT_EQ(Count(svg.substr(start, end - start), ","), 10);
  // Legend, axis labels, title (escaped), x ticks 1..10.
  EXPECT_TRUE(absl::StrContains(svg, ">train</text>"));
  EXPECT_TRUE(absl::StrContains(svg, ">validation</text>"));
  EXPECT_TRUE(absl::StrContains(svg, ">epoch</text>"));
  EXPECT_TRUE(absl::StrContains(svg, ">loss</text>"));
  EXPECT_TRUE(absl::StrContains(svg, ">MNIST CNN &lt;loss&gt; &amp; accuracy</text>"));
  for (int epoch = 1; epoch <= 10; ++epoch) {
    EXPECT_TRUE(absl::StrContains(svg, absl::StrCat(">", epoch, "</text>"))) << epoch;
  }
  // Round y ticks: 0.5 and 1.0 appear among them (range about 0.26..2.3).
  EXPECT_TRUE(absl::StrContains(svg, ">0.5</text>") || absl::StrContains(svg, ">0.50</text>"))
      << svg;
  ExpectFiniteNumbers(svg);
}

TEST(LossPlot, OneEpoch) {
  const std::string svg = LossPlotSvg({0.7}, {0.8}, "one");
  EXPECT_EQ(XmlProblem(svg), "") << svg;
  EXPECT_EQ(Count(svg, "<polyline"), 0);        // A single point has no line...
  EXPECT_GE(Count(svg, "<circle"), 2 + 2);      // ...but a dot per curve (+ legend dots).
  EXPECT_TRUE(absl::StrContains(svg, ">1</text>"));
  EXPECT_FALSE(absl::StrContains(svg, ">2</text>"));
  ExpectFiniteNumbers(svg);
}

TEST(LossPlot, ConstantCurves) {
  const std::string svg = LossPlotSvg({0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, "flat");
  EXPECT_EQ(XmlProblem(svg), "") << svg;
  EXPECT_EQ(Count(svg, "<polyline"), 2);
  ExpectFiniteNumbers(svg);
  const std::string zero = LossPlotSvg({0, 0}, {}, "zero");
  EXPECT_EQ(XmlProblem(zero), "") << zero;
  ExpectFiniteNumbers(zero);
}

TEST(LossPlot, SkipsNaNAndInf) {
  const std::string svg =
      LossPlotSvg({1.0, kNaN, 0.8, 0.7, kInf, 0.5, 0.4}, {kNaN, 0.9, -kInf, 1e308}, "gaps");
  EXPECT_EQ(XmlProblem(svg), "") << svg;
  ExpectFiniteNumbers(svg);
  // Train breaks into runs {1.0}, {0.8, 0.7}, {0.5, 0.4}: two lines; validation keeps
  // only 0.9 (1e308 is too large to draw): no line but a dot.
  EXPECT_EQ(Count(svg, "class=\"train\""), 2) << svg;
  EXPECT_EQ(Count(svg, "class=\"validation\""), 0) << svg;
  EXPECT_TRUE(absl::StrContains(svg, ">validation</text>"));
}

TEST(LossPlot, NoValidationOrNoData) {
  std::string svg = LossPlotSvg({1, 0.5}, {}, "train only");
  EXPECT_EQ(XmlProblem(svg), "") << svg;
  EXPECT_TRUE(absl::StrContains(svg, ">train</text>"));
  EXPECT_FALSE(absl::StrContains(svg, ">validation</text>"));
  svg = LossPlotSvg({}, {kNaN}, "");
  EXPECT_EQ(XmlProblem(svg), "") << svg;
  EXPECT_EQ(Count(svg, "<polyline"), 0);
  ExpectFiniteNumbers(svg);
}

TEST(LossPlot, ManyEpochsHaveFewTicks) {
  std::vector<double> train(237);
  for (size_t i = 0; i < train.size(); ++i) train[i] = 1.0 / (1 + i);
  const std::string svg = LossPlotSvg(train, train, "long");
  EXPECT_EQ(XmlProblem(svg), "") << svg;
  EXPECT_LE(Count(svg, "text-anchor=\"middle\">"), 12 + 3);  // x ticks + labels + title
  EXPECT_TRUE(absl::StrContains(svg, ">1</text>"));
  ExpectFiniteNumbers(svg);
}

TEST(LossPlot, WritesFile) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/loss.svg");
  ASSERT_TRUE(WriteLossPlot(path, {1, 0.5}, {1.2, 0.7}, "t").ok());
  absl::StatusOr<std::string> text = ReadFileToString(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, LossPlotSvg({1, 0.5}, {1.2, 0.7}, "t"));
  const std::string bad = absl::StrCat(dir != nullptr ? dir : "/tmp", "/no/dir/loss.svg");
  absl::Status s = WriteLossPlot(bad, {1}, {1}, "t");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), bad)) << s;
}

TEST(PlotTest, EpochTicksAreWholeAndEvenlySpaced) {
  // 30 epochs: 1, 5, 10, ..., 30 (a step of 2.5 would label 3, 5, 8, 10, ...).
  const std::vector<double> loss(30, 0.5);
  const std::string svg = LossPlotSvg(loss, loss, "ticks");
  for (int e : {1, 5, 10, 15, 20, 25, 30}) {
    EXPECT_TRUE(absl::StrContains(svg, absl::StrCat("text-anchor=\"middle\">", e, "</text>")))
        << e;
  }
  for (int e : {3, 8, 13}) {
    EXPECT_FALSE(absl::StrContains(svg, absl::StrCat("text-anchor=\"middle\">", e, "</text>")))
        << e;
  }
}

// The y axis is named by y_label ("loss" by default): an accuracy plot says so.
TEST(LossPlot, YAxisLabel) {
  const std::string loss = LossPlotSvg({0.5, 0.3}, {0.6, 0.4}, "t");
  EXPECT_NE(loss.find(">loss</text>"), std::string::npos);
  const std::string accuracy = LossPlotSvg({0.8, 0.9}, {0.7, 0.85}, "t", "accuracy");
  EXPECT_NE(accuracy.find(">accuracy</text>"), std::string::npos);
  EXPECT_EQ(accuracy.find(">loss</text>"), std::string::npos);
}

}  // namespace
}  // namespace gradway::data
