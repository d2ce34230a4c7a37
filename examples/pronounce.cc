// Spelling to sound: a small encoder-decoder Transformer that reads a word's letters and
// writes its phonemes, on the CMU Pronouncing Dictionary (data/install_text.sh installs it),
// step by step. The encoder attends over the letters, the decoder over the phonemes so far
// (a causal mask) and over the letters; padding is masked everywhere (Embedding mask_zero)
// and left out of the loss (MaskedSparseCategoricalCrossentropy). Trained with Adam and the
// chapter's callbacks and curves; reports the phoneme and word error rates of greedy
// decoding on the test split (and, as " Test Accuracy", the share of test words it gets
// entirely right, 1 - WER), and pronounces --words.
//
//   bazel run //examples:pronounce -- --words=gradway,tensor
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "data/text_corpora.h"
#include "examples/cli.h"
#include "examples/mnist_common.h"
#include "nn/nn.h"

ABSL_FLAG(int64_t, dim, 64, "Width of the Transformer (embeddings, attention output).");
ABSL_FLAG(int64_t, heads, 4, "Attention heads (each dim / heads wide).");
ABSL_FLAG(int64_t, ff_dim, 128, "Width of the feed-forward layers.");
ABSL_FLAG(int, layers, 2, "Encoder layers, and as many decoder layers.");
ABSL_FLAG(double, learning_rate, 1e-3, "Adam's learning rate.");
ABSL_FLAG(std::string, words, "", "Comma-separated words to pronounce with the trained model.");

using namespace gradway;  // NOLINT: an example

