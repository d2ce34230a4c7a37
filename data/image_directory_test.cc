#include "data/image_directory.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/file_util.h"
#include "data/image.h"
#include "data/jpeg.h"
#include "data/png.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

// A fresh folder under the test's temporary folder: <name>.XXXXXX.
std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name, ".XXXXXX");
  EXPECT_NE(mkdtemp(dir.data()), nullptr) << dir;
  return dir;
}

// A w x h gray image whose pixels depend on `seed`.
std::vector<uint8_t> Pixels(int w, int h, int seed) {
  std::vector<uint8_t> p(static_cast<size_t>(w) * h);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 7 + seed * 31);
  return p;
}

void Png(const std::string& path, int w = 5, int h = 4, int seed = 0) {
  ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/'))).ok());
  ASSERT_TRUE(WriteGrayPng(path, Pixels(w, h, seed).data(), w, h).ok());
}

void Jpeg(const std::string& path, int w = 5, int h = 4, int seed = 0) {
  ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/'))).ok());
  ASSERT_TRUE(WriteJpeg(path, Pixels(w, h, seed).data(), w, h, 1).ok());
}

// Paths relative to `dir`.
std::vector<std::string> Relative(const std::string& dir, const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const std::string& p : paths) out.push_back(p.substr(dir.size() + 1));
  return out;
}

TEST(ListImageDirectory, ClassesFilesAndOrder) {
  const std::string dir = FreshDir("order");
  Png(dir + "/beta/b.png");
  Jpeg(dir + "/beta/A.JPG");
  Png(dir + "/alpha/2.png");
  Png(dir + "/alpha/10.png");
  Jpeg(dir + "/alpha/z.jpeg");
  Png(dir + "/alpha/sub/x/1.png");
  Png(dir + "/alpha/sub-b/1.png");  // '-' sorts before '/': Keras' os.walk order
  Png(dir + "/alpha/sub/0.Png");
  ASSERT_TRUE(WriteFileAtomically(dir + "/alpha/notes.txt", "not an image").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/alpha/pic.gif", "GIF89a").ok());
  ASSERT_TRUE(MakeDirs(dir + "/gamma").ok());  // a class with no images
  Png(dir + "/top.png");                        // not in a class folder: ignored

  absl::StatusOr<ImageDirectoryListing> l =
      ListImageDirectory(dir, ImageDirectoryOptions().Shuffle(false));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->class_names, (std::vector<std::string>{"alpha", "beta", "gamma"}));
  EXPECT_EQ(l->found, 8);
  EXPECT_EQ(Relative(dir, l->training.paths),
            (std::vector<std::string>{"alpha/10.png", "alpha/2.png", "alpha/z.jpeg",
                                      "alpha/sub/0.Png", "alpha/sub-b/1.png",
                                      "alpha/sub/x/1.png", "beta/A.JPG", "beta/b.png"}));
  EXPECT_EQ(l->training.labels, (std::vector<int>{0, 0, 0, 0, 0, 0, 1, 1}));
  EXPECT_TRUE(l->validation.paths.empty());

  // Named classes: those only, in the order given.
  l = ListImageDirectory(dir, ImageDirectoryOptions().Shuffle(false).ClassNames({"beta", "alpha"}));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->class_names, (std::vector<std::string>{"beta", "alpha"}));
  EXPECT_EQ(Relative(dir, l->training.paths)[0], "beta/A.JPG");
  EXPECT_EQ(l->training.labels, (std::vector<int>{0, 0, 1, 1, 1, 1, 1, 1}));
}

