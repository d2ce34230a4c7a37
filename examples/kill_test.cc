// Kills //examples:mnist_cnn with SIGKILL at random moments, restarting the same command
// after each kill until it finishes (BackupAndRestore, --backup_freq=1), and checks that
// the end result equals an uninterrupted run's bit for bit: the trained model
// (--final_model), every checkpoint, history.csv (without its wall-time column), the loss
// plot and the printed test accuracy. Meanwhile a watcher copies every file under a final
// ".safetensors" name in the model folder (checkpoints and the backup), as often as it can,
// and each copy must read as a complete, valid safetensors file: no partial file is ever
// visible under a final name.
//
// Kills: GRADWAY_KILLS (default 5, as CI runs it; the full test is 20 or more:
//   bazel test //examples:kill_test --test_env=GRADWAY_KILLS=20 --test_output=all).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nn/checkpoint.h"

extern char** environ;

namespace gradway {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string Binary(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/gradway/examples/", name);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Training steps per epoch: 1000 samples in batches of 200.
constexpr int kSteps = 5;

// The training command's arguments for the run kept in `dir`.
std::vector<std::string> Command(const std::string& dir, int epochs) {
  return {Binary("mnist_cnn"),     "--train_samples=1000",
          "--test_samples=200",    absl::StrCat("--epochs=", epochs),
          "--patience=2",          "--seed=5",
          "--threads=2",           "--backup_freq=1",
          "--model_dir=" + dir + "/model", "--output_dir=" + dir + "/output",
          "--final_model=" + dir + "/final.safetensors"};
}

// Starts the command with its output appended to <dir>/log.txt; returns the pid.
pid_t Start(const std::string& dir, int epochs) {
  std::vector<std::string> args = Command(dir, epochs);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = dir + "/log.txt";
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return err == 0 ? pid : -1;
}

// Everything a finished run leaves, by relative path: history.csv without its last column
// ("seconds", wall time), the log's test accuracy line, every other file's bytes.
std::map<std::string, std::string> Results(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = fs::relative(e.path(), dir).string();
    std::string text = ReadFile(e.path());
    if (rel == "log.txt") {
      const size_t at = text.rfind(" Test Accuracy: ");
      out[rel] = at == std::string::npos ? "no accuracy line" : text.substr(at);
      continue;
    }
    if (e.path().filename() == "history.csv") {
      std::string kept;
      for (absl::string_view line : absl::StrSplit(text, '\n')) {
        absl::StrAppend(&kept, line.substr(0, line.rfind(',')), "\n");
      }
      text = kept;
    }
    out[rel] = text;
  }
  return out;
}

// Copies every ".safetensors" file of `folder` (recursively) and validates each copy until
// stopped; counts the copies and records the failures.
class Watcher {
 public:
  Watcher(std::string folder, std::string scratch)
      : folder_(std::move(folder)), scratch_(std::move(scratch)), thread_([this] { Run(); }) {}
  ~Watcher() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int checked() const { return checked_; }
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  void Run() {
    while (!stop_) {
      std::error_code ec;
      for (fs::recursive_directory_iterator it(folder_, ec), end; !ec && it != end;
           it.increment(ec)) {
        const fs::path p = it->path();
        if (p.extension() != ".safetensors") continue;  // temporaries end in .tmp.<pid>.<n>
        std::error_code copy_ec;
        fs::copy_file(p, scratch_, fs::copy_options::overwrite_existing, copy_ec);
        if (copy_ec) continue;  // replaced or removed meanwhile: nothing was visible
        absl::StatusOr<nn::SafetensorsContents> read = nn::ReadSafetensors(scratch_);
        ++checked_;
        if (!read.ok() || read->tensors.empty()) {
          failures_.push_back(absl::StrCat(p.string(), ": ", read.status().ToString()));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  std::string folder_, scratch_;
  std::atomic<bool> stop_{false};
  std::atomic<int> checked_{0};
  std::vector<std::string> failures_;
  std::thread thread_;
};

// How far the backup at `path` is: epoch * steps + batch from its header, 0 without one.
int BackupPoint(const std::string& path, int steps) {
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  if (!in.read(reinterpret_cast<char*>(&n), 8) || n > (1 << 20)) return 0;
  std::string header(n, '\0');
  if (!in.read(header.data(), n)) return 0;
  auto field = [&header](const std::string& key) {
    const size_t at = header.find("\"" + key + "\":\"");
    int v = 0;
    if (at == std::string::npos) return 0;
    const size_t begin = at + key.size() + 4;
    return absl::SimpleAtoi(header.substr(begin, header.find('"', begin) - begin), &v) ? v : 0;
  };
  return field("epoch") * steps + field("batch");
}

// The temporaries of interrupted writes in `folder` (recursively).
int Temporaries(const std::string& folder) {
  int n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end;
       it.increment(ec)) {
    n += it->path().filename().string().find(".tmp.") != std::string::npos;
  }
  return n;
}

TEST(KillTest, KilledRunsResumeToTheUninterruptedResult) {
  int kills_wanted = 5;
  if (const char* env = std::getenv("GRADWAY_KILLS")) {
    ASSERT_TRUE(absl::SimpleAtoi(env, &kills_wanted)) << "GRADWAY_KILLS=" << env;
  }
  // Enough epochs for the kills to land at different backups (12 for 20 kills, 4 for 5).
  const int epochs = std::clamp(kills_wanted * 3 / 5, 4, 12);
  const fs::path tmp = std::getenv("TEST_TMPDIR");
  const std::string ref = (tmp / "uninterrupted").string(), killed = (tmp / "killed").string();
  for (const std::string& d : {ref, killed}) {
    fs::remove_all(d);
    fs::create_directories(d);
  }

  // The uninterrupted run, and how long its start (loading the data) and training take.
  auto t0 = Clock::now();
  pid_t pid = Start(ref, epochs);
  ASSERT_GT(pid, 0);
  double startup = -1;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (startup < 0 && ReadFile(ref + "/log.txt").find("Epoch 1/") != std::string::npos) {
      startup = SecondsSince(t0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double total = SecondsSince(t0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(ref + "/log.txt");
  ASSERT_GT(startup, 0);
  const std::map<std::string, std::string> expected = Results(ref);
  ASSERT_TRUE(expected.count("final.safetensors"));

  // Killed runs. Kill i waits until the backup has reached point (i + 1) / (kills + 1) of
  // the training (so that the kills spread over all of it), then a random further delay of
  // up to one backup interval: in the middle of a training step, a validation, a write or
  // the start of the next run. Every 4th kill instead strikes as soon as a temporary file
  // appears: during a checkpoint or backup write.
  const int points = epochs * kSteps;  // backups: after each step (epoch * 5 + batch)
  const double interval = (total - startup) / (points + epochs);
  std::mt19937_64 rng(2026);
  std::uniform_real_distribution<double> share(0.0, 1.0);
  const std::string backup_file = killed + "/model/backup/backup.safetensors";
  Watcher watcher(killed + "/model", (tmp / "watched.safetensors").string());
  int kills = 0, runs = 0, during_writes = 0;
  std::string progress;  // the backup's epoch:batch after each kill ("-": none yet)
  for (;;) {
    ++runs;
    pid = Start(killed, epochs);
    ASSERT_GT(pid, 0);
    bool exited = false;
    if (kills < kills_wanted) {
      const int target = std::max(1, (kills + 1) * points / (kills_wanted + 1));
      while (!(exited = waitpid(pid, &status, WNOHANG) != 0) &&
             BackupPoint(backup_file, kSteps) < target) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      if (!exited && kills % 4 == 3) {
        while (!(exited = waitpid(pid, &status, WNOHANG) != 0) &&
               Temporaries(killed + "/model") == 0) {
        }
      } else if (!exited) {
        std::this_thread::sleep_for(std::chrono::duration<double>(share(rng) * interval));
        exited = waitpid(pid, &status, WNOHANG) != 0;
      }
      if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ++kills;
        during_writes += Temporaries(killed + "/model") > 0;  // cleaned up by the next run
        absl::StatusOr<nn::SafetensorsContents> backup =
            nn::ReadSafetensors(killed + "/model/backup/backup.safetensors");
        absl::StrAppend(&progress, kills > 1 ? " " : "",
                        backup.ok() ? absl::StrCat(backup->metadata["epoch"], ":",
                                                   backup->metadata["batch"])
                                    : "-");
        continue;
      }
    } else {
      waitpid(pid, &status, 0);
    }
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(killed + "/log.txt");
    break;
  }
  watcher.Stop();
  std::printf("uninterrupted: %.2f s (start %.2f s); %d kills in %d runs, %d during a "
              "checkpoint or backup write; %d safetensors files read while running\n"
              "the backup (epoch:batch) after each kill: %s\n",
              total, startup, kills, runs, during_writes, watcher.checked(), progress.c_str());
  EXPECT_GE(kills, kills_wanted) << "the run finished before enough kills";
  EXPECT_TRUE(watcher.failures().empty()) << watcher.failures().front();
  EXPECT_GT(watcher.checked(), kills);

  const std::string log = ReadFile(killed + "/log.txt");
  EXPECT_NE(log.find("Resuming from the backup " + killed + "/model/backup/backup.safetensors"),
            std::string::npos);
  std::map<std::string, std::string> got = Results(killed);
  for (const auto& [name, bytes] : expected) {
    auto it = got.find(name);
    if (it == got.end()) {
      ADD_FAILURE() << name << " is missing after the killed runs";
      continue;
    }
    EXPECT_TRUE(it->second == bytes) << name << " differs from the uninterrupted run's";
  }
  for (const auto& [name, bytes] : got) {
    EXPECT_TRUE(expected.count(name)) << name << " is left over by the killed runs";
  }
}

}  // namespace
}  // namespace gradway
