#include "nn/onnx_check_folder.h"

#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "data/file_util.h"
#include "nlohmann/json.hpp"

namespace gradway {
namespace nn {
namespace {

absl::Status WriteFloats(const std::string& path, const Tensor& t) {
  const std::vector<float> v = t.ToVector();
  return data::WriteFileAtomically(
      path, absl::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
}

}  // namespace

absl::Status WriteOnnxCheckFolder(Model& model, const Tensor& x, const std::string& dir,
                                  const std::string& name, bool argmax,
                                  const std::string& source, const OnnxOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  absl::Status st = SaveOnnx(model, dir + "/model.onnx", options);
  if (!st.ok()) return st;
  const Tensor y = model.Predict(x, 200);
  if (st = WriteFloats(dir + "/input.bin", x); !st.ok()) return st;
  if (st = WriteFloats(dir + "/expected.bin", y); !st.ok()) return st;
  const nlohmann::json meta = {{"name", name},
                               {"input_shape", x.shape()},
                               {"output_shape", y.shape()},
                               {"argmax", argmax},
                               {"source", source}};
  return data::WriteFileAtomically(dir + "/meta.json", meta.dump(2) + "\n");
}

}  // namespace nn
}  // namespace gradway
