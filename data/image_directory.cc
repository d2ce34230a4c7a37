#include "data/image_directory.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "data/file_util.h"
#include "data/jpeg.h"
#include "data/png.h"

namespace gradway::data {
namespace {

constexpr char kAllowedFormats[] = ".png, .jpg, .jpeg";

bool HasImageExtension(const std::string& name) {
  const std::string lower = absl::AsciiStrToLower(name);
  return absl::EndsWith(lower, ".png") || absl::EndsWith(lower, ".jpg") ||
         absl::EndsWith(lower, ".jpeg");
}

// A folder's entries: subfolders and image files, each sorted by name.
struct FolderEntries {
  std::vector<std::string> folders;
  std::vector<std::string> images;
  int64_t other_files = 0;
};

// Lists `folder`. Subfolders reached through a symbolic link are listed only when
// `follow_links`. An entry that cannot be looked at (e.g. a dangling link) is an error
// when its name is an image's, and ignored otherwise.
absl::StatusOr<FolderEntries> ListFolder(const std::string& folder, bool follow_links) {
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) return ErrnoStatus(errno, folder, "cannot list the folder");
  FolderEntries entries;
  absl::Status status;
  errno = 0;
  while (const dirent* e = readdir(dir)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = absl::StrCat(folder, "/", name);
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      if (HasImageExtension(name)) {
        status = ErrnoStatus(errno, path, "cannot read the image file");
        break;
      }
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      struct stat link;
      const bool is_link = lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode);
      if (!is_link || follow_links) entries.folders.push_back(name);
    } else if (S_ISREG(st.st_mode) && HasImageExtension(name)) {
      entries.images.push_back(name);
    } else {
      ++entries.other_files;
    }
    errno = 0;
  }
  if (status.ok() && errno != 0) status = ErrnoStatus(errno, folder, "cannot list the folder");
  closedir(dir);
  if (!status.ok()) return status;
  std::sort(entries.folders.begin(), entries.folders.end());
  std::sort(entries.images.begin(), entries.images.end());
  return entries;
}

// The image files under a class folder, in Keras' order (os.walk's folders sorted by
// path, so "c/a-b" before "c/a/x"; each folder's files sorted by name). A folder reached
// twice through links (or a loop of them) is listed once.
absl::Status ListClassFiles(const std::string& class_folder, bool follow_links,
                            std::vector<std::string>* paths) {
  std::vector<std::pair<std::string, std::vector<std::string>>> found;  // folder, its images
  std::vector<std::string> pending = {class_folder};
  std::set<std::pair<dev_t, ino_t>> seen;
  while (!pending.empty()) {
    std::string folder = std::move(pending.back());
    pending.pop_back();
    struct stat st;
    if (stat(folder.c_str(), &st) == 0 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    absl::StatusOr<FolderEntries> entries = ListFolder(folder, follow_links);
    if (!entries.ok()) return entries.status();
    for (const std::string& f : entries->folders) pending.push_back(folder + "/" + f);
    found.emplace_back(std::move(folder), std::move(entries->images));
  }
  std::sort(found.begin(), found.end());  // the class folder, a prefix of the others, first
  for (const auto& [folder, images] : found) {
    for (const std::string& f : images) paths->push_back(folder + "/" + f);
  }
  return absl::OkStatus();
}

// "89 50 4e 47" for the first bytes of a file.
std::string HexStart(const std::string& bytes) {
  std::vector<std::string> hex;
  for (unsigned char c : bytes) hex.push_back(absl::StrFormat("%02x", c));
  return absl::StrJoin(hex, " ");
}

enum class Format { kPng, kJpeg };

// What the file at `path` holds, from its first bytes.
absl::StatusOr<Format> Sniff(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return ErrnoStatus(errno, path, "cannot open the image file");
  char start[8];
  const size_t n = std::fread(start, 1, sizeof(start), f);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) return ErrnoStatus(err, path, "cannot read the image file");
  const std::string bytes(start, n);
  if (bytes == "\x89PNG\r\n\x1a\n") return Format::kPng;
  if (n >= 3 && bytes.compare(0, 3, "\xff\xd8\xff") == 0) return Format::kJpeg;
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": not a PNG or JPEG image (",
      n == 0 ? "it is empty" : absl::StrCat("it starts with ", HexStart(bytes)), ")"));
}

