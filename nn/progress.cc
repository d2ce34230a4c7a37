#include "nn/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gradway {
namespace nn {

bool IsTerminal(const std::ostream& os) {
  return &os == &std::cout && isatty(fileno(stdout));
}

ProgressBar::ProgressBar(int64_t target, std::ostream& os, bool dynamic, int verbose)
    : target_(target), os_(os), dynamic_(dynamic), verbose_(verbose),
      start_(std::chrono::steady_clock::now()) {}

std::string ProgressBar::Bar(int64_t current, int64_t target) {
  constexpr int kWidth = 30;
  int64_t width = target > 0 ? kWidth * current / target : kWidth;
  if (width > kWidth) width = kWidth;
  std::string bar = "[";
  if (width > 0) {
    bar += std::string(width - 1, '=');
    bar += current < target ? '>' : '=';
  }
  bar += std::string(kWidth - width, '.');
  return bar + "]";
}

std::string ProgressBar::Values(const Logs& values) {
  std::string s;
  for (const auto& [k, v] : values.items()) {
    if (k == "seconds") continue;
    absl::StrAppend(&s, " - ", k, ": ");
    if (std::fabs(v) > 1e-3 || !std::isfinite(v) || v == 0) {
      absl::StrAppend(&s, absl::StrFormat("%.4f", v));
    } else {
      absl::StrAppend(&s, absl::StrFormat("%.4e", v));
    }
  }
  return s;
}

std::string ProgressBar::TimePerStep(double t) {
  if (t >= 1) return absl::StrFormat("%.0fs/step", t);
  if (t >= 1e-3) return absl::StrFormat("%.0fms/step", t * 1e3);
  return absl::StrFormat("%.0fus/step", t * 1e6);
}

std::string ProgressBar::Eta(double s) {
  int64_t e = static_cast<int64_t>(s);
  if (e > 3600) return absl::StrFormat("%d:%02d:%02d", e / 3600, (e % 3600) / 60, e % 60);
  if (e > 60) return absl::StrFormat("%d:%02d", e / 60, e % 60);
  return absl::StrFormat("%ds", e);
}

void ProgressBar::Update(int64_t current, const Logs& values) {
  if (verbose_ != 1 || !dynamic_ || current >= target_) return;
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int digits = static_cast<int>(std::to_string(target_).size());
  std::string line = absl::StrFormat("%*d/%d ", digits, current, target_);
  line += Bar(current, target_);
  double per_step = current > 0 ? elapsed / current : 0;
  line += " - ETA: " + Eta(per_step * (target_ - current));
  line += Values(values);
  size_t width = line.size();
  if (width < last_width_) line += std::string(last_width_ - width, ' ');
  last_width_ = width;
  os_ << '\r' << line << std::flush;
}

void ProgressBar::Finish(const Logs& values, double seconds, int64_t samples) {
  if (verbose_ == 0) return;
  int digits = static_cast<int>(std::to_string(target_).size());
  std::string line = absl::StrFormat("%*d/%d", digits, target_, target_);
  if (verbose_ == 1) line += " " + Bar(target_, target_);
  line += absl::StrFormat(" - %.0fs", seconds);
  if (verbose_ == 1 && target_ > 0) line += " " + TimePerStep(seconds / target_);
  line += Values(values);
  if (samples > 0 && seconds > 0) {
    line += absl::StrFormat(" - %.0f samples/s", samples / seconds);
  }
  if (dynamic_ && line.size() < last_width_) line += std::string(last_width_ - line.size(), ' ');
  if (dynamic_) os_ << '\r';
  os_ << line << '\n' << std::flush;
  last_width_ = 0;
}

void ProgbarLogger::OnEpochBegin(int epoch, const Logs&) {
  if (params().verbose == 0) return;
  os_ << "Epoch " << epoch + 1 << "/" << params().epochs << '\n' << std::flush;
  bar_ = std::make_unique<ProgressBar>(params().steps, os_, dynamic_, params().verbose);
  seen_steps_ = 0;
}

void ProgbarLogger::OnBatchEnd(int64_t batch, const Logs& logs) {
  seen_steps_ = batch + 1;
  if (bar_) bar_->Update(batch + 1, logs);
}

void ProgbarLogger::OnEpochEnd(int, const Logs& logs) {
  if (!bar_) return;
  double seconds = logs.Find("seconds").value_or(0.0);
  int64_t samples = std::min<int64_t>(seen_steps_ * params().batch_size, params().samples);
  bar_->Finish(logs, seconds, samples);
  bar_.reset();
}

}  // namespace nn
}  // namespace gradway
