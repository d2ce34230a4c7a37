// Helpers for the fuzz targets (see //:fuzzing.bzl): the readers under test take a path, so
// each input is written to a scratch file first.
#ifndef GRADWAY_FUZZING_FUZZ_INPUT_H_
#define GRADWAY_FUZZING_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace gradway::fuzzing {

// Writes `size` bytes at `data` to this process's scratch file `name` and returns its
// path: under $TEST_TMPDIR in a test, else /dev/shm (no disk I/O) or $TMPDIR or /tmp.
// The same path is reused by every call with the same `name` and removed at exit.
// Aborts when the file cannot be written (a broken set-up, not a finding in the reader).
std::string WriteScratchFile(const char* name, const uint8_t* data, size_t size);

}  // namespace gradway::fuzzing

#endif  // GRADWAY_FUZZING_FUZZ_INPUT_H_
