// Writes one ONNX check folder per case, for every layer of nn/layers.h in each of its
// forms (activations, bias or not, valid and same padding, strides, rectangular windows,
// before and after a convolution's NCHW), so that .ci/onnx/check.py runs each through ONNX
// Runtime and OpenCV against gradway on random inputs:
//   bazel run //nn:onnx_layer_cases -- DIR
// Each DIR/<case>/ is a check folder (nn/onnx_check_folder.h), as
// //examples:export_onnx --check_dir writes.
// Deterministic: fixed seeds. Biases are random (not Keras' zeros) so that a misplaced
// bias shows.
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"
#include "nn/nn.h"
#include "nn/onnx_check_folder.h"

namespace gradway {
namespace nn {
namespace {

struct Case {
  std::string name;
  Shape input;  // per sample
  std::function<void(Sequential&)> add;
  // Inputs are Normal(0, 1) unless this is set: ids in [0, ids) (for an Embedding first).
  int64_t ids = 0;
};

DenseOptions DenseCase(int64_t units, ActivationFunction a) {
  return DenseOptions(units).Activation(a).BiasInitializer(RandomUniform(-0.5f, 0.5f));
}

Conv2DOptions ConvCase(int64_t filters, int64_t k) {
  return Conv2DOptions(filters, k).BiasInitializer(RandomUniform(-0.5f, 0.5f));
}

// Global pooling (flattened or kept, on NHWC and after a convolution's NCHW) and
// ZeroPadding2D (each form, in either layout).
std::vector<Case> GlobalPoolingAndPaddingCases() {
  return {
      {"global_average_pool", {5, 7, 3},
       [](Sequential& m) { m.Add(GlobalAveragePooling2D()); }},
      {"global_max_pool_keepdims", {6, 5, 4}, [](Sequential& m) {
         m.Add(GlobalMaxPooling2D(GlobalPooling2DOptions().Keepdims(true)));
       }},
      {"conv_global_average_pool_dense", {8, 7, 2},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(5, 3).Activation(kRelu)));
         m.Add(GlobalAveragePooling2D());
         m.Add(Dense(DenseCase(3, kSoftmax)));
       }},
      {"conv_global_max_pool_keepdims", {7, 6, 3},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(4, 2)));
         m.Add(GlobalMaxPooling2D(GlobalPooling2DOptions().Keepdims(true)));
       }},
      {"zero_padding_default", {4, 5, 3}, [](Sequential& m) { m.Add(ZeroPadding2D()); }},
      {"zero_padding_symmetric", {4, 5, 3},
       [](Sequential& m) { m.Add(ZeroPadding2D({2, 1})); }},
      {"conv_zero_padding_sides_conv", {6, 5, 2},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(3, 2)));
         m.Add(ZeroPadding2D({{2, 0}, {1, 3}}));
         m.Add(Conv2D(ConvCase(4, 3).Activation(kTanh)));
       }},
      {"zero_padding_sides_then_global_max", {5, 4, 3},
       [](Sequential& m) {
         m.Add(ZeroPadding2D({{0, 1}, {3, 0}}));
         m.Add(GlobalMaxPooling2D());
       }},
  };
}

