// Text after images: a spam filter for e-mail, step by step, on the SpamAssassin public
// corpus (6,046 messages; data/install_text.sh installs it). Each message's subject and
// body go through a TextVectorization-like tokenizer (a vocabulary of the training set's
// most frequent words, beside the model), an Embedding that masks the padding, a
// bidirectional LSTM and a sigmoid: the probability that the message is spam. Trained
// with binary cross-entropy and Adam, with the chapter's callbacks (best checkpoint, early
// stopping, history.csv, crash-safe backups) and curves; reports the test accuracy,
// precision and recall, and classifies --classify's message.
//
//   bazel run //examples:spam_classifier -- --help
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "data/file_util.h"
#include "data/text_corpora.h"
#include "data/text_vectorization.h"
#include "examples/cli.h"
#include "examples/mnist_common.h"
#include "nn/nn.h"

ABSL_FLAG(int64_t, max_tokens, 20000, "Vocabulary size (padding and [UNK] included).");
ABSL_FLAG(int64_t, sequence_length, 250, "Words read of each message (subject first).");
ABSL_FLAG(int64_t, embedding_dim, 32, "Width of the word vectors.");
ABSL_FLAG(int64_t, units, 32, "LSTM units in each direction.");
ABSL_FLAG(std::string, cell, "lstm", "The recurrent layer: lstm or gru.");
ABSL_FLAG(double, learning_rate, 2e-3, "Adam's learning rate.");
ABSL_FLAG(std::string, classify, "", "A message to classify with the trained model.");

using namespace gradway;  // NOLINT: an example

namespace {

// The messages of one split: texts and labels (1 spam, 0 ham).
struct Split {
  std::vector<std::string> texts;
  std::vector<float> labels;
};

// ids [N, sequence_length] as floats (the model's input) and labels [N, 1].
std::pair<Tensor, Tensor> Encode(const data::TextVectorization& tokenizer, const Split& s) {
  const int64_t n = static_cast<int64_t>(s.texts.size());
  const int64_t length = tokenizer.options().sequence_length;
  Tensor x = Tensor::Zeros({n, length}), y = Tensor::Zeros({n, 1});
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int32_t> ids = tokenizer.Encode(s.texts[i]);
    std::copy(ids.begin(), ids.end(), x.data() + i * length);
    y.data()[i] = s.labels[i];
  }
  return {x, y};
}

int64_t Count(const std::vector<float>& labels) {
  return static_cast<int64_t>(std::count(labels.begin(), labels.end(), 1.f));
}

// Keeps the first `samples` messages of s (0: all).
void KeepFirst(Split& s, int64_t samples) {
  if (samples > 0 && samples < static_cast<int64_t>(s.texts.size())) {
    s.texts.resize(samples);
    s.labels.resize(samples);
  }
}

// The corpus in MixSeed order, split 15% test, 15% validation, the rest train
// (--train_samples and --test_samples keep the first of theirs); prints the counts.
std::tuple<Split, Split, Split> LoadSplits(const examples::MnistConfig& config) {
  absl::StatusOr<std::vector<data::Email>> emails = data::LoadSpamAssassin(
      config.data_dir.empty() ? data::DefaultSpamAssassinDir() : config.data_dir);
  if (!emails.ok()) examples::Die(std::string(emails.status().message()), 1);
  const std::vector<size_t> order = examples::SeededOrder(emails->size(), config.seed);
  const size_t n = order.size(), n_test = n * 15 / 100, n_val = n * 15 / 100;
  Split train, val, test;
  for (size_t k = 0; k < n; ++k) {
    const data::Email& e = (*emails)[order[k]];
    Split& s = k < n_test ? test : k < n_test + n_val ? val : train;
    s.texts.push_back(data::EmailSubjectAndBody(e.text));
    s.labels.push_back(e.spam ? 1.f : 0.f);
  }
  KeepFirst(train, config.train_samples);
  KeepFirst(test, config.test_samples);
  std::printf("SpamAssassin: %zu messages; train %zu (%lld spam), validation %zu, test %zu\n",
              n, train.texts.size(), static_cast<long long>(Count(train.labels)),
              val.texts.size(), test.texts.size());
  return {std::move(train), std::move(val), std::move(test)};
}