// The classes: `wanted` (each a subfolder, once) or every subfolder of `directory`.
absl::StatusOr<std::vector<std::string>> ClassNames(const std::string& directory,
                                                    const std::vector<std::string>& wanted) {
  absl::StatusOr<FolderEntries> top = ListFolder(directory, /*follow_links=*/true);
  if (!top.ok()) return top.status();
  if (top->folders.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        directory, ": no class subfolders (one folder per class, holding its images, is "
                   "expected",
        top->images.empty() ? ""
                            : absl::StrFormat("; the %d image files in the folder itself are "
                                              "not in one",
                                              top->images.size()),
        ")"));
  }
  if (wanted.empty()) return top->folders;
  const std::set<std::string> have(top->folders.begin(), top->folders.end());
  std::set<std::string> named;
  for (const std::string& name : wanted) {
    if (!have.count(name) || !named.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          directory, ": class_names {", absl::StrJoin(wanted, ", "),
          "} must name distinct subfolders, and '", name, "' ",
          have.count(name) ? "is named twice" : "is not one",
          "; the subfolders are {", absl::StrJoin(top->folders, ", "), "}"));
    }
  }
  return wanted;
}

}  // namespace

int ChannelsOf(const std::string& color_mode) {
  if (color_mode == "grayscale") return 1;
  if (color_mode == "rgb") return 3;
  if (color_mode == "rgba") return 4;
  return 0;
}

absl::Status CheckImageDirectoryOptions(const ImageDirectoryOptions& o) {
  auto fail = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (ChannelsOf(o.color_mode) == 0) {
    return fail("color_mode must be \"grayscale\", \"rgb\" or \"rgba\", not \"", o.color_mode,
                "\"");
  }
  if (o.label_mode != "int" && o.label_mode != "categorical" && o.label_mode != "binary") {
    return fail("label_mode must be \"int\", \"categorical\" or \"binary\", not \"",
                o.label_mode, "\"");
  }
  if (o.height <= 0 || o.width <= 0) {
    return fail("image_size must be positive, not (", o.height, ", ", o.width, ")");
  }
  if (!(o.validation_split >= 0 && o.validation_split < 1)) {
    return fail("validation_split must be between 0 and 1 (0: no split), not ",
                o.validation_split);
  }
  if ((o.validation_split > 0) != !o.subset.empty()) {
    return fail("subset and validation_split go together: subset \"", o.subset,
                "\" with validation_split ", o.validation_split);
  }
  if (!o.subset.empty() && o.subset != "training" && o.subset != "validation" &&
      o.subset != "both") {
    return fail("subset must be \"training\", \"validation\" or \"both\", not \"", o.subset,
                "\"");
  }
  if (o.validation_split > 0 && o.shuffle && !o.seed.has_value()) {
    return fail("validation_split with shuffle needs a seed, so that the training and "
                "validation subsets of separate calls do not overlap");
  }
  if (o.cache_bytes < 0) return fail("cache_bytes must be >= 0, not ", o.cache_bytes);
  return absl::OkStatus();
}

