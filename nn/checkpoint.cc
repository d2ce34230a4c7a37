#include "nn/checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/version.h"
#include "data/file_util.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gradway checkpoints assume a little-endian host"
#endif

namespace gradway {
namespace nn {
namespace {

using json = nlohmann::json;
constexpr const char* kMetadataKey = "__metadata__";

std::string Errno() { return std::strerror(errno); }

std::string ShapeJson(const json& shape) { return shape.dump(); }

// The largest header read, as the reference implementation (its MAX_HEADER_SIZE).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// A safetensors header nests three levels deep: the header, a tensor's entry, its shape
// or data_offsets (or __metadata__'s strings). Deeper JSON is refused before it is
// parsed: it could only cost memory, and printing it would recurse as deep as it nests.
constexpr int kMaxHeaderDepth = 3;

// True if the JSON text `text` nests arrays and objects deeper than `limit`.
bool NestsDeeperThan(absl::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // an escaped character, maybe a quote
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

constexpr char kFormatVersionKey[] = "format_version";
constexpr char kGradwayVersionKey[] = "gradway_version";

// A value read from a file, for an error message: escaped, cut after 40 characters.
std::string Shown(const std::string& value) {
  constexpr size_t kMax = 40;
  return absl::StrCat(absl::CHexEscape(value.substr(0, kMax)), value.size() > kMax ? "..." : "");
}

}  // namespace

void SetVersionMetadata(Metadata* metadata) {
  (*metadata)[kFormatVersionKey] = std::to_string(kCheckpointFormatVersion);
  (*metadata)[kGradwayVersionKey] = VersionString();
}

absl::Status CheckFormatVersion(const std::string& path, const Metadata& metadata) {
  auto it = metadata.find(kFormatVersionKey);
  if (it == metadata.end()) return absl::OkStatus();  // written before 1.0.0: format 1
  const std::string& text = it->second;
  // Decimal digits without a sign, spaces or leading zeros; past int64_t, newer than any.
  const bool positive = !text.empty() && text[0] != '0' &&
                        std::all_of(text.begin(), text.end(),
                                    [](char c) { return c >= '0' && c <= '9'; });
  int64_t version = std::numeric_limits<int64_t>::max();
  if (positive && absl::SimpleAtoi(text, &version) && version <= kCheckpointFormatVersion) {
    return absl::OkStatus();
  }
  auto writer = metadata.find(kGradwayVersionKey);
  const std::string written_by =
      writer == metadata.end()
          ? ""
          : absl::StrCat(" (written by gradway ", Shown(writer->second), ")");
  if (!positive) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": checkpoint format version '", Shown(text), "'", written_by,
        " is not a positive integer; gradway ", VersionString(),
        " reads format versions up to ", kCheckpointFormatVersion));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": checkpoint format version ", Shown(text), written_by, " is newer than gradway ",
      VersionString(), " reads (format versions up to ", kCheckpointFormatVersion, ")"));
}

absl::Status SaveSafetensors(const std::string& path, const NamedTensors& tensors,
                             const Metadata& metadata) {
  json header = json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == kMetadataKey || name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": invalid tensor name '", name, "'"));
    }
    if (!names.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": tensor '", name, "' given twice"));
    }
    if (!t.defined()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": tensor '", name, "' is undefined"));
    }
    uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(float);
    json shape = json::array();
    for (int64_t d : t.shape()) shape.push_back(d);
    header[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) {
    json meta = json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header[kMetadataKey] = meta;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t n = text.size();
  char size_bytes[8];
  for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<char>(n >> (8 * i));
  // The pieces are written one after another, without joining them into one buffer.
  std::vector<absl::string_view> pieces = {absl::string_view(size_bytes, 8), text};
  for (const auto& [name, t] : tensors) {
    pieces.emplace_back(reinterpret_cast<const char*>(t.data()),
                        static_cast<size_t>(t.numel()) * sizeof(float));
  }
  return data::WriteFileAtomically(path, pieces);
}

