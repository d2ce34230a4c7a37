// BackupAndRestore (Keras' callback of that name): a Fit that survives a crash or a kill.
// It saves and restores the run's state (nn/training_state.h) through Callback::run().
#ifndef GRADWAY_NN_BACKUP_AND_RESTORE_H_
#define GRADWAY_NN_BACKUP_AND_RESTORE_H_

#include <cstdint>
#include <string>
#include <utility>

#include "nn/callback.h"

namespace gradway {
namespace nn {

struct BackupAndRestoreOptions {
  BackupAndRestoreOptions(std::string backup_dir)  // NOLINT(runtime/explicit)
      : backup_dir(std::move(backup_dir)) {}
  BackupAndRestoreOptions(const char* backup_dir)  // NOLINT(runtime/explicit)
      : backup_dir(backup_dir) {}
  std::string backup_dir;
  int64_t save_freq = 0;  // 0: a backup at the end of every epoch; N: also every N steps
  bool delete_checkpoint = true;  // remove the backup when training ends normally
  int verbose = 1;                // 1 prints "Resuming from the backup ..."

  BackupAndRestoreOptions& SaveFreq(int64_t v) { save_freq = v; return *this; }
  BackupAndRestoreOptions& DeleteCheckpoint(bool v) { delete_checkpoint = v; return *this; }
  BackupAndRestoreOptions& Verbose(int v) { verbose = v; return *this; }
};

// Keras' BackupAndRestore: makes a Fit survive a crash or a kill. At the end of every epoch
// (and every save_freq steps) it writes <backup_dir>/backup.safetensors, atomically and
// durably (fsync of the file and of its folder): the weights, the optimiser's state (its
// slots, step count and learning rate; a step schedule's rate follows from the step), the
// epoch and step (which fix the batch order and the dropout masks, both drawn from the
// seed and the step), the running loss and metrics, the history so far and every other
// callback's state (Callback::SaveState: EarlyStopping's wait, best and best weights,
// ModelCheckpoint's best, CSVLogger's rows, ReduceLROnPlateau's best, wait and cooldown).
// Fit runs it after the other callbacks.
//
// A Fit started with the same callbacks and data while a backup exists resumes from it, and
// ends with the weights, history and files of an uninterrupted run, bit for bit (except the
// wall times). When training ends normally the backup is removed (delete_checkpoint), and
// backup_dir with it when nothing else is in it.
// Throws gradway::Error naming the file for an unreadable backup, or one saved by a run
// with other data, batch size, seed, model, optimiser or callbacks (delete it to start
// afresh). Throws Error for save_freq < 0 or an empty backup_dir, and for a failed write.
class BackupAndRestore : public Callback {
 public:
  BackupAndRestore(BackupAndRestoreOptions options);  // NOLINT(runtime/explicit)
  void OnTrainBegin(const Logs& logs) override;
  void OnBatchEnd(int64_t batch, const Logs& logs) override;
  void OnEpochEnd(int epoch, const Logs& logs) override;
  void OnTrainEnd(const Logs& logs) override;
  int order() const override { return kRunLast; }
  // <backup_dir>/backup.safetensors.
  std::string path() const;
  // Where the last Fit resumed: the 0-based epoch and the batches of it already done, or
  // -1 when it started afresh.
  int resumed_epoch() const { return resumed_epoch_; }
  int64_t resumed_batch() const { return resumed_batch_; }

 private:
  void Save();
  void Restore();
  BackupAndRestoreOptions options_;
  int resumed_epoch_ = -1;
  int64_t resumed_batch_ = 0;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_BACKUP_AND_RESTORE_H_