std::vector<Case> Cases() {
  return {
      {"dense_linear", {7}, [](Sequential& m) { m.Add(Dense(DenseCase(5, kLinear))); }},
      {"dense_relu", {7}, [](Sequential& m) { m.Add(Dense(DenseCase(5, kRelu))); }},
      {"dense_sigmoid", {7}, [](Sequential& m) { m.Add(Dense(DenseCase(5, kSigmoid))); }},
      {"dense_tanh", {7}, [](Sequential& m) { m.Add(Dense(DenseCase(5, kTanh))); }},
      {"dense_softmax", {7}, [](Sequential& m) { m.Add(Dense(DenseCase(5, kSoftmax))); }},
      {"dense_no_bias", {7},
       [](Sequential& m) { m.Add(Dense(DenseCase(5, kRelu).UseBias(false))); }},
      {"conv_valid_relu", {9, 9, 2},
       [](Sequential& m) { m.Add(Conv2D(ConvCase(3, 3).Activation(kRelu))); }},
      {"conv_same_stride2", {7, 8, 3},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(4, 4).Strides(2).Padding(Padding::kSame)));
       }},
      {"conv_rect_no_bias_tanh", {6, 9, 2},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(3, 1).KernelSize(2, 3).Strides(1, 2).UseBias(false)
                          .Activation(kTanh)));
       }},
      {"conv_sigmoid_softmax", {5, 5, 2},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(3, 3).Padding(Padding::kSame).Activation(kSigmoid)));
         m.Add(Conv2D(Conv2DOptions(4, 1).Activation(kSoftmax)));
       }},
      {"max_pool_valid", {8, 8, 3}, [](Sequential& m) {
         m.Add(MaxPooling2D(Pooling2DOptions(2)));
       }},
      {"max_pool_same_stride", {7, 7, 2}, [](Sequential& m) {
         m.Add(MaxPooling2D(
             Pooling2DOptions(3).Strides(2).Padding(Padding::kSame)));
       }},
      {"max_pool_stride_over_pool", {9, 10, 2}, [](Sequential& m) {
         m.Add(MaxPooling2D(Pooling2DOptions(2).Strides(3)));
       }},
      {"conv_linear_last", {6, 7, 2}, [](Sequential& m) {
         m.Add(Conv2D(ConvCase(3, 2).Strides(2).Padding(Padding::kSame)));
         m.Add(Activation(kLinear));
       }},
      {"average_pool_valid_rect", {8, 9, 3}, [](Sequential& m) {
         m.Add(AveragePooling2D(Pooling2DOptions(2).PoolSize(2, 3)));
       }},
      {"average_pool_same", {7, 7, 2}, [](Sequential& m) {
         m.Add(AveragePooling2D(
             Pooling2DOptions(3).Strides(1).Padding(Padding::kSame)));
       }},
      {"conv_pool_flatten_dense", {10, 10, 2},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(3, 3).Activation(kRelu)));
         m.Add(AveragePooling2D(2));
         m.Add(Dropout(0.5));
         m.Add(Flatten());
         m.Add(Dense(DenseCase(4, kSoftmax)));
       }},
      {"flatten_dense", {4, 5, 3},
       [](Sequential& m) {
         m.Add(Flatten());
         m.Add(Dense(DenseCase(6, kLinear)));
       }},
      {"dropout", {6},
       [](Sequential& m) {
         m.Add(Dense(DenseCase(5, kLinear)));
         m.Add(Dropout(0.4));
       }},
      {"relu_layer_image", {5, 4, 3}, [](Sequential& m) {
         m.Add(Activation(kLinear));
         m.Add(ReLU());
       }},
      {"softmax_layer_image", {3, 4, 5}, [](Sequential& m) { m.Add(Softmax()); }},
      {"activations_after_conv", {6, 6, 3},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(4, 3)));
         m.Add(Activation("tanh"));
         m.Add(Activation("sigmoid"));
         m.Add(ReLU());
         m.Add(Softmax());
       }},
  };
}

