#include "data/plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_util.h"

namespace gradway::data {
namespace {

// Figure geometry in pixels: matplotlib's default 6.4x4.8 in figure at 100 dpi with its
// default subplot margins (left .125, right .9, bottom .11, top .88).
constexpr double kWidth = 640, kHeight = 480;
constexpr double kLeft = 80, kRight = 576, kTop = 57.6, kBottom = 427.2;
constexpr char kTrainColor[] = "#1f77b4";  // matplotlib tab:blue
constexpr char kValColor[] = "#d62728";    // matplotlib tab:red
constexpr char kFont[] = "DejaVu Sans, Bitstream Vera Sans, Arial, Helvetica, sans-serif";

// Values that are drawn: finite and small enough that differences stay finite.
bool IsPlottable(double x) { return std::isfinite(x) && std::fabs(x) <= 1e300; }

struct Range {
  double lo, hi;
};

// A "nice" tick step (1, 2, 2.5 or 5 times a power of ten) giving at most ~`max_ticks`
// ticks over `span`.
double NiceStep(double span, int max_ticks) {
  const double rough = span / max_ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * magnitude >= rough) return m * magnitude;
  }
  return 10.0 * magnitude;
}

// Ticks k*step inside [lo, hi].
std::vector<double> Ticks(Range r, double step) {
  std::vector<double> ticks;
  if (!(step > 0) || !std::isfinite(step)) return ticks;
  for (double k = std::ceil(r.lo / step - 1e-9);
       k * step <= r.hi + step * 1e-9 && ticks.size() < 100; k += 1) {
    ticks.push_back(k * step);
  }
  return ticks;
}

// Decimals needed to print multiples of `step` distinctly.
int Decimals(double step) {
  int decimals = 0;
  while (decimals < 10 &&
         std::fabs(step * std::pow(10.0, decimals) - std::round(step * std::pow(10.0, decimals))) >
             1e-6 * step * std::pow(10.0, decimals)) {
    ++decimals;
  }
  return decimals;
}

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

bool HasFinite(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), IsPlottable);
}

// One curve: a polyline per run of finite values, and a dot at each finite point.
std::string Curve(const std::vector<double>& values, const char* color, const char* label,
                  Range xr, Range yr) {
  auto px = [&](double epoch) { return kLeft + (epoch - xr.lo) / (xr.hi - xr.lo) * (kRight - kLeft); };
  auto py = [&](double v) { return kBottom - (v - yr.lo) / (yr.hi - yr.lo) * (kBottom - kTop); };
  std::string lines, dots;
  std::string points;
  int run = 0;
  auto flush = [&] {
    if (run >= 2) {
      absl::StrAppend(&lines, "  <polyline class=\"", label, "\" fill=\"none\" stroke=\"",
                      color, "\" stroke-width=\"2\" stroke-linejoin=\"round\" "
                      "stroke-linecap=\"round\" points=\"", points, "\"/>\n");
    }
    points.clear();
    run = 0;
  };
  for (size_t i = 0; i < values.size(); ++i) {
    if (!IsPlottable(values[i])) {
      flush();
      continue;
    }
    const double x = px(static_cast<double>(i + 1)), y = py(values[i]);
    absl::StrAppend(&points, run > 0 ? " " : "", absl::StrFormat("%.2f,%.2f", x, y));
    ++run;
    absl::StrAppend(&dots, absl::StrFormat("    <circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\"/>\n", x, y));
  }
  flush();
  if (values.size() > 60) dots.clear();  // Dots only help when there are few epochs.
  std::string out = lines;
  if (!dots.empty()) {
    absl::StrAppend(&out, "  <g fill=\"", color, "\">\n", dots, "  </g>\n");
  }
  return out;
}

}  // namespace

