// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors), so
// Python can read them with `safetensors.numpy.load_file(path)` or plain numpy.
//
// File layout (all integers little-endian):
//   bytes [0, 8)        N: the header's length, an unsigned 64-bit integer
//   bytes [8, 8 + N)    the header: a UTF-8 JSON object, padded with spaces to a multiple
//                       of 8 bytes. One entry per tensor,
//                         "dense/kernel": {"dtype": "F32", "shape": [784, 128],
//                                          "data_offsets": [begin, end]}
//                       and an optional "__metadata__": {"key": "value", ...} (strings).
//   bytes [8 + N, EOF)  the data buffer: each tensor's row-major float32 values at
//                       [begin, end) relative to the buffer's start, end - begin =
//                       4 * prod(shape); tensors are contiguous and do not overlap.
// Reading it with numpy:
//   import json, struct, numpy as np
//   b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
//   header = json.loads(b[8:8 + n]); data = b[8 + n:]
//   w = {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], "<f4")
//          .reshape(v["shape"]) for k, v in header.items() if k != "__metadata__"}
//
// gradway names model parameters "layer/param" ("dense_1/kernel"); a full checkpoint adds
// the optimiser's slots as "optimizer/<slot>/<param>" ("optimizer/m/dense_1/kernel") and
// its step count and learning rate in __metadata__ ("step", "learning_rate"; for a step
// schedule, nn/schedules.h, the rate in effect, which loading recomputes from "step").
//
// Every file gradway writes (Model::SaveWeights and Save, so ModelCheckpoint's files, and
// BackupAndRestore's backups, nn/training_state.h) says in __metadata__ what it is and
// which gradway wrote it:
//   "format": "gradway" (a model checkpoint) or "gradway-backup" (a backup);
//   "format_version": "1", the layout of the file, kCheckpointFormatVersion when written;
//   "gradway_version": "1.0.0", GRADWAY_VERSION_STRING (base/version.h) of the writer.
// A file without "format_version" is format 1: files written before gradway 1.0.0 have the
// same layout. Model::Load, LoadWeights and RunState::Load refuse a format version newer
// than this gradway reads (CheckFormatVersion); ReadSafetensors and LoadSafetensorsInto
// below read any safetensors file and leave that check to their callers. The format version
// changes only by adding readers: every release reads every older format version
// (CHANGELOG.md, "Versioning rule").
//
// Writes are atomic and durable (data::WriteFileAtomically): the file is written to a fresh
// temporary beside <path>, fsync'ed, renamed over <path> and the folder fsync'ed, so a crash
// mid-write leaves the previous checkpoint intact and two saves of one path never collide.
// Reads validate everything and return absl::Status naming the file and the tensor; they
// never crash on a malformed file.
#ifndef GRADWAY_NN_CHECKPOINT_H_
#define GRADWAY_NN_CHECKPOINT_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nn/module.h"

namespace gradway {
namespace nn {

using Metadata = std::map<std::string, std::string>;

// The newest checkpoint format version this gradway writes and reads ("format_version").
constexpr int kCheckpointFormatVersion = 1;

// Sets `metadata`'s "format_version" (kCheckpointFormatVersion) and "gradway_version"
// (this library's VersionString()), as every file gradway writes has them.
void SetVersionMetadata(Metadata* metadata);

// OK when `metadata`, read from `path`, is of a format version this gradway reads: no
// "format_version" (format 1) or a positive integer up to kCheckpointFormatVersion.
// Otherwise InvalidArgument naming the file, its format version, the gradway that wrote it
// ("gradway_version", when given), this gradway's version and the newest format it reads:
// "ckpt.safetensors: checkpoint format version 2 (written by gradway 2.1.0) is newer than
// gradway 1.0.0 reads (format versions up to 1)".
absl::Status CheckFormatVersion(const std::string& path, const Metadata& metadata);

// Writes `tensors` (in order) and `metadata` to `path` atomically. Names must be unique and
// not "__metadata__". Creates no directories.
absl::Status SaveSafetensors(const std::string& path, const NamedTensors& tensors,
                             const Metadata& metadata = {});

struct SafetensorsContents {
  NamedTensors tensors;  // in file-offset order
  Metadata metadata;
};

// Reads and validates a whole safetensors file (F32 tensors only).
absl::StatusOr<SafetensorsContents> ReadSafetensors(const std::string& path);

// Copies the file's tensors into `targets` (matched by name, shapes must be equal). Tensors
// whose names start with `ignore_prefix` (if non-empty) are skipped. Errors: a target
// missing from the file, an unexpected extra tensor, a shape mismatch, or any format error;
// on error no target is modified.
absl::Status LoadSafetensorsInto(const std::string& path, const NamedTensors& targets,
                                 const std::string& ignore_prefix = "",
                                 Metadata* metadata = nullptr);

// LoadSafetensorsInto's checks and copy for `tensors` already read from `path` (named in
// errors), e.g. a file that also holds other state.
absl::Status CopyTensorsInto(const std::string& path, const NamedTensors& tensors,
                             const NamedTensors& targets, const std::string& ignore_prefix = "");

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_CHECKPOINT_H_