TEST(ListImageDirectory, SeededShuffleAndComplementarySplit) {
  const std::string dir = FreshDir("split");
  for (int i = 0; i < 23; ++i) Png(absl::StrCat(dir, "/c", i % 3, "/", i, ".png"));
  const auto options = ImageDirectoryOptions().ValidationSplit(0.3).Subset("both").Seed(42);
  absl::StatusOr<ImageDirectoryListing> a = ListImageDirectory(dir, options);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->found, 23);
  EXPECT_EQ(a->validation.size(), 6);  // floor(0.3 * 23), as Keras' int(0.3 * 23)
  EXPECT_EQ(a->training.size(), 17);

  // Disjoint and together every file once; labels follow their files.
  std::set<std::string> all(a->training.paths.begin(), a->training.paths.end());
  all.insert(a->validation.paths.begin(), a->validation.paths.end());
  EXPECT_EQ(all.size(), 23u);
  for (const ImageFiles* part : {&a->training, &a->validation}) {
    for (int64_t i = 0; i < part->size(); ++i) {
      EXPECT_CONTAINS(part->paths[i], absl::StrCat("/c", part->labels[i], "/"));
    }
  }
  // Shuffled: not class by class.
  EXPECT_FALSE(std::is_sorted(a->training.labels.begin(), a->training.labels.end()));

  // The same seed: the same subsets (a "training" call and a "validation" call complement
  // each other); another seed: others.
  absl::StatusOr<ImageDirectoryListing> b = ListImageDirectory(dir, options);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->training.paths, a->training.paths);
  EXPECT_EQ(b->validation.paths, a->validation.paths);
  absl::StatusOr<ImageDirectoryListing> c =
      ListImageDirectory(dir, ImageDirectoryOptions(options).Seed(43));
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->training.paths, a->training.paths);

  // Unshuffled split: the last 6 files in listing order.
  absl::StatusOr<ImageDirectoryListing> d = ListImageDirectory(
      dir, ImageDirectoryOptions().Shuffle(false).ValidationSplit(0.3).Subset("training"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->validation.labels, (std::vector<int>(6, 2)));
  EXPECT_EQ(Relative(dir, d->validation.paths).back(), "c2/8.png");

  // No seed, no split: shuffled with seed 0, the same every time.
  absl::StatusOr<ImageDirectoryListing> e = ListImageDirectory(dir, ImageDirectoryOptions());
  absl::StatusOr<ImageDirectoryListing> f =
      ListImageDirectory(dir, ImageDirectoryOptions().Seed(0));
  ASSERT_TRUE(e.ok() && f.ok());
  EXPECT_EQ(e->training.paths, f->training.paths);
}

TEST(ListImageDirectory, Links) {
  const std::string dir = FreshDir("links");
  Png(dir + "/cls/a.png");
  Png(dir + "/elsewhere/b.png");
  ASSERT_EQ(symlink((dir + "/elsewhere").c_str(), (dir + "/cls/linked").c_str()), 0);
  ASSERT_EQ(symlink(dir.c_str(), (dir + "/elsewhere/loop").c_str()), 0);  // a loop
  ASSERT_EQ(symlink((dir + "/elsewhere").c_str(), (dir + "/linked_class").c_str()), 0);
  const auto options = ImageDirectoryOptions().Shuffle(false).ClassNames({"cls"});
  absl::StatusOr<ImageDirectoryListing> l = ListImageDirectory(dir, options);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(Relative(dir, l->training.paths), (std::vector<std::string>{"cls/a.png"}));
  l = ListImageDirectory(dir, ImageDirectoryOptions(options).FollowLinks(true));
  ASSERT_TRUE(l.ok()) << l.status();
  // Through the link; the loop back to the top lists no folder twice.
  EXPECT_EQ(Relative(dir, l->training.paths),
            (std::vector<std::string>{"cls/a.png", "cls/linked/b.png"}));
  // A class folder may be a link.
  l = ListImageDirectory(dir, ImageDirectoryOptions().Shuffle(false));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->class_names, (std::vector<std::string>{"cls", "elsewhere", "linked_class"}));
}

