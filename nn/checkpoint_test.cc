#include "nn/checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/version.h"
#include "gtest/gtest.h"
#include "nn/test_util.h"

namespace gradway {
namespace nn {
namespace {

using testing::TempPath;

std::string Header(const std::string& json) {
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + json;
}

std::string WriteBytes(const std::string& name, const std::string& bytes) {
  std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string LoadError(const std::string& path, const NamedTensors& targets) {
  absl::Status st = LoadSafetensorsInto(path, targets);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path), std::string::npos) << st;
  return std::string(st.message());
}

NamedTensors OneW() { return {{"w", Tensor::Zeros({2})}}; }

TEST(SafetensorsTest, RoundTripIsBitwiseAndFormatIsStandard) {
  Generator gen(1);
  NamedTensors tensors = {{"dense/kernel", Tensor::Normal({3, 4}, 0, 1, gen)},
                          {"dense/bias", Tensor::FromVector({-0.f, 1e-40f, 3.5f}, {3})},
                          {"scalar", Tensor::Scalar(7)},
                          {"empty", Tensor::Zeros({0, 5})}};
  const std::string path = TempPath("round.safetensors");
  ASSERT_TRUE(SaveSafetensors(path, tensors, {{"step", "12"}}).ok());
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
    EXPECT_EQ(entry.path().string().find(path + ".tmp."), std::string::npos)
        << "temporary left behind: " << entry.path();
  }

  // The layout by hand: header size, JSON, 8-byte alignment, then data in order.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  std::string header = bytes.substr(8, n);
  EXPECT_NE(header.find("\"dense/kernel\":{\"data_offsets\":[0,48],\"dtype\":\"F32\",\"shape\":[3,4]}"),
            std::string::npos) << header;
  EXPECT_NE(header.find("\"__metadata__\":{\"step\":\"12\"}"), std::string::npos);
  EXPECT_EQ(bytes.size(), 8 + n + 4 * (12 + 3 + 1));