// Functional models (nn/functional.h): merges in ONNX's NCHW (after convolutions) and in
// NHWC (vectors), a layer called twice.
std::vector<Case> FunctionalCases() {
  return {
      {"functional_residual_concat", {6, 6, 3},
       [](Sequential& m) {
         auto in = Input({6, 6, 3});
         auto x = Conv2D(ConvCase(4, 3).Padding(Padding::kSame).Activation(kRelu))(in);
         auto branch = Conv2D(ConvCase(4, 3).Padding(Padding::kSame))(x);
         auto sum = Add()({x, branch});
         auto joined = Concatenate()({sum, Conv2D(ConvCase(2, 1))(in)});
         auto out = Dense(DenseCase(3, kSoftmax))(Flatten()(joined));
         m.Add(std::make_shared<Model>(in, out, 5));
       }},
      {"functional_shared_dense_multiply", {5},
       [](Sequential& m) {
         auto in = Input({5});
         auto shared = std::make_shared<Dense>(DenseCase(5, kTanh));
         auto twice = (*shared)((*shared)(in));
         auto product = Multiply()({twice, Dense(DenseCase(5, kLinear))(in)});
         auto out = Concatenate()({product, in});
         m.Add(std::make_shared<Model>(in, out, 6));
       }},
      // MultiHeadAttention: causal self-attention; an encoder block (attention, residual,
      // layer norm) then cross-attention to a shorter sequence with its own key, value
      // width and output width.
      {"attention_self_causal", {5, 6},
       [](Sequential& m) {
         auto in = Input({5, 6});
         auto out = MultiHeadAttention(MultiHeadAttentionOptions(2, 3).UseCausalMask(true)
                                           .BiasInitializer(RandomUniform(-0.5f, 0.5f)))(
             {in, in});
         m.Add(std::make_shared<Model>(in, out, 8));
       }},
      {"attention_block_cross", {4, 8},
       [](Sequential& m) {
         auto in = Input({4, 8});
         auto x = Dense(DenseCase(8, kLinear))(in);
         auto y = LayerNormalization()(Add()({x, MultiHeadAttention(2, 4)({x, x})}));
         auto memory = Conv1D(Conv1DOptions(8, 2).Strides(2))(in);  // 2 steps
         auto key = Dense(DenseCase(5, kTanh))(memory);
         auto out = MultiHeadAttention(
             MultiHeadAttentionOptions(3, 2).ValueDim(4).OutputDim(6).BiasInitializer(
                 RandomUniform(-0.5f, 0.5f)))({y, memory, key});
         m.Add(std::make_shared<Model>(in, out, 9));
       }},
  };
}

// BatchNormalization (nn/normalization.h), in inference form: after a convolution (in its
// NCHW), on a Dense's output, first on an NHWC image, and without scale and centre; with
// random weights and moving statistics, so that each shows.
BatchNormalizationOptions BatchNormCase() {
  return BatchNormalizationOptions()
      .GammaInitializer(RandomUniform(0.5f, 1.5f))
      .BetaInitializer(RandomUniform(-0.5f, 0.5f))
      .MovingMeanInitializer(RandomUniform(-0.5f, 0.5f))
      .MovingVarianceInitializer(RandomUniform(0.5f, 2.f));
}

std::vector<Case> BatchNormCases() {
  return {
      {"conv_batch_norm_relu", {8, 8, 3},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(4, 3)));
         m.Add(BatchNormalization(BatchNormCase()));
         m.Add(ReLU());
       }},
      {"dense_batch_norm", {7},
       [](Sequential& m) {
         m.Add(Dense(DenseCase(5, kLinear)));
         m.Add(BatchNormalization(BatchNormCase().Epsilon(0.01f)));
       }},
      {"batch_norm_image", {5, 4, 3},
       [](Sequential& m) { m.Add(BatchNormalization(BatchNormCase())); }},
      {"batch_norm_no_scale_center", {6},
       [](Sequential& m) {
         m.Add(BatchNormalization(BatchNormCase().Scale(false).Center(false)));
       }},
      {"conv_layer_norm", {6, 5, 3},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(4, 3)));
         m.Add(LayerNormalization(LayerNormalizationOptions()
                                      .GammaInitializer(RandomUniform(0.5f, 1.5f))
                                      .BetaInitializer(RandomUniform(-0.5f, 0.5f))));
       }},
      {"sequence_layer_norm_plain", {5, 9},
       [](Sequential& m) {
         m.Add(LayerNormalization(LayerNormalizationOptions().Scale(false).Center(false)));
       }},
      {"sequence_global_pooling", {7, 3},
       [](Sequential& m) {
         m.Add(Dense(DenseCase(4, kRelu)));
         m.Add(GlobalAveragePooling1D(GlobalPooling1DOptions().Keepdims(true)));
         m.Add(GlobalMaxPooling1D());
       }},
      {"sequence_global_max_pooling", {7, 3}, [](Sequential& m) { m.Add(GlobalMaxPooling1D()); }},
      {"sequence_global_average_pooling", {7, 3},
       [](Sequential& m) { m.Add(GlobalAveragePooling1D()); }},
      {"conv1d_same_strided", {9, 3},
       [](Sequential& m) {
         m.Add(Conv1D(Conv1DOptions(4, 3).Padding(Padding::kSame).Strides(2).Activation(kRelu)));
       }},
      {"conv1d_causal_valid", {8, 2},
       [](Sequential& m) {
         m.Add(Conv1D(Conv1DOptions(5, 3).Causal()));
         m.Add(Conv1D(Conv1DOptions(3, 2).Activation(kTanh)));
       }},
      {"time_distributed_dense", {4, 5},
       [](Sequential& m) { m.Add(TimeDistributed(Dense(DenseCase(3, kSoftmax)))); }},
      {"time_distributed_conv", {3, 6, 6, 2},
       [](Sequential& m) {
         m.Add(TimeDistributed(Conv2D(ConvCase(3, 3))));
         m.Add(TimeDistributed(GlobalAveragePooling2D()));
       }},
      {"embedding_pooling_dense", {6},
       [](Sequential& m) {
         m.Add(Embedding(EmbeddingOptions(9, 4).EmbeddingsInitializer(RandomNormal(0, 1))));
         m.Add(GlobalAveragePooling1D());
         m.Add(Dense(DenseCase(3, kSoftmax)));
       },
       /*ids=*/9},
      {"embedding_plus_positions", {5},
       [](Sequential& m) {
         m.Add(Embedding(EmbeddingOptions(7, 4).EmbeddingsInitializer(RandomNormal(0, 1))));
         m.Add(PositionEmbedding(8));
       },
       /*ids=*/7},
      {"sequence_dense", {5, 6},
       [](Sequential& m) {
         m.Add(Dense(DenseCase(4, kRelu)));
         m.Add(Dense(DenseCase(3, kSoftmax)));
       }},
  };
}