TEST(ListImageDirectory, FolderErrors) {
  const std::string missing = FreshDir("gone") + "/not_here";
  absl::Status s = ListImageDirectory(missing, {}).status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_EQ(s.message(), missing + ": no such folder");

  const std::string flat = FreshDir("flat");
  Png(flat + "/a.png");
  Png(flat + "/b.png");
  s = ListImageDirectory(flat + "/a.png", {}).status();
  EXPECT_EQ(s.message(), flat + "/a.png: not a folder");
  s = ListImageDirectory(flat, {}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_CONTAINS(s.message(), flat + ": no class subfolders");
  EXPECT_CONTAINS(s.message(), "the 2 image files in the folder itself are not in one");

  const std::string empty = FreshDir("no_images");
  ASSERT_TRUE(MakeDirs(empty + "/a").ok());
  ASSERT_TRUE(WriteFileAtomically(empty + "/a/readme.txt", "x").ok());
  s = ListImageDirectory(empty, {}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(), "No images found in directory " + empty +
                             " (in its 1 class folders {a}). Allowed formats: .png, .jpg, .jpeg");

  const std::string two = FreshDir("two");
  Png(two + "/a/1.png");
  Png(two + "/b/1.png");
  s = ListImageDirectory(two, ImageDirectoryOptions().ClassNames({"a", "c"})).status();
  EXPECT_EQ(s.message(), two + ": class_names {a, c} must name distinct subfolders, and 'c' "
                               "is not one; the subfolders are {a, b}");
  s = ListImageDirectory(two, ImageDirectoryOptions().ClassNames({"b", "b"})).status();
  EXPECT_CONTAINS(s.message(), "'b' is named twice");
  Png(two + "/c/1.png");
  s = ListImageDirectory(two, ImageDirectoryOptions().LabelMode("binary")).status();
  EXPECT_EQ(s.message(), two + ": label_mode \"binary\" needs exactly 2 classes, not 3 {a, b, c}");
  EXPECT_TRUE(ListImageDirectory(two, ImageDirectoryOptions().LabelMode("binary").ClassNames(
                                          {"c", "a"}))
                  .ok());

  // Files that are not images, found by the listing.
  ASSERT_TRUE(WriteFileAtomically(two + "/b/fake.jpg", "<html>").ok());
  s = ListImageDirectory(two, {}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(), two + "/b/fake.jpg: not a PNG or JPEG image (it starts with 3c 68 74 "
                               "6d 6c 3e)");
  ASSERT_TRUE(WriteFileAtomically(two + "/b/fake.jpg", "").ok());
  s = ListImageDirectory(two, {}).status();
  EXPECT_EQ(s.message(), two + "/b/fake.jpg: not a PNG or JPEG image (it is empty)");
  ASSERT_TRUE(RemoveFileDurably(two + "/b/fake.jpg").ok());
  ASSERT_EQ(symlink((two + "/nowhere.png").c_str(), (two + "/b/dangling.png").c_str()), 0);
  s = ListImageDirectory(two, {}).status();
  EXPECT_CONTAINS(s.message(), two + "/b/dangling.png: cannot read the image file");
}

TEST(ListImageDirectory, OptionErrors) {
  const std::string dir = FreshDir("options");
  Png(dir + "/a/1.png");
  auto message = [&](const ImageDirectoryOptions& o) {
    return std::string(ListImageDirectory(dir, o).status().message());
  };
  const std::string at = dir + ": ";
  EXPECT_EQ(message(ImageDirectoryOptions().ColorMode("RGB")),
            at + "color_mode must be \"grayscale\", \"rgb\" or \"rgba\", not \"RGB\"");
  EXPECT_EQ(message(ImageDirectoryOptions().LabelMode("sparse")),
            at + "label_mode must be \"int\", \"categorical\" or \"binary\", not \"sparse\"");
  EXPECT_EQ(message(ImageDirectoryOptions().ImageSize(0, 5)),
            at + "image_size must be positive, not (0, 5)");
  EXPECT_EQ(message(ImageDirectoryOptions().ValidationSplit(1).Subset("both").Seed(1)),
            at + "validation_split must be between 0 and 1 (0: no split), not 1");
  EXPECT_EQ(message(ImageDirectoryOptions().ValidationSplit(0.2).Seed(1)),
            at + "subset and validation_split go together: subset \"\" with validation_split 0.2");
  EXPECT_EQ(message(ImageDirectoryOptions().Subset("training")),
            at + "subset and validation_split go together: subset \"training\" with "
                 "validation_split 0");
  EXPECT_EQ(message(ImageDirectoryOptions().ValidationSplit(0.2).Subset("test").Seed(1)),
            at + "subset must be \"training\", \"validation\" or \"both\", not \"test\"");
  EXPECT_EQ(message(ImageDirectoryOptions().ValidationSplit(0.2).Subset("both")),
            at + "validation_split with shuffle needs a seed, so that the training and "
                 "validation subsets of separate calls do not overlap");
  EXPECT_EQ(message(ImageDirectoryOptions().CacheBytes(-1)),
            at + "cache_bytes must be >= 0, not -1");
  // Without shuffling a split needs no seed.
  EXPECT_TRUE(ListImageDirectory(
                  dir, ImageDirectoryOptions().ValidationSplit(0.5).Subset("both").Shuffle(false))
                  .ok());
}

TEST(ReadImageFile, ByContentNotByName) {
  const std::string dir = FreshDir("content");
  const std::vector<uint8_t> pixels = Pixels(6, 3, 1);
  ASSERT_TRUE(WriteGrayPng(dir + "/png.jpg", pixels.data(), 6, 3).ok());
  absl::StatusOr<Image> image = ReadImageFile(dir + "/png.jpg", 1);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->pixels, pixels);
  ASSERT_TRUE(WriteJpeg(dir + "/jpeg.png", pixels.data(), 6, 3, 1).ok());
  image = ReadImageFile(dir + "/jpeg.png", 3);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->channels, 3);
  EXPECT_EQ(image->width, 6);
  absl::Status s = ReadImageFile(dir + "/none.png", 3).status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_CONTAINS(s.message(), dir + "/none.png: cannot open the image file");
}