namespace {

// A tensor's header entry: where its bytes are in the data section, its name and shape.
struct TensorEntry {
  uint64_t begin, end;
  std::string name;
  Shape shape;
};

// Parses and checks tensor `name`'s header entry `v` against a data section of
// `data_size` bytes; errors name `path` and the tensor.
absl::StatusOr<TensorEntry> ParseTensorEntry(const std::string& path, const std::string& name,
                                             const json& v, uint64_t data_size) {
  auto bad = [&path](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", parts...));
  };
  if (!v.is_object()) return bad("tensor '", name, "': header entry is not an object");
  auto dtype = v.find("dtype");
  auto shape = v.find("shape");
  auto offsets = v.find("data_offsets");
  if (dtype == v.end() || shape == v.end() || offsets == v.end()) {
    return bad("tensor '", name, "': header entry needs dtype, shape and data_offsets");
  }
  if (!dtype->is_string()) return bad("tensor '", name, "': dtype is not a string");
  if (dtype->get<std::string>() != "F32") {
    return bad("tensor '", name, "': dtype ", dtype->get<std::string>(),
               " is not supported (only F32)");
  }
  if (!shape->is_array()) return bad("tensor '", name, "': shape is not an array");
  TensorEntry e;
  e.name = name;
  uint64_t numel = 1;
  for (const json& d : *shape) {
    if (!d.is_number_unsigned()) {
      return bad("tensor '", name, "': shape ", ShapeJson(*shape),
                 " has a non-integer or negative dimension");
    }
    uint64_t dim = d.get<uint64_t>();
    // A dimension must fit a Shape's int64_t even after a 0 (which makes numel 0).
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 4 / dim)) {
      return bad("tensor '", name, "': shape ", ShapeJson(*shape), " is too large");
    }
    numel *= dim;
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  if (!offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned()) {
    return bad("tensor '", name, "': data_offsets must be [begin, end]");
  }
  e.begin = (*offsets)[0].get<uint64_t>();
  e.end = (*offsets)[1].get<uint64_t>();
  if (e.begin > e.end) {
    return bad("tensor '", name, "': data_offsets [", e.begin, ", ", e.end,
               "] end before they begin");
  }
  if (e.end > data_size) {
    return bad("tensor '", name, "': data_offsets [", e.begin, ", ", e.end,
               "] out of range: the data section has ", data_size,
               " bytes (truncated file?)");
  }
  if (e.end - e.begin != numel * 4) {
    return bad("tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] hold ",
               e.end - e.begin, " bytes but shape ", ShapeJson(*shape), " F32 needs ",
               numel * 4);
  }
  return e;
}

}  // namespace

absl::StatusOr<SafetensorsContents> ReadSafetensors(const std::string& path) {
  auto bad = [&path](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", parts...));
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", Errno()));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  const uint64_t file_size = bytes.size();
  if (file_size < 8) {
    return bad("truncated file: ", file_size, " bytes, fewer than the 8-byte header size");
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  if (n > file_size - 8) {
    return bad("header size ", n, " is larger than the file (", file_size,
               " bytes): truncated or not a safetensors file");
  }
  if (n > kMaxHeaderBytes) {
    return bad("header size ", n, " is larger than the ", kMaxHeaderBytes,
               " bytes safetensors allows");
  }
  if (NestsDeeperThan(absl::string_view(bytes).substr(8, n), kMaxHeaderDepth)) {
    return bad("corrupt header: JSON nested more than ", kMaxHeaderDepth,
               " levels deep (header, tensor entry, shape)");
  }
  json header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(n),
                            nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return bad("corrupt header: not valid JSON");
  if (!header.is_object()) return bad("corrupt header: JSON is not an object");
  const uint64_t data_size = file_size - 8 - n;
  const char* data = bytes.data() + 8 + n;

  SafetensorsContents out;
  std::vector<TensorEntry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == kMetadataKey) {
      if (!v.is_object()) return bad("__metadata__ is not an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          return bad("__metadata__ value of '", m.key(), "' is not a string");
        }
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    absl::StatusOr<TensorEntry> e = ParseTensorEntry(path, name, v, data_size);
    if (!e.ok()) return e.status();
    entries.push_back(*std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].begin < entries[i - 1].end) {
      return bad("tensors '", entries[i - 1].name, "' and '", entries[i].name,
                 "' overlap in the data section");
    }
  }
  for (const TensorEntry& e : entries) {
    Tensor t = Tensor::Empty(e.shape);
    if (e.end > e.begin) std::memcpy(t.data(), data + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

absl::Status LoadSafetensorsInto(const std::string& path, const NamedTensors& targets,
                                 const std::string& ignore_prefix, Metadata* metadata) {
  absl::StatusOr<SafetensorsContents> contents = ReadSafetensors(path);
  if (!contents.ok()) return contents.status();
  absl::Status st = CopyTensorsInto(path, contents->tensors, targets, ignore_prefix);
  if (st.ok() && metadata != nullptr) *metadata = contents->metadata;
  return st;
}

absl::Status CopyTensorsInto(const std::string& path, const NamedTensors& tensors,
                             const NamedTensors& targets, const std::string& ignore_prefix) {
  std::map<std::string, Tensor> file;
  for (auto& [name, t] : tensors) file[name] = t;
  std::set<std::string> wanted;
  for (const auto& [name, t] : targets) {
    wanted.insert(name);
    auto it = file.find(name);
    if (it == file.end()) {
      return absl::NotFoundError(absl::StrCat(path, ": tensor '", name, "' is missing"));
    }
    if (it->second.shape() != t.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": tensor '", name, "' has shape ", ShapeToString(it->second.shape()),
          " but the model expects ", ShapeToString(t.shape())));
    }
  }
  for (const auto& [name, t] : tensors) {
    if (!ignore_prefix.empty() && absl::StartsWith(name, ignore_prefix)) continue;
    if (wanted.count(name) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": unexpected tensor '", name, "' (not in the model)"));
    }
  }
  for (const auto& [name, t] : targets) {
    Tensor dst = t;
    dst.CopyFrom(file[name]);
  }
  return absl::OkStatus();
}

}  // namespace nn
}  // namespace gradway