  absl::StatusOr<SafetensorsContents> c = ReadSafetensors(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metadata.at("step"), "12");
  NamedTensors targets = {{"dense/kernel", Tensor::Zeros({3, 4})},
                          {"dense/bias", Tensor::Zeros({3})},
                          {"scalar", Tensor::Zeros({})},
                          {"empty", Tensor::Zeros({0, 5})}};
  ASSERT_TRUE(LoadSafetensorsInto(path, targets).ok());
  for (size_t i = 0; i < tensors.size(); ++i) {
    ASSERT_EQ(targets[i].second.numel(), tensors[i].second.numel());
    EXPECT_EQ(std::memcmp(targets[i].second.data(), tensors[i].second.data(),
                          4 * tensors[i].second.numel()), 0) << tensors[i].first;
  }
}

TEST(SafetensorsTest, OverwriteKeepsNothingBehind) {
  const std::string path = TempPath("over.safetensors");
  ASSERT_TRUE(SaveSafetensors(path, {{"w", Tensor::Ones({2})}}).ok());
  ASSERT_TRUE(SaveSafetensors(path, {{"w", Tensor::Full({2}, 3)}}).ok());
  NamedTensors w = OneW();
  ASSERT_TRUE(LoadSafetensorsInto(path, w).ok());
  EXPECT_EQ(w[0].second.ToVector(), (std::vector<float>{3, 3}));
  // A failing write (no such directory) reports the path and leaves no file.
  absl::Status st = SaveSafetensors(TempPath("no/such/dir/x.safetensors"), w);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no/such/dir/x.safetensors"), std::string::npos);
  EXPECT_FALSE(SaveSafetensors(path, {{"w", Tensor::Ones({1})}, {"w", Tensor::Ones({1})}}).ok());
  // The previous file is intact after the failed save.
  ASSERT_TRUE(LoadSafetensorsInto(path, w).ok());
  EXPECT_EQ(w[0].second.ToVector(), (std::vector<float>{3, 3}));
}

TEST(SafetensorsTest, MissingExtraAndMisshapenTensors) {
  const std::string path = TempPath("model.safetensors");
  ASSERT_TRUE(SaveSafetensors(path, {{"a", Tensor::Ones({2})}, {"b", Tensor::Ones({3})}}).ok());
  NamedTensors missing = {{"a", Tensor::Zeros({2})}, {"b", Tensor::Zeros({3})},
                          {"c", Tensor::Zeros({1})}};
  EXPECT_NE(LoadError(path, missing).find("tensor 'c' is missing"), std::string::npos);
  NamedTensors extra = {{"a", Tensor::Zeros({2})}};
  EXPECT_NE(LoadError(path, extra).find("unexpected tensor 'b'"), std::string::npos);
  NamedTensors shape = {{"a", Tensor::Zeros({2})}, {"b", Tensor::Zeros({1, 3})}};
  std::string msg = LoadError(path, shape);
  EXPECT_NE(msg.find("tensor 'b' has shape (3,) but the model expects (1, 3)"), std::string::npos)
      << msg;
  // Nothing was modified by the failed loads.
  EXPECT_EQ(missing[0].second.ToVector(), (std::vector<float>{0, 0}));
  // A skipped prefix is not "unexpected".
  EXPECT_TRUE(LoadSafetensorsInto(path, extra, "b").ok());
}

TEST(SafetensorsTest, RejectsMalformedFiles) {
  struct Case {
    const char* name;
    std::string bytes;
    const char* expect;
  };
  const std::string ok_entry = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string huge = std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}";
  std::vector<Case> cases = {
      {"empty", "", "truncated file: 0 bytes"},
      {"short", std::string("\x10\0\0", 3), "truncated file: 3 bytes"},
      {"big_header", Header(ok_entry).substr(0, 20), "is larger than the file"},
      {"huge_header", huge, "is larger than the file"},
      {"bad_json", Header("{\"w\": [1, 2") + std::string(8, '\0'), "not valid JSON"},
      {"not_object", Header("[1, 2, 3]"), "JSON is not an object"},
      {"entry_not_object", Header(R"({"w": 3})"), "tensor 'w': header entry is not an object"},
      {"no_dtype", Header(R"({"w":{"shape":[2],"data_offsets":[0,8]}})") + std::string(8, '\0'),
       "needs dtype, shape and data_offsets"},
      {"f16", Header(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})") +
                  std::string(4, '\0'),
       "tensor 'w': dtype F16 is not supported (only F32)"},
      {"neg_shape", Header(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})") +
                        std::string(8, '\0'),
       "non-integer or negative dimension"},
      {"truncated_data", Header(ok_entry) + std::string(4, '\0'),
       "tensor 'w': data_offsets [0, 8] out of range: the data section has 4 bytes"},
      {"reversed", Header(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})") +
                       std::string(8, '\0'),
       "end before they begin"},
      {"inconsistent", Header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})") +
                           std::string(12, '\0'),
       "hold 8 bytes but shape [3] F32 needs 12"},
      {"offsets_not_pair", Header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})"),
       "data_offsets must be [begin, end]"},
      {"overlap", Header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})") +
                      std::string(12, '\0'),
       "tensors 'a' and 'b' overlap"},
      {"bad_metadata", Header(R"({"__metadata__":{"step":3}})"),
       "__metadata__ value of 'step' is not a string"},
      // Found by //nn:safetensors_fuzzer: a dimension beyond int64 after a 0 (no data
      // needed) threw from Tensor::Empty; JSON nested 200,000 deep overflowed the stack
      // when the shape was printed.
      {"huge_dim", Header(R"({"w":{"dtype":"F32","shape":[0,9223372036854775808],)"
                          R"("data_offsets":[0,0]}})"),
       "tensor 'w': shape [0,9223372036854775808] is too large"},
      {"deep", Header(R"({"w":{"dtype":"F32","shape":[)" + std::string(200000, '[') +
                      std::string(200000, ']') + R"(],"data_offsets":[0,0]}})"),
       "corrupt header: JSON nested more than 3 levels deep"},
      {"deep_in_string", Header(R"({"w":{"dtype":"F32","shape":["[[[[\"{{"],)"
                                R"("data_offsets":[0,0]}})"),
       "non-integer or negative dimension"},
  };
  for (const Case& c : cases) {
    std::string path = WriteBytes(std::string(c.name) + ".safetensors", c.bytes);
    absl::StatusOr<SafetensorsContents> r = ReadSafetensors(path);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos)
        << c.name << ": " << r.status();
    EXPECT_NE(r.status().message().find(path), std::string::npos) << c.name;
  }
  absl::StatusOr<SafetensorsContents> none = ReadSafetensors(TempPath("does_not_exist"));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
}