namespace {

constexpr int64_t kMaxLetters = 20;       // longer words are left out
constexpr int64_t kMaxPhonemes = 20;
constexpr int64_t kSteps = kMaxPhonemes + 1;  // <s> p1 .. pn, and p1 .. pn </s>
constexpr const char* kLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ'";
constexpr float kStart = 1, kEnd = 2;     // phoneme ids 0 (padding), 1, 2, then the phonemes

struct Word {
  std::string spelling;
  std::vector<int64_t> phonemes;  // ids >= 3
};

// Letter ids: 0 padding, then kLetters from 1; -1 for any other character.
int64_t LetterId(char c) {
  const char* p = std::strchr(kLetters, c);
  return c != 0 && p != nullptr ? p - kLetters + 1 : -1;
}

// Whether `word` fits the encoder: at most kMaxLetters of kLetters.
bool IsSpellable(const std::string& word) {
  return word.size() <= static_cast<size_t>(kMaxLetters) &&
         std::all_of(word.begin(), word.end(), [](char c) { return LetterId(c) > 0; });
}

// An ARPAbet phoneme without its stress digit: "AH0" -> "AH".
std::string Unstressed(const std::string& p) { return p.substr(0, p.find_first_of("012")); }

// The first pronunciation of each word of letters and apostrophes, stress digits dropped
// (39 ARPAbet phonemes), within the length limits; the phoneme names by id.
std::vector<Word> PrepareWords(const std::vector<data::Pronunciation>& entries,
                               std::vector<std::string>* names) {
  std::map<std::string, int64_t> ids;
  for (const auto& e : entries) {
    for (const std::string& p : e.phonemes) ids[Unstressed(p)];
  }
  *names = {"", "<s>", "</s>"};
  for (auto& [name, id] : ids) {
    id = static_cast<int64_t>(names->size());
    names->push_back(name);
  }
  std::vector<Word> words;
  for (const auto& e : entries) {
    if (!IsSpellable(e.word) || e.phonemes.size() > static_cast<size_t>(kMaxPhonemes)) {
      continue;  // variants "WORD(1)", abbreviations "A.", long words
    }
    Word w{e.word, {}};
    for (const std::string& p : e.phonemes) w.phonemes.push_back(ids.at(Unstressed(p)));
    words.push_back(std::move(w));
  }
  return words;
}

// letters [N, kMaxLetters], decoder input [N, kSteps] (<s> and the phonemes) and target
// [N, kSteps] (the phonemes and </s>), all ids as floats, 0 padded.
struct Batch {
  Tensor letters, decoder_in, target;
};

Batch Encode(const std::vector<Word>& words) {
  const int64_t n = static_cast<int64_t>(words.size());
  Batch b{Tensor::Zeros({n, kMaxLetters}), Tensor::Zeros({n, kSteps}),
          Tensor::Zeros({n, kSteps})};
  for (int64_t i = 0; i < n; ++i) {
    const Word& w = words[i];
    for (size_t c = 0; c < w.spelling.size(); ++c) {
      b.letters.data()[i * kMaxLetters + c] = static_cast<float>(LetterId(w.spelling[c]));
    }
    b.decoder_in.data()[i * kSteps] = kStart;
    for (size_t p = 0; p < w.phonemes.size(); ++p) {
      b.decoder_in.data()[i * kSteps + p + 1] = static_cast<float>(w.phonemes[p]);
      b.target.data()[i * kSteps + p] = static_cast<float>(w.phonemes[p]);
    }
    b.target.data()[i * kSteps + w.phonemes.size()] = kEnd;
  }
  return b;
}

// Token embeddings (padding masked) plus learned position embeddings.
nn::SymbolicTensor Embed(const nn::SymbolicTensor& ids, int64_t vocabulary, int64_t length,
                         int64_t dim) {
  auto tokens = nn::Embedding(nn::EmbeddingOptions(vocabulary, dim).MaskZero(true))(ids);
  return nn::Add()({tokens, nn::PositionEmbedding(length)(tokens)});
}

// x + f(x), then layer normalisation (the original Transformer's post-norm block).
nn::SymbolicTensor Residual(const nn::SymbolicTensor& x, const nn::SymbolicTensor& fx) {
  return nn::LayerNormalization()(nn::Add()({x, fx}));
}

nn::SymbolicTensor FeedForward(const nn::SymbolicTensor& x, int64_t ff, int64_t dim) {
  return Residual(x, nn::Dense(dim)(nn::Dense(ff, nn::kRelu)(x)));
}

std::unique_ptr<nn::Model> MakeTransformer(int64_t phonemes, uint64_t seed) {
  const int64_t dim = absl::GetFlag(FLAGS_dim), heads = absl::GetFlag(FLAGS_heads);
  const int64_t ff = absl::GetFlag(FLAGS_ff_dim);
  const int layers = absl::GetFlag(FLAGS_layers);
  if (dim < 1 || heads < 1 || dim % heads != 0 || ff < 1 || layers < 1) {
    examples::Die("--dim must be a multiple of --heads; all of them and --ff_dim, --layers >= 1", 2);
  }
  auto letters = nn::Input({kMaxLetters}, "letters");
  auto decoder_in = nn::Input({kSteps}, "phonemes_so_far");
  auto x = Embed(letters, static_cast<int64_t>(std::strlen(kLetters)) + 1, kMaxLetters, dim);
  for (int i = 0; i < layers; ++i) {
    x = Residual(x, nn::MultiHeadAttention(heads, dim / heads)({x, x}));
    x = FeedForward(x, ff, dim);
  }
  auto y = Embed(decoder_in, phonemes, kSteps, dim);
  for (int i = 0; i < layers; ++i) {
    y = Residual(y, nn::MultiHeadAttention(nn::MultiHeadAttentionOptions(heads, dim / heads)
                                               .UseCausalMask(true))({y, y}));
    y = Residual(y, nn::MultiHeadAttention(heads, dim / heads)({y, x}));
    y = FeedForward(y, ff, dim);
  }
  auto next = nn::Dense(phonemes, nn::kSoftmax)(y);
  return std::make_unique<nn::Model>(std::vector<nn::SymbolicTensor>{letters, decoder_in},
                                     std::vector<nn::SymbolicTensor>{next}, seed);
}

// Greedy decoding: each word's phonemes, one step at a time, until </s>.
std::vector<std::vector<int64_t>> Decode(nn::Model& model, const Tensor& letters,
                                         int64_t batch_size) {
  const int64_t n = letters.shape()[0];
  Tensor decoder_in = Tensor::Zeros({n, kSteps});
  for (int64_t i = 0; i < n; ++i) decoder_in.data()[i * kSteps] = kStart;
  std::vector<std::vector<int64_t>> out(n);
  std::vector<bool> done(n, false);
  for (int64_t t = 0; t < kSteps; ++t) {
    const Tensor probs = model.Predict({letters, decoder_in}, batch_size)[0];
    const int64_t v = probs.shape()[2];
    for (int64_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      const float* p = probs.data() + (i * kSteps + t) * v;
      const int64_t best = std::max_element(p, p + v) - p;
      if (best == static_cast<int64_t>(kEnd) || best < 3) {
        done[i] = true;
        continue;
      }
      out[i].push_back(best);
      if (t + 1 < kSteps) decoder_in.data()[i * kSteps + t + 1] = static_cast<float>(best);
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
  }
  return out;
}

int64_t EditDistance(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    int64_t diagonal = row[0];
    row[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int64_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// CMUdict's words in MixSeed order, split 10% test, 5% validation, the rest train
// (--train_samples and --test_samples keep the first of theirs); the phoneme names by id.
std::tuple<std::vector<Word>, std::vector<Word>, std::vector<Word>> LoadSplits(
    const examples::MnistConfig& config, std::vector<std::string>* phoneme_names) {
  absl::StatusOr<std::vector<data::Pronunciation>> entries = data::LoadCmudict(
      config.data_dir.empty() ? data::DefaultCmudictPath() : config.data_dir);
  if (!entries.ok()) examples::Die(std::string(entries.status().message()), 1);
  const std::vector<Word> words = PrepareWords(*entries, phoneme_names);
  const std::vector<size_t> order = examples::SeededOrder(words.size(), config.seed);
  const size_t n = order.size(), n_test = n / 10, n_val = n / 20;
  std::vector<Word> train, val, test;
  for (size_t k = 0; k < n; ++k) {
    (k < n_test ? test : k < n_test + n_val ? val : train).push_back(words[order[k]]);
  }
  if (config.train_samples > 0 && config.train_samples < static_cast<int64_t>(train.size())) {
    train.resize(config.train_samples);
  }
  if (config.test_samples > 0 && config.test_samples < static_cast<int64_t>(test.size())) {
    test.resize(config.test_samples);
  }
  std::printf("CMUdict: %zu words (%zu phonemes); train %zu, validation %zu, test %zu\n", n,
              phoneme_names->size() - 3, train.size(), val.size(), test.size());
  return {std::move(train), std::move(val), std::move(test)};
}

// Greedy decoding of `words` (their letters encoded): the phoneme error rate (edit distance
// over the reference's phonemes) and the word error rate (words with any error).
std::pair<double, double> ErrorRates(nn::Model& model, const Tensor& letters,
                                     const std::vector<Word>& words) {
  const std::vector<std::vector<int64_t>> guesses = Decode(model, letters, 512);
  int64_t edits = 0, phonemes = 0, wrong = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    const int64_t d = EditDistance(guesses[i], words[i].phonemes);
    edits += d;
    phonemes += static_cast<int64_t>(words[i].phonemes.size());
    wrong += d > 0;
  }
  return {static_cast<double>(edits) / std::max<int64_t>(phonemes, 1),
          static_cast<double>(wrong) / std::max<size_t>(words.size(), 1)};
}

// Prints the pronunciation of each comma-separated word of `list` (or why it cannot).
void Pronounce(nn::Model& model, const std::vector<std::string>& phoneme_names,
               const std::string& list) {
  for (absl::string_view w : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    const std::string word = absl::AsciiStrToUpper(w);
    if (!IsSpellable(word)) {
      std::printf("%s: not a word of at most %lld letters A-Z and '\n", word.c_str(),
                  static_cast<long long>(kMaxLetters));
      continue;
    }
    const std::vector<std::vector<int64_t>> g = Decode(model, Encode({{word, {}}}).letters, 1);
    std::vector<std::string> spoken;
    for (int64_t id : g[0]) spoken.push_back(phoneme_names[id]);
    std::printf("%s: %s\n", word.c_str(), absl::StrJoin(spoken, " ").c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  examples::MnistFlagDefaults defaults;
  defaults.batch_size = 128;
  defaults.epochs = 10;
  defaults.patience = 3;
  const examples::MnistConfig config = examples::ParseMnistFlags(
      argc, argv, "Trains a grapheme-to-phoneme Transformer on the CMU Pronouncing "
      "Dictionary. --data_dir: the dictionary file (default: the one data/install_text.sh "
      "installs).", defaults);

  // 1. The data: words of letters and their first pronunciation (no stress marks), in the
  //    order of MixSeed(seed, index); 10% test, 5% validation, the rest train.
  std::vector<std::string> phoneme_names;
  const auto [train, val, test] = LoadSplits(config, &phoneme_names);
  const Batch tr = Encode(train), va = Encode(val), te = Encode(test);

  // 2. The model: letters -> encoder; phonemes so far + encoder -> decoder -> next phoneme.
  std::unique_ptr<nn::Model> model =
      MakeTransformer(static_cast<int64_t>(phoneme_names.size()), config.seed);
  model->Summary();

  // 3. Training: the next phoneme at every step, padding left out of the loss.
  model->Compile(nn::MaskedSparseCategoricalCrossentropy(0),
                 nn::Adam(nn::AdamOptions().LearningRate(absl::GetFlag(FLAGS_learning_rate))));
  nn::History history = model->Fit(
      {tr.letters, tr.decoder_in}, {tr.target},
      nn::FitOptions()
          .Epochs(config.epochs)
          .BatchSize(config.batch_size)
          .Distributed(config.world)
          .ValidationData(nn::PackRows({va.letters, va.decoder_in}), va.target)
          .Callbacks(examples::ChapterCallbacks(config)));
  examples::SaveFinalModel(*model, config);
  examples::WriteLossPlot(history, config, "CMUdict: loss per epoch");

  // 4. Greedy decoding of the test words: phoneme error rate (edit distance over the
  //    reference's phonemes) and word error rate (words with any error).
  const auto [per, wer] = ErrorRates(*model, te.letters, test);
  std::printf(" Test PER: %.4f  WER: %.4f\n", per, wer);
  const int status = examples::ReportTestAccuracy(1.0 - wer, config);  // words right

  // 5. The user's words.
  Pronounce(*model, phoneme_names, absl::GetFlag(FLAGS_words));
  return status;
}
