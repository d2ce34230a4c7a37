// The recurrent op: its gradient check for each cell (with masks, go_backwards and initial
// states), failing with the op's backward halved; its outputs against the kernel's packed
// layout; its errors. The numbers against a double loop are ops/recurrent_test.cc's and
// against PyTorch's nn.LSTM/GRU/RNN nn/recurrent_test.cc's.
#include "autograd/recurrent.h"

#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/test_util.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

using testing::ErrorOf;
using testing::RandomLeaf;

int Gates(RecurrentCell cell) {
  return cell == RecurrentCell::kLstm ? 4 : cell == RecurrentCell::kGru ? 3 : 1;
}

const char* Name(RecurrentCell cell) {
  return cell == RecurrentCell::kLstm ? "lstm" : cell == RecurrentCell::kGru ? "gru"
                                                                              : "simple_rnn";
}

// The outputs and final states side by side: [B, (T + 2) * H] (c repeats h but for the LSTM).
Tensor Joined(const RecurrentOutputs& r) {
  const int64_t B = r.sequence.shape()[0], TH = r.sequence.shape()[1] * r.sequence.shape()[2];
  return Concat({Reshape(r.sequence, {B, TH}), r.h, r.c.defined() ? r.c : r.h}, 1);
}

// A mask with a masked step inside, one at the start, and a fully padded sequence.
Tensor TestMask() {
  return Tensor::FromVector({1, 1, 0, 1,  //
                             0, 1, 1, 1,  //
                             0, 0, 0, 0},
                            {3, 4});
}

TEST(RecurrentTest, GradientCheckFailsWithTheBackwardHalved) {
  uint64_t seed = 4000;
  for (RecurrentCell cell :
       {RecurrentCell::kSimpleRnn, RecurrentCell::kGru, RecurrentCell::kLstm}) {
    for (bool backwards : {false, true}) {
      SCOPED_TRACE(std::string(Name(cell)) + (backwards ? " backwards" : ""));
      const int64_t B = 3, T = 4, D = 5, H = 3, GH = Gates(cell) * H;
      const Tensor x = RandomLeaf({B, T, D}, seed++);
      const Tensor kernel = RandomLeaf({D, GH}, seed++, -0.7f, 0.7f);
      const Tensor recurrent = RandomLeaf({H, GH}, seed++, -0.7f, 0.7f);
      const Tensor bias =
          RandomLeaf(cell == RecurrentCell::kGru ? Shape{2, GH} : Shape{GH}, seed++);
      const Tensor h0 = RandomLeaf({B, H}, seed++), c0 = RandomLeaf({B, H}, seed++);
      const Tensor mask = TestMask();
      const RecurrentOptions options{cell, backwards, backwards};
      std::vector<Tensor> inputs{x, kernel, recurrent, bias, h0};
      if (cell == RecurrentCell::kLstm) inputs.push_back(c0);
      testing::ExpectGradCheckCatchesHalvedBackward(
          [&](const std::vector<Tensor>& v) {
            return Joined(Recurrent(v[0], v[1], v[2], v[3], v[4],
                                    v.size() > 5 ? v[5] : Tensor(), mask, options));
          },
          inputs, Name(cell));
      // Without bias, initial states or mask.
      testing::ExpectGradCheckCatchesHalvedBackward(
          [&](const std::vector<Tensor>& v) {
            return Joined(Recurrent(v[0], v[1], v[2], Tensor(), Tensor(), Tensor(), Tensor(),
                                    options));
          },
          {x, kernel, recurrent}, Name(cell));
    }
  }
}