std::vector<float> LoadAll(const ImageLoader& loader) {
  const int64_t n = static_cast<int64_t>(loader.height()) * loader.width() * loader.channels();
  std::vector<float> out(loader.size() * n);
  for (int64_t i = 0; i < loader.size(); ++i) {
    absl::Status s = loader.Load(i, out.data() + i * n);
    EXPECT_TRUE(s.ok()) << s;
  }
  return out;
}

TEST(ImageLoader, ValuesScaleAndResize) {
  const std::string dir = FreshDir("loader");
  const std::vector<uint8_t> a = Pixels(7, 5, 1);
  ASSERT_TRUE(WriteGrayPng(dir + "/a.png", a.data(), 7, 5).ok());
  Png(dir + "/b.png", 11, 3, 2);  // another size: resized

  // Same size: the bytes as floats, Keras' [0, 255].
  ImageLoader loader({dir + "/a.png", dir + "/b.png"},
                     ImageDirectoryOptions().ImageSize(5, 7).ColorMode("grayscale"));
  EXPECT_EQ(loader.size(), 2);
  std::vector<float> out = LoadAll(loader);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(out[i], a[i]);
  std::vector<float> resized(35);
  ASSERT_TRUE(ResizeBilinear(Image{11, 3, 1, Pixels(11, 3, 2)}, 5, 7, resized.data()).ok());
  EXPECT_EQ(std::vector<float>(out.begin() + 35, out.end()), resized);

  // Rescale(1 / 255.f): [0, 1], sample * scale + offset.
  ImageLoader unit({dir + "/a.png"},
                   ImageDirectoryOptions().ImageSize(5, 7).ColorMode("grayscale").Rescale(
                       1 / 255.f, -0.5f));
  out = LoadAll(unit);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(out[i], a[i] * (1 / 255.f) + -0.5f);

  // RGB from a gray PNG: replicated.
  ImageLoader rgb({dir + "/a.png"}, ImageDirectoryOptions().ImageSize(5, 7));
  EXPECT_EQ(rgb.channels(), 3);
  out = LoadAll(rgb);
  for (size_t i = 0; i < a.size(); ++i) {
    for (int c = 0; c < 3; ++c) ASSERT_EQ(out[3 * i + c], a[i]);
  }
  absl::Status s = rgb.Load(1, out.data());
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(), "ImageLoader: image 1 of 1 does not exist");
}

TEST(ImageLoader, CacheWithinBudgetGivesTheSameValues) {
  const std::string dir = FreshDir("cache");
  std::vector<std::string> paths;
  for (int i = 0; i < 9; ++i) {
    paths.push_back(absl::StrCat(dir, "/", i, i % 2 ? ".png" : ".jpg"));
    if (i % 2) {
      Png(paths.back(), 8 + i, 6, i);  // 6 x (8 + i) bytes
    } else {
      Jpeg(paths.back(), 8 + i, 6, i);
    }
  }
  const auto options = ImageDirectoryOptions().ImageSize(6, 10).ColorMode("grayscale");
  ImageLoader none(paths, ImageDirectoryOptions(options).CacheBytes(0));
  const std::vector<float> expected = LoadAll(none);
  EXPECT_EQ(none.cached_images(), 0);

  ImageLoader all(paths, options);  // 256 MiB: everything
  EXPECT_EQ(LoadAll(all), expected);
  EXPECT_EQ(all.cached_images(), 9);
  EXPECT_EQ(all.cached_bytes(), 6 * (8 * 9 + 36));
  EXPECT_EQ(LoadAll(all), expected);  // from the cache

  ImageLoader some(paths, ImageDirectoryOptions(options).CacheBytes(200));
  EXPECT_EQ(LoadAll(some), expected);
  EXPECT_EQ(some.cached_images(), 3);  // 48 + 54 + 60 bytes; the next (66) would exceed 200
  EXPECT_EQ(some.cached_bytes(), 162);
  EXPECT_EQ(LoadAll(some), expected);

  // Several threads at once, each loading every row: the same values.
  ImageLoader shared(paths, options);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&shared, &r] { r = LoadAll(shared); });
  for (std::thread& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r, expected);
  EXPECT_EQ(shared.cached_images(), 9);

  // A file that changed after listing: the error names it.
  ASSERT_TRUE(WriteFileAtomically(paths[0], "GIF89a").ok());
  ASSERT_TRUE(RemoveFileDurably(paths[2]).ok());
  std::vector<float> row(60);
  absl::Status s = none.Load(0, row.data());
  EXPECT_EQ(s.message(), paths[0] + ": not a PNG or JPEG image (it starts with 47 49 46 38 39 61)");
  s = none.Load(2, row.data());
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_CONTAINS(s.message(), paths[2]);
  EXPECT_TRUE(all.Load(2, row.data()).ok());  // kept
}

}  // namespace
}  // namespace gradway::data