RNNOptions RnnCase(int64_t units) {
  return RNNOptions(units).BiasInitializer(RandomUniform(-0.5f, 0.5f));
}

// The recurrent layers as ONNX's LSTM, GRU and RNN operators: the last output or every
// step, go_backwards, without bias, Bidirectional's merges, after an Embedding.
std::vector<Case> RecurrentCases() {
  return {
      {"lstm_last", {6, 3}, [](Sequential& m) { m.Add(LSTM(RnnCase(4))); }},
      {"gru_sequences_backwards", {5, 3},
       [](Sequential& m) { m.Add(GRU(RnnCase(4).ReturnSequences(true).GoBackwards(true))); }},
      {"simple_rnn_no_bias_dense", {4, 2},
       [](Sequential& m) {
         m.Add(SimpleRNN(RNNOptions(3).UseBias(false)));
         m.Add(Dense(DenseCase(2, kSoftmax)));
       }},
      {"bidirectional_lstm_sequences", {5, 3},
       [](Sequential& m) {
         m.Add(Bidirectional(LSTM(RnnCase(3).ReturnSequences(true))));
         m.Add(GlobalAveragePooling1D());
       }},
      {"bidirectional_gru_ave", {5, 3},
       [](Sequential& m) { m.Add(Bidirectional(GRU(RnnCase(3)), "ave")); }},
      {"embedding_lstm", {6},
       [](Sequential& m) {
         m.Add(Embedding(EmbeddingOptions(9, 4).EmbeddingsInitializer(RandomNormal(0, 1))));
         m.Add(LSTM(RnnCase(5)));
       },
       /*ids=*/9},
  };
}

// The augmentation layers at inference: the identity, RandomCrop's centre crop (a Slice,
// after a Pad when the window reaches into the padding; in NHWC and after a pool's NCHW).
std::vector<Case> AugmentationCases() {
  return {
      {"augmentation_identity_conv", {6, 7, 3},
       [](Sequential& m) {
         m.Add(RandomFlip());
         m.Add(RandomTranslation(0.2, 0.2));
         m.Add(RandomRotation(0.1));
         m.Add(RandomCrop(RandomCropOptions(6, 7).Padding(2)));
         m.Add(Conv2D(ConvCase(2, 3)));
       }},
      {"random_crop_centre", {9, 10, 2}, [](Sequential& m) { m.Add(RandomCrop(6, 7)); }},
      {"random_crop_pad_and_slice", {4, 9, 2},
       [](Sequential& m) { m.Add(RandomCrop(RandomCropOptions(6, 5).Padding(1))); }},
      {"pool_random_crop_dense", {10, 12, 2},
       [](Sequential& m) {
         m.Add(MaxPooling2D(2));
         m.Add(RandomCrop(3, 4));
         m.Add(Flatten());
         m.Add(Dense(DenseCase(3, kSoftmax)));
       }},
  };
}

