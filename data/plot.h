// Training curves as SVG, in the spirit of matplotlib's default look.
#ifndef GRADWAY_DATA_PLOT_H_
#define GRADWAY_DATA_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace gradway::data {

// The SVG text of a loss plot: `train_loss[i]` and `val_loss[i]` are the losses after
// epoch i+1 (or any other per-epoch figure, named by `y_label`, e.g. "accuracy"). Train
// is drawn in blue (#1f77b4), validation in red (#d62728), each as a <polyline> (one per
// run of finite values: NaN and inf are skipped and break the line) with a dot at each
// point; x axis "epoch" with integer ticks 1..N, y axis `y_label` with round ticks, a light
// grid, a legend ("train", "validation"; a curve with no values is left out) and `title`
// on top. Either vector may be empty; one epoch and constant curves are handled.
std::string LossPlotSvg(const std::vector<double>& train_loss,
                        const std::vector<double>& val_loss, const std::string& title,
                        const std::string& y_label = "loss");

// Writes LossPlotSvg(train_loss, val_loss, title, y_label) to `path` atomically
// (temporary file + rename). Errors: the path and the system error (e.g. missing directory).
absl::Status WriteLossPlot(const std::string& path, const std::vector<double>& train_loss,
                           const std::vector<double>& val_loss, const std::string& title,
                           const std::string& y_label = "loss");

}  // namespace gradway::data

#endif  // GRADWAY_DATA_PLOT_H_
