// Masks between layers (nn/masking.h): Embedding(mask_zero) and Masking make them, per-step
// layers and merges pass them on, recurrent layers and GlobalAveragePooling1D use them, in
// nn::Model and nn::Sequential. Each padded sequence must give what its unpadded steps give
// alone; a layer that does not take masks drops them.
#include "nn/masking.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "gtest/gtest.h"
#include "nn/nn.h"
#include "nn/test_util.h"

namespace gradway {
namespace nn {
namespace {

using testing::ErrorOf;


// Token ids [3, 6]: sequence 0 right-padded (3 tokens), 1 full, 2 left-padded (2 tokens).
const std::vector<std::vector<float>> kSequences = {
    {4, 2, 7, 0, 0, 0}, {1, 5, 5, 3, 6, 2}, {0, 0, 0, 0, 3, 1}};

Tensor Ids() {
  std::vector<float> all;
  for (const auto& s : kSequences) all.insert(all.end(), s.begin(), s.end());
  return Tensor::FromVector(all, {3, 6});
}

// Sequence i without its padding, embedded by `embedding`'s table: [1, steps, dim]. (The
// layers are built for 6 steps, so the unpadded runs use their weights directly.)
Tensor EmbedUnpadded(const Embedding& embedding, size_t i) {
  std::vector<int64_t> ids;
  for (float id : kSequences[i]) {
    if (id != 0.f) ids.push_back(static_cast<int64_t>(id));
  }
  const Tensor table = embedding.embeddings();
  return Gather(table, ids, 0).Reshape({1, static_cast<int64_t>(ids.size()), table.shape()[1]});
}

// A recurrent layer's weights on x [1, steps, features], no mask: its every output.
Tensor RunAlone(const RecurrentLayer& layer, const Tensor& x) {
  return Recurrent(x, layer.kernel(), layer.recurrent_kernel(), layer.bias(), Tensor(),
                   Tensor(), Tensor(),
                   {layer.cell(), layer.options().go_backwards, false})
      .sequence;
}

// The last step of [1, steps, units].
Tensor Last(const Tensor& sequence) {
  const int64_t T = sequence.shape()[1];
  return Slice(sequence, 1, T - 1, T);
}

void ExpectRowNear(const Tensor& batch, int64_t row, const Tensor& single,
                   const std::string& what) {
  const int64_t width = batch.numel() / batch.shape()[0];
  ASSERT_EQ(single.numel(), width) << what;
  for (int64_t j = 0; j < width; ++j) {
    EXPECT_NEAR(batch.data()[row * width + j], single.data()[j], 1e-6) << what << " " << j;
  }
}

// Embedding(mask_zero) -> Dense -> LSTM in a functional model: each padded sequence, right-
// or left-padded, gives what its tokens give alone through the same layers.
TEST(MaskingTest, FunctionalEmbeddingDenseLstmIgnoresPadding) {
  ClearSession();
  auto embedding = std::make_shared<Embedding>(EmbeddingOptions(8, 5).MaskZero(true));
  auto dense = std::make_shared<Dense>(6, kTanh);
  auto lstm = std::make_shared<LSTM>(4);
  auto in = Input({6});
  Model model(in, (*lstm)((*dense)((*embedding)(in))), 7);
  model.Eval();
  const Tensor y = model(Ids());
  ASSERT_EQ(y.shape(), (Shape{3, 4}));
  for (size_t i = 0; i < kSequences.size(); ++i) {
    const Tensor h = Tanh(gradway::Add(MatMul(EmbedUnpadded(*embedding, i), dense->kernel()),
                              dense->bias()));
    ExpectRowNear(y, static_cast<int64_t>(i), Last(RunAlone(*lstm, h)),
                  "sequence " + std::to_string(i));
  }
  // Without mask_zero the padding is read as token 0, and the answers change.
  ClearSession();
  auto in2 = Input({6});
  auto plain = std::make_shared<Embedding>(8, 5);
  Model unmasked(in2, LSTM(4)(Dense(6, kTanh)((*plain)(in2))), 7);
  EXPECT_NE(unmasked(Ids()).ToVector(), y.ToVector());
}

// Sequential: Embedding(mask_zero) -> Bidirectional GRU (return_sequences) ->
// GlobalAveragePooling1D averages the real steps only.
TEST(MaskingTest, SequentialBidirectionalAndMaskedAverage) {
  ClearSession();
  Sequential model(11);
  model.Add(Embedding(EmbeddingOptions(8, 5).MaskZero(true).InputShape({6})));
  model.Add(Bidirectional(GRU(RNNOptions(3).ReturnSequences(true))));
  model.Add(GlobalAveragePooling1D());
  model.Eval();
  const Tensor y = model(Ids());
  ASSERT_EQ(y.shape(), (Shape{3, 6}));
  auto& embedding = static_cast<Embedding&>(*model.children()[0].second);
  auto& bi = static_cast<Bidirectional&>(*model.children()[1].second);
  for (size_t i = 0; i < kSequences.size(); ++i) {
    const Tensor x = EmbedUnpadded(embedding, i);
    const Tensor forward = RunAlone(bi.forward_layer(), x);
    const Tensor backward = RunAlone(bi.backward_layer(), x);  // steps last to first
    const Tensor mean = Concat({Mean(forward, 1), Mean(backward, 1)}, -1);
    ExpectRowNear(y, static_cast<int64_t>(i), mean, "sequence " + std::to_string(i));
  }
}

// A layer that does not take masks (Conv1D) drops it: the LSTM after it reads every step.
TEST(MaskingTest, LayersWithoutMaskSupportDropIt) {
  ClearSession();
  auto in = Input({6});
  auto lstm = std::make_shared<LSTM>(4);
  auto conv = std::make_shared<Conv1D>(Conv1DOptions(5, 1));
  auto embedding = std::make_shared<Embedding>(EmbeddingOptions(8, 5).MaskZero(true));
  Model model(in, (*lstm)((*conv)((*embedding)(in))), 3);
  const Tensor y = model(Ids());
  const Tensor direct = lstm->Run((*conv)((*embedding)(Ids()))).output;
  EXPECT_EQ(y.ToVector(), direct.ToVector());
}

// Masking: the steps whose values all equal mask_value are masked and zeroed; an Add of
// two masked branches keeps the steps both keep.
TEST(MaskingTest, MaskingLayerAndMergedMasks) {
  ClearSession();
  Masking masking(MaskingOptions().MaskValue(-1.f));
  const Tensor x = Tensor::FromVector({1, 2, -1, -1, -1, 3, 4, 5, -1, -1, 0, 0}, {2, 3, 2});
  const MaskedTensor r = masking.CallWithMask(x, Tensor());
  EXPECT_EQ(r.mask.ToVector(), (std::vector<float>{1, 0, 1, 1, 0, 1}));
  EXPECT_EQ(r.value.ToVector(), (std::vector<float>{1, 2, 0, 0, -1, 3, 4, 5, 0, 0, 0, 0}));
  EXPECT_EQ(masking(x).ToVector(), r.value.ToVector());

  auto in = Input({3, 2});
  auto a = Masking(MaskingOptions().MaskValue(-1.f))(in);
  auto b = Masking(MaskingOptions().MaskValue(0.f))(in);
  auto lstm = std::make_shared<LSTM>(2);
  Model model(in, (*lstm)(Add()({a, b})), 5);
  const Tensor y = model(x);
  // Sequence 1 keeps step 0 only (step 1 is all -1, step 2 all 0), where a + b = 2 * x.
  const Tensor alone = RunAlone(*lstm, Tensor::FromVector({8, 10}, {1, 1, 2}));
  ExpectRowNear(y, 1, alone, "sequence 1");
  EXPECT_EQ(ErrorOf([] { Masking().Build({4}); }),
            "masking_3 (Masking): expects input (None, timesteps, ...), got (None, 4)");
}

// MultiHeadAttention in a model attends only to real keys: the real positions' outputs do
// not depend on what the padding's embedding holds, and equal Attend with the mask built by
// hand (query and key both real).
TEST(MaskingTest, AttentionIgnoresPaddingKeys) {
  ClearSession();
  auto embedding = std::make_shared<Embedding>(EmbeddingOptions(8, 4).MaskZero(true));
  auto mha = std::make_shared<MultiHeadAttention>(2, 3);
  auto in = Input({6});
  auto e = (*embedding)(in);
  Model model(in, (*mha)({e, e}), 9);
  model.Eval();
  const Tensor y = model(Ids());
  Tensor attend = Tensor::Zeros({3, 6, 6});
  for (int64_t n = 0; n < 3; ++n) {
    for (int64_t t = 0; t < 6; ++t) {
      for (int64_t s = 0; s < 6; ++s) {
        attend.data()[(n * 6 + t) * 6 + s] = kSequences[n][t] != 0 && kSequences[n][s] != 0;
      }
    }
  }
  const Tensor x = (*embedding)(Ids());
  EXPECT_EQ(y.ToVector(), mha->Attend(x, x, Tensor(), attend).ToVector());
  Tensor table = embedding->embeddings();
  for (int c = 0; c < 4; ++c) table.data()[c] += 3.f;  // the padding's vector
  const Tensor again = model(Ids());
  for (int64_t n = 0; n < 3; ++n) {
    for (int64_t t = 0; t < 6; ++t) {
      if (kSequences[n][t] == 0) continue;
      for (int64_t c = 0; c < y.shape()[2]; ++c) {
        const int64_t i = (n * 6 + t) * y.shape()[2] + c;
        EXPECT_EQ(again.data()[i], y.data()[i]) << n << ", " << t;
      }
    }
  }
}

TEST(MaskingTest, Errors) {
  ClearSession();
  Embedding embedding(EmbeddingOptions(4, 2).MaskZero(true));
  EXPECT_EQ(ErrorOf([&] { embedding.CallWithMask(Tensor::Zeros({2, 3, 1}), Tensor()); }),
            "embedding (Embedding): mask_zero needs ids [batch, steps], got (2, 3, 1)");
  GlobalAveragePooling1D pool;
  EXPECT_EQ(ErrorOf([&] { pool.CallWithMask(Tensor::Zeros({2, 3, 4}), Tensor::Ones({2, 4})); }),
            "global_average_pooling1d (GlobalAveragePooling1D): the mask must be (2, 3) for "
            "input of shape (2, 3, 4), got (2, 4)");
  // A fully masked sequence averages to zeros (Keras divides 0 by 0).
  const MaskedTensor r =
      pool.CallWithMask(Tensor::Ones({2, 3, 4}), Tensor::FromVector({1, 0, 1, 0, 0, 0}, {2, 3}));
  EXPECT_EQ(r.value.ToVector(), (std::vector<float>{1, 1, 1, 1, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace nn
}  // namespace gradway