// The Keras activations beyond the chapter's (GELU and SiLU written with Erf and Sigmoid),
// as Dense and Conv2D activations, Activation layers and the LeakyReLU and ELU layers.
std::vector<Case> ActivationCases() {
  return {
      {"dense_elu", {7}, [](Sequential& m) { m.Add(Dense(DenseCase(5, kElu))); }},
      {"dense_gelu", {7}, [](Sequential& m) { m.Add(Dense(DenseCase(5, kGelu))); }},
      {"dense_silu", {7}, [](Sequential& m) { m.Add(Dense(DenseCase(5, kSilu))); }},
      {"dense_hard_sigmoid", {7},
       [](Sequential& m) { m.Add(Dense(DenseCase(5, kHardSigmoid))); }},
      {"dense_leaky_relu", {7}, [](Sequential& m) { m.Add(Dense(DenseCase(5, kLeakyRelu))); }},
      {"conv_gelu_then_keras_activations", {6, 5, 2},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(3, 3).Padding(Padding::kSame).Activation(kGelu)));
         m.Add(Activation("swish"));
         m.Add(Activation("elu"));
         m.Add(Activation("leaky_relu"));
         m.Add(Activation("hard_sigmoid"));
       }},
      {"leaky_relu_elu_layers_after_conv", {7, 6, 2},
       [](Sequential& m) {
         m.Add(Conv2D(ConvCase(4, 3).Activation(kSilu)));
         m.Add(LeakyReLU(0.1f));
         m.Add(ELU(0.5f));
         m.Add(Flatten());
         m.Add(Dense(DenseCase(3, kLinear)));
       }},
      {"leaky_relu_elu_layers_default", {9},
       [](Sequential& m) {
         m.Add(LeakyReLU());
         m.Add(ELU());
       }},
  };
}

// Every case: those of the chapter's layers, then each later group.
std::vector<Case> AllCases() {
  std::vector<Case> cases = Cases();
  for (Case& c : GlobalPoolingAndPaddingCases()) cases.push_back(std::move(c));
  for (Case& c : BatchNormCases()) cases.push_back(std::move(c));
  for (Case& c : RecurrentCases()) cases.push_back(std::move(c));
  for (Case& c : FunctionalCases()) cases.push_back(std::move(c));
  for (Case& c : AugmentationCases()) cases.push_back(std::move(c));
  for (Case& c : ActivationCases()) cases.push_back(std::move(c));
  return cases;
}

int Run(const std::string& dir) {
  int failures = 0;
  for (const Case& c : AllCases()) {
    ClearSession();
    Sequential model(/*seed=*/7);
    c.add(model);
    model.Build(c.input);
    Generator gen(11);
    Shape shape = {64};
    shape.insert(shape.end(), c.input.begin(), c.input.end());
    Tensor x = Tensor::Normal(shape, 0.f, 1.f, gen);
    if (c.ids > 0) {
      for (int64_t i = 0; i < x.numel(); ++i) {
        x.data()[i] = static_cast<float>(gen.NextU64() % static_cast<uint64_t>(c.ids));
      }
    }
    absl::Status st = WriteOnnxCheckFolder(model, x, dir + "/" + c.name, c.name,
                                           /*argmax=*/false, "nn/onnx_layer_cases");
    if (!st.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.name.c_str(), std::string(st.message()).c_str());
      ++failures;
      continue;
    }
    std::printf("%s: %s -> %s\n", c.name.c_str(), BatchShapeString(c.input).c_str(),
                BatchShapeString(model.output_shape()).c_str());
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace nn
}  // namespace gradway

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  return gradway::nn::Run(argv[1]);
}
