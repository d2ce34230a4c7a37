// SaveOnnx's files read back with ONNX's own library (libonnx 1.12): its checker and its shape
// inference with strict mode (what python's onnx.checker.check_model(full_check=True)
// runs) accept them, and the graph holds what each layer should write. The numbers are
// checked by ONNX Runtime and OpenCV on the chapter's models and on every layer
// (.ci/onnx/check.py, run by .ci/run).
#include "nn/onnx_export.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "autograd/functions.h"
#include "gtest/gtest.h"
#include "nn/augmentation.h"
#include "nn/layers.h"
#include "nn/merge.h"
#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"

namespace gradway {
namespace nn {
namespace {

std::string TempPath(const std::string& name) {
  return std::string(testing::TempDir()) + "/" + name;
}

// The file, checked as python's full_check does: the checker, then strict shape inference.
onnx::ModelProto ReadChecked(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(bytes.str())) << path;
  onnx::checker::check_model(model);
  onnx::ShapeInferenceOptions strict(/*check_type=*/true, /*strict_mode=*/1);
  onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), strict);
  return model;
}

std::vector<std::string> OpTypes(const onnx::ModelProto& m) {
  std::vector<std::string> ops;
  for (const onnx::NodeProto& n : m.graph().node()) ops.push_back(n.op_type());
  return ops;
}

const onnx::TensorProto& InitializerNamed(const onnx::ModelProto& m, const std::string& name) {
  for (const onnx::TensorProto& t : m.graph().initializer()) {
    if (t.name() == name) return t;
  }
  ADD_FAILURE() << "no initializer " << name;
  return m.graph().initializer(0);
}

std::vector<float> Floats(const onnx::TensorProto& t) {
  std::vector<float> v(t.raw_data().size() / sizeof(float));
  std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  return v;
}

// "batch", 28, 28, 1 for a value info.
std::vector<std::string> Dims(const onnx::ValueInfoProto& v) {
  std::vector<std::string> dims;
  for (const auto& d : v.type().tensor_type().shape().dim()) {
    dims.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  }
  return dims;
}

TEST(SaveOnnxTest, ChapterCnnIsCheckedAndHasOneTransposeEachWay) {
  Sequential model(/*seed=*/3);
  model.Add(Conv2D(Conv2DOptions(4, 3).Activation(kRelu).InputShape({9, 9, 1})));
  model.Add(Conv2D(5, 3, kRelu));
  model.Add(MaxPooling2D(2));
  model.Add(Dropout(0.25));
  model.Add(Flatten());
  model.Add(Dense(6, kRelu));
  model.Add(Dropout(0.5));
  model.Add(Dense(3, kSoftmax));
  const std::string path = TempPath("cnn.onnx");
  ASSERT_TRUE(SaveOnnx(model, path).ok());
  onnx::ModelProto m = ReadChecked(path);

  EXPECT_EQ(OpTypes(m), (std::vector<std::string>{"Transpose", "Conv", "Relu", "Conv", "Relu",
                                                  "MaxPool", "Transpose", "Flatten", "Gemm",
                                                  "Relu", "Gemm", "Softmax", "Identity"}));
  EXPECT_EQ(m.opset_import(0).version(), 13);
  EXPECT_EQ(m.producer_name(), "gradway");
  ASSERT_EQ(m.graph().input_size(), 1);
  EXPECT_EQ(Dims(m.graph().input(0)), (std::vector<std::string>{"batch", "9", "9", "1"}));
  EXPECT_EQ(Dims(m.graph().output(0)), (std::vector<std::string>{"batch", "3"}));
  EXPECT_EQ(m.graph().output(0).name(), "output");

  // The first kernel as OIHW: element (o, i, h, w) is HWIO's (h, w, i, o).
  const Conv2D& conv = model.layer<Conv2D>(0);
  const onnx::TensorProto& w = InitializerNamed(m, conv.name() + "/kernel");
  EXPECT_EQ(std::vector<int64_t>(w.dims().begin(), w.dims().end()),
            (std::vector<int64_t>{4, 1, 3, 3}));
  std::vector<float> oihw = Floats(w);
  for (int64_t o = 0; o < 4; ++o) {
    for (int64_t h = 0; h < 3; ++h) {
      for (int64_t x = 0; x < 3; ++x) {
        EXPECT_EQ(oihw[(o * 3 + h) * 3 + x], conv.kernel().at({h, x, 0, o}));
      }
    }
  }
  // The Dense kernel transposed ([out, in], Gemm's transB = 1), rows in gradway's NHWC
  // flattening order, as Flatten sees NHWC.
  const Dense& dense = model.layer<Dense>(5);
  const onnx::TensorProto& dk = InitializerNamed(m, dense.name() + "/kernel");
  const int64_t in = dense.kernel().size(0);
  EXPECT_EQ(std::vector<int64_t>(dk.dims().begin(), dk.dims().end()),
            (std::vector<int64_t>{6, in}));
  std::vector<float> transposed = Floats(dk);
  for (int64_t i = 0; i < in; ++i) {
    for (int64_t o = 0; o < 6; ++o) EXPECT_EQ(transposed[o * in + i], dense.kernel().at({i, o}));
  }
}