std::string LossPlotSvg(const std::vector<double>& train_loss,
                        const std::vector<double>& val_loss, const std::string& title,
                        const std::string& y_label) {
  const int epochs = static_cast<int>(std::max<size_t>({train_loss.size(), val_loss.size(), 1}));

  // x: epochs 1..N with matplotlib's 5% margins; a single epoch gets [0.5, 1.5].
  Range xr = epochs == 1 ? Range{0.5, 1.5}
                         : Range{1 - 0.05 * (epochs - 1), epochs + 0.05 * (epochs - 1)};
  // Every epoch up to 12 epochs; beyond, multiples of a round step (plus epoch 1 when the
  // step is 5 or more, so that the first epoch is labelled without crowding).
  double xstep = std::max(1.0, NiceStep(std::max(1, epochs - 1), 12));
  if (xstep != std::floor(xstep)) xstep = 2 * xstep;  // epochs are whole: 2.5 -> 5, 25 -> 50
  std::vector<double> xticks;
  if (xstep >= 5) xticks.push_back(1);
  for (double t : Ticks({1, static_cast<double>(epochs)}, xstep)) {
    if (t > 1 || (t == 1 && xticks.empty())) xticks.push_back(t);
  }

  // y: finite values with 5% margins; constant curves get a band around the value.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* v : {&train_loss, &val_loss}) {
    for (double x : *v) {
      if (IsPlottable(x)) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
    }
  }
  if (!(lo <= hi)) {
    lo = 0;
    hi = 1;
  } else if (hi - lo <= 1e-12 * std::max(1.0, std::fabs(hi))) {
    const double pad = std::fabs(hi) > 0 ? 0.05 * std::fabs(hi) : 0.05;
    lo -= pad;
    hi += pad;
  }
  const double margin = 0.05 * (hi - lo);
  Range yr{lo - margin, hi + margin};
  const double ystep = NiceStep(yr.hi - yr.lo, 8);
  const std::vector<double> yticks = Ticks(yr, ystep);
  const int ydecimals = Decimals(ystep);

  auto px = [&](double epoch) { return kLeft + (epoch - xr.lo) / (xr.hi - xr.lo) * (kRight - kLeft); };
  auto py = [&](double v) { return kBottom - (v - yr.lo) / (yr.hi - yr.lo) * (kBottom - kTop); };

  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\" font-family=\"%s\">\n"
      "  <rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n",
      kWidth, kHeight, kWidth, kHeight, kFont, kWidth, kHeight);

  // Grid, then the axes' ticks and labels.
  std::string grid = "  <g stroke=\"#b0b0b0\" stroke-width=\"0.8\" stroke-opacity=\"0.6\">\n";
  std::string ticks = "  <g stroke=\"#000000\" stroke-width=\"1.1\">\n";
  std::string labels = "  <g font-size=\"13\" fill=\"#000000\">\n";
  for (double t : xticks) {
    const double x = px(t);
    absl::StrAppend(&grid, absl::StrFormat("    <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n",
                                           x, kTop, x, kBottom));
    absl::StrAppend(&ticks, absl::StrFormat("    <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n",
                                            x, kBottom, x, kBottom + 5));
    absl::StrAppend(&labels, absl::StrFormat(
        "    <text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%d</text>\n", x, kBottom + 20,
        static_cast<int64_t>(std::llround(t))));
  }
  for (double t : yticks) {
    const double y = py(t);
    absl::StrAppend(&grid, absl::StrFormat("    <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n",
                                           kLeft, y, kRight, y));
    absl::StrAppend(&ticks, absl::StrFormat("    <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n",
                                            kLeft - 5, y, kLeft, y));
    const double shown = std::fabs(t) < ystep * 1e-6 ? 0.0 : t;  // no "-0.00"
    absl::StrAppend(&labels, absl::StrFormat(
        "    <text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%.*f</text>\n", kLeft - 8, y + 4.5,
        ydecimals, shown));
  }
  absl::StrAppend(&svg, grid, "  </g>\n");

  // Curves, clipped to the axes.
  absl::StrAppend(&svg, absl::StrFormat(
      "  <clipPath id=\"axes\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/></clipPath>\n"
      "  <g clip-path=\"url(#axes)\">\n",
      kLeft, kTop, kRight - kLeft, kBottom - kTop));
  absl::StrAppend(&svg, Curve(train_loss, kTrainColor, "train", xr, yr));
  absl::StrAppend(&svg, Curve(val_loss, kValColor, "validation", xr, yr));
  absl::StrAppend(&svg, "  </g>\n");

  // Frame (matplotlib's four spines), ticks, tick labels, axis labels, title.
  absl::StrAppend(&svg, absl::StrFormat(
      "  <rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
      "stroke=\"#000000\" stroke-width=\"1.1\"/>\n",
      kLeft, kTop, kRight - kLeft, kBottom - kTop));
  absl::StrAppend(&svg, ticks, "  </g>\n", labels, "  </g>\n");
  absl::StrAppend(&svg, absl::StrFormat(
      "  <text x=\"%.2f\" y=\"%.2f\" font-size=\"14\" text-anchor=\"middle\">epoch</text>\n"
      "  <text x=\"%.2f\" y=\"%.2f\" font-size=\"14\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 %.2f %.2f)\">%s</text>\n"
      "  <text x=\"%.2f\" y=\"%.2f\" font-size=\"16\" text-anchor=\"middle\">%s</text>\n",
      (kLeft + kRight) / 2, kBottom + 42, 24.0, (kTop + kBottom) / 2, 24.0,
      (kTop + kBottom) / 2, Escape(y_label), (kLeft + kRight) / 2, kTop - 12, Escape(title)));

  // Legend in the upper right corner, one row per curve that has values.
  std::vector<std::pair<const char*, const char*>> entries;
  if (HasFinite(train_loss)) entries.push_back({kTrainColor, "train"});
  if (HasFinite(val_loss)) entries.push_back({kValColor, "validation"});
  if (!entries.empty()) {
    const double w = 118, row = 22, h = 10 + row * entries.size();
    const double x0 = kRight - 10 - w, y0 = kTop + 10;
    absl::StrAppend(&svg, absl::StrFormat(
        "  <g class=\"legend\">\n"
        "    <rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" rx=\"3\" "
        "fill=\"#ffffff\" fill-opacity=\"0.8\" stroke=\"#cccccc\"/>\n",
        x0, y0, w, h));
    for (size_t i = 0; i < entries.size(); ++i) {
      const double y = y0 + 5 + row * (i + 0.5);
      absl::StrAppend(&svg, absl::StrFormat(
          "    <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
          "stroke-width=\"2\"/>\n"
          "    <circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n"
          "    <text x=\"%.2f\" y=\"%.2f\" font-size=\"13\">%s</text>\n",
          x0 + 10, y, x0 + 38, y, entries[i].first, x0 + 24, y, entries[i].first, x0 + 46,
          y + 4.5, entries[i].second));
    }
    absl::StrAppend(&svg, "  </g>\n");
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

absl::Status WriteLossPlot(const std::string& path, const std::vector<double>& train_loss,
                           const std::vector<double>& val_loss, const std::string& title,
                           const std::string& y_label) {
  return WriteFileAtomically(path, LossPlotSvg(train_loss, val_loss, title, y_label));
}

}  // namespace gradway::data