// A masked step repeats the previous output and keeps the state; a fully padded sequence
// outputs zeros and ends in its initial state; with zero_output_for_mask masked outputs
// are zeros.
TEST(RecurrentTest, MaskedStepsKeepTheState) {
  const int64_t B = 3, T = 4, D = 2, H = 3;
  const Tensor x = RandomLeaf({B, T, D}, 10), kernel = RandomLeaf({D, 4 * H}, 11);
  const Tensor recurrent = RandomLeaf({H, 4 * H}, 12), h0 = RandomLeaf({B, H}, 13);
  for (bool zero_output : {false, true}) {
    const RecurrentOutputs r = Recurrent(x, kernel, recurrent, Tensor(), h0, Tensor(),
                                         TestMask(), {RecurrentCell::kLstm, false, zero_output});
    const std::vector<float> y = r.sequence.ToVector(), h = r.h.ToVector();
    for (int64_t u = 0; u < H; ++u) {
      // Sequence 0, step 2 masked.
      EXPECT_EQ(y[(0 * T + 2) * H + u], zero_output ? 0.f : y[(0 * T + 1) * H + u]);
      EXPECT_NE(y[(0 * T + 3) * H + u], y[(0 * T + 1) * H + u]);
      // Sequence 1, step 0 masked: no previous output.
      EXPECT_EQ(y[(1 * T + 0) * H + u], 0.f);
      // Sequence 2, all masked: zeros, and the initial state at the end.
      for (int64_t t = 0; t < T; ++t) EXPECT_EQ(y[(2 * T + t) * H + u], 0.f);
      EXPECT_EQ(h[2 * H + u], h0.data()[2 * H + u]);
      EXPECT_EQ(r.c.ToVector()[2 * H + u], 0.f);
      // The last valid step's output is the final h.
      EXPECT_EQ(h[0 * H + u], y[(0 * T + 3) * H + u]);
    }
  }
}

TEST(RecurrentTest, Errors) {
  const Tensor x = Tensor::Zeros({2, 3, 4});
  const Tensor k = Tensor::Zeros({4, 12}), u = Tensor::Zeros({3, 12});
  const RecurrentOptions gru{RecurrentCell::kGru};
  const RecurrentOptions lstm{RecurrentCell::kLstm};
  EXPECT_EQ(ErrorOf([&] { Recurrent(Tensor::Zeros({2, 4}), k, u, {}, {}, {}, {}, lstm); }),
            "lstm: expected an input [batch, steps, features] with features > 0, got shape "
            "(2, 4)");
  EXPECT_EQ(ErrorOf([&] { Recurrent(x, Tensor::Zeros({5, 12}), u, {}, {}, {}, {}, lstm); }),
            "lstm: the kernel must be [4, 12] for input of shape (2, 3, 4) and 3 units, got "
            "(5, 12)");
  EXPECT_EQ(ErrorOf([&] { Recurrent(x, k, Tensor::Zeros({3, 9}), {}, {}, {}, {}, lstm); }),
            "lstm: the recurrent kernel must be [units, 4 * units] with units > 0, got (3, 9)");
  EXPECT_EQ(ErrorOf([&] {
              Recurrent(x, Tensor::Zeros({4, 9}), Tensor::Zeros({3, 9}), Tensor::Zeros({9}),
                        {}, {}, {}, gru);
            }),
            "gru: the bias must be (2, 9), got (9,)");
  EXPECT_EQ(ErrorOf([&] { Recurrent(x, k, u, {}, Tensor::Zeros({3, 3}), {}, {}, lstm); }),
            "lstm: the initial state h must be (2, 3), got (3, 3)");
  EXPECT_EQ(ErrorOf([&] {
              Recurrent(x, Tensor::Zeros({4, 9}), Tensor::Zeros({3, 9}), {}, {},
                        Tensor::Zeros({2, 3}), {}, gru);
            }),
            "gru: has no state c, got (2, 3)");
  EXPECT_EQ(ErrorOf([&] { Recurrent(x, k, u, {}, {}, {}, Tensor::Zeros({2, 4}), lstm); }),
            "lstm: the mask must be (2, 3) for input of shape (2, 3, 4), got (2, 4)");
}

}  // namespace
}  // namespace gradway