TEST(SaveOnnxTest, SamePaddingPutsTheOddCellAfterAsKeras) {
  Sequential model(/*seed=*/1);
  model.Add(Conv2D(Conv2DOptions(2, 4).Strides(2).Padding(Padding::kSame).InputShape({7, 9, 3})));
  model.Add(AveragePooling2D(Pooling2DOptions(3).Strides(1).Padding(Padding::kSame)));
  model.Add(Activation("tanh"));
  model.Add(Softmax());
  const std::string path = TempPath("same.onnx");
  ASSERT_TRUE(SaveOnnx(model, path).ok());
  onnx::ModelProto m = ReadChecked(path);
  EXPECT_EQ(OpTypes(m), (std::vector<std::string>{"Transpose", "Conv", "AveragePool", "Tanh",
                                                  "Softmax", "Transpose"}));
  auto ints = [&](int node, const std::string& name) {
    for (const onnx::AttributeProto& a : m.graph().node(node).attribute()) {
      if (a.name() == name) return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    }
    return std::vector<int64_t>{};
  };
  // Conv: 7 -> 4 rows needs (4-1)*2+4-7 = 3 padded rows: 1 before, 2 after; 9 -> 5 columns
  // needs (5-1)*2+4-9 = 3 too: 1 before, 2 after.
  EXPECT_EQ(ints(1, "pads"), (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(ints(1, "strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(ints(2, "pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  // Softmax over the channels, axis 1 of NCHW.
  EXPECT_EQ(m.graph().node(4).attribute(0).i(), 1);
  EXPECT_EQ(Dims(m.graph().output(0)), (std::vector<std::string>{"batch", "4", "5", "2"}));
}

// ZeroPadding2D pads in the layout it is given (no Transpose), global pooling reads NCHW and
// flattens to [N, C] unless it keeps the dimensions.
TEST(SaveOnnxTest, ZeroPaddingAndGlobalPooling) {
  Sequential model(/*seed=*/2);
  model.Add(ZeroPadding2D(ZeroPadding2DOptions({1, 2}, {3, 4}).InputShape({5, 6, 2})));
  model.Add(Conv2D(3, 2));
  model.Add(ZeroPadding2D({{0, 1}, {2, 0}}));
  model.Add(GlobalAveragePooling2D());
  const std::string path = TempPath("pad_gap.onnx");
  ASSERT_TRUE(SaveOnnx(model, path).ok());
  onnx::ModelProto m = ReadChecked(path);
  EXPECT_EQ(OpTypes(m), (std::vector<std::string>{"Pad", "Transpose", "Conv", "Pad",
                                                  "GlobalAveragePool", "Flatten", "Identity"}));
  auto pads = [&](const std::string& layer) {
    const onnx::TensorProto& t = InitializerNamed(m, layer + "/pads");
    EXPECT_EQ(t.data_type(), onnx::TensorProto::INT64);
    std::vector<int64_t> v(t.raw_data().size() / sizeof(int64_t));
    std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
    return v;
  };
  // NHWC: [0, top, left, 0, 0, bottom, right, 0]; after the Conv, NCHW: [0, 0, top, left,
  // 0, 0, bottom, right].
  EXPECT_EQ(pads(model.layer(0).name()), (std::vector<int64_t>{0, 1, 3, 0, 0, 2, 4, 0}));
  EXPECT_EQ(pads(model.layer(2).name()), (std::vector<int64_t>{0, 0, 0, 2, 0, 0, 1, 0}));
  EXPECT_EQ(Dims(m.graph().output(0)), (std::vector<std::string>{"batch", "3"}));

  Sequential kept(/*seed=*/2);
  kept.Add(GlobalMaxPooling2D(GlobalPooling2DOptions().Keepdims(true).InputShape({4, 3, 5})));
  ASSERT_TRUE(SaveOnnx(kept, TempPath("gmp.onnx"), OnnxOptions().Opset(17)).ok());
  onnx::ModelProto k = ReadChecked(TempPath("gmp.onnx"));
  EXPECT_EQ(OpTypes(k), (std::vector<std::string>{"Transpose", "GlobalMaxPool", "Transpose"}));
  EXPECT_EQ(Dims(k.graph().output(0)), (std::vector<std::string>{"batch", "1", "1", "5"}));
}

class NotExportable : public Module {
 public:
  NotExportable() : Module("NotExportable", "not_exportable") {}
  Tensor Forward(const Tensor& x) override { return x * 2.f; }
};

class Doubled : public Module {
 public:
  Doubled() : Module("Doubled", "doubled") {}
  Tensor Forward(const Tensor& x) override { return x + x; }
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override {
    return graph.Elementwise("Add", {input, input}, name() + "/Add");
  }
};

TEST(SaveOnnxTest, ALayerOfYourOwnExportsWhenItOverridesExportOnnx) {
  Sequential model(/*seed=*/1);
  model.Add(Dense(DenseOptions(3).InputShape({4})));
  model.Add<Doubled>();
  const std::string path = TempPath("own.onnx");
  ASSERT_TRUE(SaveOnnx(model, path).ok());
  EXPECT_EQ(OpTypes(ReadChecked(path)), (std::vector<std::string>{"Gemm", "Add", "Identity"}));

  Sequential bad(/*seed=*/1);
  bad.Add(Dense(DenseOptions(3).InputShape({4})));
  NotExportable& layer = bad.Add<NotExportable>();
  absl::Status st = SaveOnnx(bad, TempPath("bad.onnx"));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot export " + layer.Description() +
                              " to ONNX: it does not override Module::ExportOnnx"),
            std::string::npos)
      << st;
  EXPECT_NE(st.message().find("bad.onnx"), std::string::npos) << st;
}

TEST(SaveOnnxTest, RefusesAnUnbuiltModelAndAnOpsetItDoesNotWrite) {
  Sequential unbuilt;
  unbuilt.Add(Dense(3));
  absl::Status st = SaveOnnx(unbuilt, TempPath("unbuilt.onnx"));
  EXPECT_NE(st.message().find("the model is not built"), std::string::npos) << st;

  Sequential model(/*seed=*/1);
  model.Add(Dense(DenseOptions(3).InputShape({4})));
  st = SaveOnnx(model, TempPath("opset.onnx"), OnnxOptions().Opset(11));
  EXPECT_NE(st.message().find("ONNX opset 11 is not one gradway writes (13 to 17)"),
            std::string::npos)
      << st;
  ASSERT_TRUE(SaveOnnx(model, TempPath("opset17.onnx"), OnnxOptions().Opset(17)).ok());
  EXPECT_EQ(ReadChecked(TempPath("opset17.onnx")).opset_import(0).version(), 17);
}

// A functional model exports its layer calls (a residual Add after convolutions: in
// NCHW, no Transpose between); one with two inputs is refused with a message.
TEST(SaveOnnxTest, FunctionalModels) {
  ClearSession();
  auto in = Input({5, 5, 2});
  auto x = Conv2D(Conv2DOptions(3, 3).Padding(Padding::kSame))(in);
  auto sum = nn::Add()({x, Conv2D(Conv2DOptions(3, 1))(in)});
  Model model(in, Dense(2)(Flatten()(sum)), 3);
  ASSERT_TRUE(SaveOnnx(model, TempPath("functional.onnx")).ok());
  const onnx::ModelProto proto = ReadChecked(TempPath("functional.onnx"));
  std::vector<std::string> ops;
  for (const auto& node : proto.graph().node()) ops.push_back(node.op_type());
  EXPECT_EQ(ops, (std::vector<std::string>{"Transpose", "Conv", "Conv", "Add", "Transpose",
                                           "Flatten", "Gemm", "Identity"}));
  auto a = Input({2}), b = Input({2});
  Model two({a, b}, {nn::Add()({a, b})});
  absl::Status st = SaveOnnx(two, TempPath("two.onnx"));
  EXPECT_NE(st.message().find("it has 2 inputs and 1 outputs (one of each can be exported)"),
            std::string::npos)
      << st;
}

// The int64 values of a Slice or Pad operand.
std::vector<int64_t> Int64s(const onnx::TensorProto& t) {
  std::vector<int64_t> v(t.raw_data().size() / sizeof(int64_t));
  std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  return v;
}

// Augmentation layers are the identity at inference, but RandomCrop's centre crop: a Slice
// on the value's layout, after a Pad where the window reaches into the padding.
TEST(SaveOnnxTest, AugmentationLayersExportTheirInference) {
  Sequential same(/*seed=*/1);
  same.Add(RandomFlip(RandomFlipOptions().InputShape({6, 7, 2})));
  same.Add(RandomTranslation(0.2, 0.1));
  same.Add(RandomRotation(0.1));
  same.Add(RandomCrop(RandomCropOptions(6, 7).Padding(3)));
  ASSERT_TRUE(SaveOnnx(same, TempPath("augment_identity.onnx")).ok());
  EXPECT_EQ(OpTypes(ReadChecked(TempPath("augment_identity.onnx"))),
            (std::vector<std::string>{"Identity"}));

  Sequential crop(/*seed=*/1);
  crop.Add(RandomCrop(RandomCropOptions(6, 7).Name("crop").InputShape({9, 10, 2})));
  ASSERT_TRUE(SaveOnnx(crop, TempPath("augment_crop.onnx")).ok());
  onnx::ModelProto m = ReadChecked(TempPath("augment_crop.onnx"));
  EXPECT_EQ(OpTypes(m), (std::vector<std::string>{"Slice", "Identity"}));
  EXPECT_EQ(Int64s(InitializerNamed(m, "crop/starts")), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(Int64s(InitializerNamed(m, "crop/ends")), (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(Int64s(InitializerNamed(m, "crop/axes")), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Dims(m.graph().output(0)), (std::vector<std::string>{"batch", "6", "7", "2"}));

  // After a pool, in NCHW: rows -1..4 of 4 (a Pad of 1 above and below), columns 2..6 of 9.
  Sequential padded(/*seed=*/1);
  padded.Add(MaxPooling2D(Pooling2DOptions(2).InputShape({8, 18, 2})));
  padded.Add(RandomCrop(RandomCropOptions(6, 5).Padding(1).Name("crop")));
  ASSERT_TRUE(SaveOnnx(padded, TempPath("augment_pad.onnx")).ok());
  m = ReadChecked(TempPath("augment_pad.onnx"));
  EXPECT_EQ(OpTypes(m), (std::vector<std::string>{"Transpose", "MaxPool", "Pad", "Slice",
                                                  "Transpose"}));
  EXPECT_EQ(Int64s(InitializerNamed(m, "crop/pads")),
            (std::vector<int64_t>{0, 0, 1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(Int64s(InitializerNamed(m, "crop/starts")), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(Int64s(InitializerNamed(m, "crop/axes")), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Dims(m.graph().output(0)), (std::vector<std::string>{"batch", "6", "5", "2"}));
}

// GELU and SiLU have no ONNX operator in opsets 13 to 17: they are written with Erf and
// Sigmoid; the others are ONNX's HardSigmoid (alpha 1/6, beta 1/2), LeakyRelu and Elu.
TEST(SaveOnnxTest, TheKerasActivationsAndLayersInOpsets13To17) {
  Sequential model(/*seed=*/2);
  model.Add(Dense(DenseOptions(5).Activation(kGelu).InputShape({4})));
  model.Add(Activation("swish"));
  model.Add(Activation("hard_sigmoid"));
  model.Add(Activation("leaky_relu"));
  model.Add(Activation("elu"));
  model.Add(LeakyReLU(0.1f));
  model.Add(ELU(0.5f));
  for (int64_t opset : {13, 17}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    const std::string path = TempPath("activations" + std::to_string(opset) + ".onnx");
    ASSERT_TRUE(SaveOnnx(model, path, OnnxOptions().Opset(opset)).ok());
    onnx::ModelProto m = ReadChecked(path);
    EXPECT_EQ(OpTypes(m), (std::vector<std::string>{
                              "Gemm", "Mul", "Erf", "Add", "Mul", "Mul", "Sigmoid", "Mul",
                              "HardSigmoid", "LeakyRelu", "Elu", "LeakyRelu", "Elu",
                              "Identity"}));
    const auto attribute = [&](int node, const std::string& name) {
      for (const onnx::AttributeProto& a : m.graph().node(node).attribute()) {
        if (a.name() == name) return a.f();
      }
      ADD_FAILURE() << "node " << node << " has no attribute " << name;
      return 0.f;
    };
    EXPECT_EQ(attribute(8, "alpha"), 1.f / 6.f);
    EXPECT_EQ(attribute(8, "beta"), 0.5f);
    EXPECT_EQ(attribute(9, "alpha"), 0.2f);  // the "leaky_relu" string: Keras 3's slope
    EXPECT_EQ(attribute(10, "alpha"), 1.f);
    EXPECT_EQ(attribute(11, "alpha"), 0.1f);
    EXPECT_EQ(attribute(12, "alpha"), 0.5f);
    // GELU's constants: x * (1 + erf(x / sqrt(2))) / 2.
    const std::string gelu = model.layer<Dense>(0).name() + "/Gelu/";
    EXPECT_EQ(Floats(InitializerNamed(m, gelu + "sqrt_half")),
              (std::vector<float>{0.70710678f}));
    EXPECT_EQ(Floats(InitializerNamed(m, gelu + "one")), (std::vector<float>{1.f}));
    EXPECT_EQ(Floats(InitializerNamed(m, gelu + "half")), (std::vector<float>{0.5f}));
  }
}

}  // namespace
}  // namespace nn
}  // namespace gradway
