#include "nn/backup_and_restore.h"

#include <filesystem>
#include <system_error>

#include "absl/status/statusor.h"
#include "autograd/error.h"
#include "data/file_util.h"
#include "nn/model.h"
#include "nn/training_state.h"

namespace gradway {
namespace nn {

BackupAndRestore::BackupAndRestore(BackupAndRestoreOptions options)
    : options_(std::move(options)) {
  GRADWAY_CHECK(!options_.backup_dir.empty(), "BackupAndRestore: backup_dir is empty");
  GRADWAY_CHECK(options_.save_freq >= 0, "BackupAndRestore: save_freq must be >= 0, got ",
                options_.save_freq);
}

std::string BackupAndRestore::path() const {
  return options_.backup_dir + "/backup.safetensors";
}

void BackupAndRestore::OnTrainBegin(const Logs&) {
  GRADWAY_CHECK(run() != nullptr, "BackupAndRestore: used outside Model::Fit");
  resumed_epoch_ = -1;
  resumed_batch_ = 0;
  // Data-parallel: rank 0 writes the backup; every rank restores from it (Fit then checks
  // that all ranks resumed at the same point, so the folder must be shared by all).
  if (params().rank == 0) {
    absl::Status made = data::MakeDirs(options_.backup_dir);
    if (!made.ok()) Fail("BackupAndRestore: ", made.message());
    data::RemoveStaleTemporaries(options_.backup_dir);  // of writes a crash interrupted
  }
  if (data::FileExists(path())) Restore();
}

void BackupAndRestore::OnBatchEnd(int64_t batch, const Logs&) {
  // The last batch of an epoch is saved by OnEpochEnd, with the epoch's results.
  if (options_.save_freq > 0 && model()->train_step() % options_.save_freq == 0 &&
      batch + 1 < params().steps) {
    Save();
  }
}

void BackupAndRestore::OnEpochEnd(int, const Logs&) { Save(); }

void BackupAndRestore::OnTrainEnd(const Logs&) {
  if (!options_.delete_checkpoint || params().rank != 0) return;
  absl::Status removed = data::RemoveFileDurably(path());
  if (!removed.ok()) Fail("BackupAndRestore: ", removed.message());
  std::error_code ec;
  std::filesystem::remove(options_.backup_dir, ec);  // the folder too, when now empty
}

void BackupAndRestore::Save() {
  if (params().rank != 0) return;  // data-parallel: rank 0 writes the backup
  absl::Status saved = run()->Capture().Save(path());
  if (!saved.ok()) Fail("BackupAndRestore: ", saved.message());
}

void BackupAndRestore::Restore() {
  const std::string file = path();
  absl::StatusOr<RunState> state = RunState::Load(file);
  if (!state.ok()) {
    Fail("BackupAndRestore: ", state.status().message(), " (delete it to train afresh)");
  }
  try {
    run()->Restore(*state);
  } catch (const Error& e) {
    Fail("BackupAndRestore: ", file, ": ", e.what(), " (delete it to train afresh)");
  }
  resumed_epoch_ = state->epoch;
  resumed_batch_ = state->batch;
  if (options_.verbose > 0) {
    model()->out() << "Resuming from the backup " << file << ": epoch " << state->epoch + 1
                   << ", after " << state->batch << " of its " << state->steps
                   << " batches\n";
  }
}

}  // namespace nn
}  // namespace gradway