// ids -> Embedding (id 0 masked) -> a bidirectional LSTM or GRU -> Dense(1, sigmoid).
std::unique_ptr<nn::Model> MakeSpamModel(const data::TextVectorization& tokenizer,
                                         const std::string& cell, uint64_t seed) {
  const int64_t units = absl::GetFlag(FLAGS_units);
  auto ids = nn::Input({tokenizer.options().sequence_length}, "ids");
  auto h = nn::Embedding(nn::EmbeddingOptions(tokenizer.vocabulary_size(),
                                              absl::GetFlag(FLAGS_embedding_dim))
                             .MaskZero(true))(ids);
  h = cell == "lstm" ? nn::Bidirectional(nn::LSTM(units))(h)
                     : nn::Bidirectional(nn::GRU(units))(h);
  return std::make_unique<nn::Model>(ids, nn::Dense(1, nn::kSigmoid)(h), seed);
}

}  // namespace

int main(int argc, char** argv) {
  examples::MnistFlagDefaults defaults;
  defaults.batch_size = 64;
  defaults.epochs = 10;
  defaults.patience = 3;
  const examples::MnistConfig config = examples::ParseMnistFlags(
      argc, argv, "Trains a spam filter (Embedding, bidirectional LSTM) on the SpamAssassin "
      "corpus. --data_dir: the corpus folder (default: the one data/install_text.sh fills).",
      defaults);
  const std::string cell = absl::GetFlag(FLAGS_cell);
  if (cell != "lstm" && cell != "gru") examples::Die("--cell must be lstm or gru", 2);

  // 1. The data: every message's subject and body, shuffled with the seed and split 70%
  //    train, 15% validation, 15% test.
  const auto [train, val, test] = LoadSplits(config);

  // 2. The tokenizer: lowercase, strip punctuation, split on whitespace; the training
  //    split's most frequent words; every message as --sequence_length ids (0 pads).
  data::TextVectorization tokenizer(data::TextVectorizationOptions()
                                        .MaxTokens(absl::GetFlag(FLAGS_max_tokens))
                                        .SequenceLength(absl::GetFlag(FLAGS_sequence_length)));
  tokenizer.Adapt(train.texts);
  const std::string vocabulary = config.model_dir + "/vocabulary.json";
  absl::Status saved = data::MakeDirs(config.model_dir);
  if (saved.ok() && config.rank == 0) saved = tokenizer.Save(vocabulary);  // rank 0 writes
  if (!saved.ok()) {
    examples::Die(std::string(saved.message()), 1);
  }
  std::printf("Vocabulary: %lld tokens, saved as %s\n",
              static_cast<long long>(tokenizer.vocabulary_size()), vocabulary.c_str());
  const auto [x_train, y_train] = Encode(tokenizer, train);
  const auto [x_val, y_val] = Encode(tokenizer, val);
  const auto [x_test, y_test] = Encode(tokenizer, test);

  // 3. The model: ids -> word vectors (id 0 masked) -> a bidirectional LSTM over the real
  //    words -> the probability of spam.
  const std::unique_ptr<nn::Model> spam = MakeSpamModel(tokenizer, cell, config.seed);
  nn::Model& model = *spam;
  model.Summary();

  // 4. Training.
  model.Compile(nn::BinaryCrossentropy(),
                nn::Adam(nn::AdamOptions().LearningRate(absl::GetFlag(FLAGS_learning_rate))),
                {"accuracy", "precision", "recall"});
  nn::History history = model.Fit(x_train, y_train,
                                  nn::FitOptions()
                                      .Epochs(config.epochs)
                                      .BatchSize(config.batch_size)
                                      .Distributed(config.world)
                                      .ValidationData(x_val, y_val)
                                      .Callbacks(examples::ChapterCallbacks(config)));

  // 5. Test accuracy, precision and recall; the curves; the trained model.
  nn::Logs t = model.Evaluate(x_test, y_test, config.batch_size);
  std::printf("Test precision: %.4f  recall: %.4f\n", t.Get("precision"), t.Get("recall"));
  examples::SaveFinalModel(model, config);
  examples::WriteLossPlot(history, config, "SpamAssassin: loss per epoch");
  examples::WriteAccuracyPlot(history, config, "SpamAssassin: accuracy per epoch");

  // 6. A message of the user's.
  const std::string message = absl::GetFlag(FLAGS_classify);
  if (!message.empty()) {
    const float p = model.Predict(Encode(tokenizer, {{message}, {0.f}}).first).data()[0];
    std::printf("\"%s\": %s (spam probability %.4f)\n", message.c_str(),
                p > 0.5f ? "spam" : "ham", p);
  }
  return examples::ReportTestAccuracy(t.Get("accuracy"), config);
}