// ---- Format versions (kCheckpointFormatVersion, SetVersionMetadata, CheckFormatVersion).

TEST(FormatVersionTest, SetVersionMetadataWritesTheFormatAndTheLibraryVersion) {
  Metadata m = {{"format", "gradway"}, {"step", "3"}};
  SetVersionMetadata(&m);
  EXPECT_EQ(m, (Metadata{{"format", "gradway"},
                         {"format_version", "1"},
                         {"gradway_version", GRADWAY_VERSION_STRING},
                         {"step", "3"}}));
  EXPECT_EQ(kCheckpointFormatVersion, 1);
}

TEST(FormatVersionTest, ReadsFilesWithoutAFormatVersionAndEveryVersionUpToTheNewest) {
  EXPECT_TRUE(CheckFormatVersion("a.safetensors", {}).ok());
  EXPECT_TRUE(CheckFormatVersion("a.safetensors", {{"format", "gradway"}}).ok());
  for (int v = 1; v <= kCheckpointFormatVersion; ++v) {
    absl::Status st = CheckFormatVersion(
        "a.safetensors", {{"format_version", std::to_string(v)}, {"gradway_version", "0.1.0"}});
    EXPECT_TRUE(st.ok()) << st;
  }
}

// CheckFormatVersion's error for "ckpt.safetensors" with `metadata`.
std::string VersionError(const Metadata& metadata) {
  absl::Status st = CheckFormatVersion("ckpt.safetensors", metadata);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  return std::string(st.message());
}

TEST(FormatVersionTest, RefusesANewerFormatNamingTheFileAndBothVersions) {
  const std::string newer = std::to_string(kCheckpointFormatVersion + 1);
  const std::string reads = absl::StrCat(" is newer than gradway ", GRADWAY_VERSION_STRING,
                                         " reads (format versions up to ",
                                         kCheckpointFormatVersion, ")");
  EXPECT_EQ(VersionError({{"format_version", newer}, {"gradway_version", "2.1.0"}}),
            absl::StrCat("ckpt.safetensors: checkpoint format version ", newer,
                         " (written by gradway 2.1.0)", reads));
  EXPECT_EQ(VersionError({{"format_version", newer}}),
            absl::StrCat("ckpt.safetensors: checkpoint format version ", newer, reads));
  // Past int64_t is newer too, not an overflow.
  EXPECT_EQ(VersionError({{"format_version", "123456789012345678901234567890"}}),
            absl::StrCat("ckpt.safetensors: checkpoint format version "
                         "123456789012345678901234567890", reads));
}

TEST(FormatVersionTest, RefusesAFormatVersionThatIsNotAPositiveInteger) {
  const std::string reads = absl::StrCat(" is not a positive integer; gradway ",
                                         GRADWAY_VERSION_STRING, " reads format versions up to ",
                                         kCheckpointFormatVersion);
  EXPECT_EQ(VersionError({{"format_version", "1.5"}, {"gradway_version", "3.0.0"}}),
            absl::StrCat("ckpt.safetensors: checkpoint format version '1.5' (written by "
                         "gradway 3.0.0)", reads));
  for (const char* bad : {"", "0", "-1", "+1", " 1", "1 ", "01", "one", "1e0", "0x1"}) {
    EXPECT_EQ(VersionError({{"format_version", bad}}),
              absl::StrCat("ckpt.safetensors: checkpoint format version '", bad, "'", reads))
        << "'" << bad << "'";
  }
  // What the file says is shown escaped and cut short.
  EXPECT_EQ(VersionError({{"format_version", "\n\x01"},
                          {"gradway_version", std::string(50, 'x')}}),
            absl::StrCat("ckpt.safetensors: checkpoint format version '\\n\\x01' (written by "
                         "gradway ", std::string(40, 'x'), "...)", reads));
}

}  // namespace
}  // namespace nn
}  // namespace gradway
