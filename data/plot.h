// Training curves as SVG, in the spirit of matplotlib's default look.
#ifndef GRADWAY_DATA_PLOT_H_
#define GRADWAY_DATA_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace gradway::data {

// The SVG text of a loss plot: `train_loss[i]` and `val_loss[i]` are the losses after
// epoch i+1. Train loss is drawn in blue (#1f77b4), validation loss in red (#d62728),
// each as a <polyline> (one per run of finite values: NaN and inf are skipped and break
// the line) with a dot at each point; x axis "epoch" with integer ticks 1..N, y axis
// "loss" with round ticks, a light grid, a legend ("train", "validation"; a curve with no
// values is left out) and `title` on top. Either vector may be empty; one epoch and
// constant curves are handled.
std::string LossPlotSvg(const std::vector<double>& train_loss,
                        const std::vector<double>& val_loss, const std::string& title);

// Writes LossPlotSvg(train_loss, val_loss, title) to `path` atomically (temporary file +
// rename). Errors: the path and the system error (e.g. missing directory).
absl::Status WriteLossPlot(const std::string& path, const std::vector<double>& train_loss,
                           const std::vector<double>& val_loss, const std::string& title);

}  // namespace gradway::data

#endif  // GRADWAY_DATA_PLOT_H_