absl::StatusOr<ImageDirectoryListing> ListImageDirectory(const std::string& directory,
                                                         const ImageDirectoryOptions& options) {
  if (absl::Status s = CheckImageDirectoryOptions(options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(directory, ": ", s.message()));
  }
  if (!DirExists(directory)) {
    struct stat st;
    if (stat(directory.c_str(), &st) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(directory, ": not a folder"));
    }
    return absl::NotFoundError(absl::StrCat(directory, ": no such folder"));
  }
  ImageDirectoryListing out;
  absl::StatusOr<std::vector<std::string>> classes = ClassNames(directory, options.class_names);
  if (!classes.ok()) return classes.status();
  out.class_names = std::move(*classes);
  if (options.label_mode == "binary" && out.class_names.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        directory, ": label_mode \"binary\" needs exactly 2 classes, not ",
        out.class_names.size(), " {", absl::StrJoin(out.class_names, ", "), "}"));
  }
  ImageFiles all;
  for (size_t c = 0; c < out.class_names.size(); ++c) {
    absl::Status s = ListClassFiles(absl::StrCat(directory, "/", out.class_names[c]),
                                    options.follow_links, &all.paths);
    if (!s.ok()) return s;
    all.labels.resize(all.paths.size(), static_cast<int>(c));
  }
  if (all.paths.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "No images found in directory ", directory, " (in its ", out.class_names.size(),
        " class folders {", absl::StrJoin(out.class_names, ", "),
        "}). Allowed formats: ", kAllowedFormats));
  }
  for (const std::string& path : all.paths) {
    if (absl::StatusOr<Format> f = Sniff(path); !f.ok()) return f.status();
  }
  out.found = all.size();

  std::vector<int64_t> order(all.paths.size());
  std::iota(order.begin(), order.end(), 0);
  if (options.shuffle) {
    // Fisher-Yates with unbiased draws from mt19937_64, as nn's ShuffledOrder.
    std::mt19937_64 engine(options.seed.value_or(0));
    for (int64_t i = out.found - 1; i > 0; --i) {
      const uint64_t n = static_cast<uint64_t>(i + 1);
      const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
      uint64_t x;
      do {
        x = engine();
      } while (x >= limit);
      std::swap(order[i], order[x % n]);
    }
  }
  const int64_t validation = static_cast<int64_t>(options.validation_split * out.found);
  for (int64_t k = 0; k < out.found; ++k) {
    ImageFiles& part = k < out.found - validation ? out.training : out.validation;
    part.paths.push_back(std::move(all.paths[order[k]]));
    part.labels.push_back(all.labels[order[k]]);
  }
  return out;
}

absl::StatusOr<Image> ReadImageFile(const std::string& path, int channels) {
  absl::StatusOr<Format> format = Sniff(path);
  if (!format.ok()) return format.status();
  return *format == Format::kPng ? ReadPng(path, channels) : ReadJpeg(path, channels);
}

ImageLoader::ImageLoader(std::vector<std::string> paths, const ImageDirectoryOptions& options)
    : paths_(std::move(paths)),
      height_(options.height),
      width_(options.width),
      channels_(ChannelsOf(options.color_mode)),
      scale_(options.scale),
      offset_(options.offset),
      cache_limit_(options.cache_bytes) {
  if (cache_limit_ > 0) cache_.resize(paths_.size());
}

absl::Status ImageLoader::Load(int64_t i, float* out) const {
  if (i < 0 || i >= size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ImageLoader: image %d of %d does not exist", i, size()));
  }
  std::shared_ptr<const Image> image;
  if (cache_limit_ > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    image = cache_[i];
  }
  if (image == nullptr) {
    absl::StatusOr<Image> decoded = ReadImageFile(paths_[i], channels_);
    if (!decoded.ok()) return decoded.status();
    image = std::make_shared<const Image>(std::move(*decoded));
    const int64_t bytes = static_cast<int64_t>(image->pixels.size());
    if (cache_limit_ > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cache_[i] == nullptr && cached_bytes_ + bytes <= cache_limit_) {
        cache_[i] = image;
        cached_bytes_ += bytes;
        ++cached_images_;
      }
    }
  }
  if (absl::Status s = ResizeBilinear(*image, height_, width_, out); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(paths_[i], ": ", s.message()));
  }
  if (scale_ != 1.f || offset_ != 0.f) {
    const int64_t n = static_cast<int64_t>(height_) * width_ * channels_;
    for (int64_t k = 0; k < n; ++k) out[k] = out[k] * scale_ + offset_;
  }
  return absl::OkStatus();
}

int64_t ImageLoader::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_bytes_;
}

int64_t ImageLoader::cached_images() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_images_;
}

}  // namespace gradway::data
