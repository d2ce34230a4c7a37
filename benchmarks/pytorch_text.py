#!/usr/bin/env python3
"""The PyTorch twin of gradway's text examples: the same data, split, tokens, model and
training, for benchmarks/train_vs_pytorch.py.

    /usr/bin/python3 benchmarks/pytorch_text.py --model spam --epochs 3 --threads 2

Prints one JSON object of results as the last line of stdout (progress goes to stderr).

  * spam = examples/spam_classifier.cc: the SpamAssassin corpus data/install_text.sh
    installs (${XDG_CACHE_HOME:-~/.cache}/gradway/spam-assassin/<group>/*.txt, groups and
    files in name order, spam-* = 1); each message's Subject header value and body
    (data/text_corpora.h EmailSubjectAndBody); the order by MixSeed(seed, index)
    (base/splitmix.h), first 15% test, next 15% validation, the rest train
    (--train_samples N keeps the first N of it); the tokenizer of data/text_vectorization.h
    (ASCII lowercase, Keras' punctuation stripped, split on whitespace bytes, the training
    split's tokens by count then bytewise, 0 padding, 1 [UNK], --max_tokens 20000,
    --sequence_length 250); Embedding(V, 32) uniform(-0.05, 0.05); a bidirectional LSTM(32)
    over the real tokens (pack_padded_sequence = Keras' mask_zero; an empty message reads
    one padding token, where gradway outputs zeros) with Keras' initialisers (Glorot-uniform
    kernel, orthogonal recurrent kernel, forget-gate bias 1); Dense(1) Glorot-uniform, a
    sigmoid; binary cross-entropy; Adam(lr 2e-3, eps 1e-7); batch 64 reshuffled every epoch.

  * pronounce = examples/pronounce.cc: the CMU Pronouncing Dictionary
    (${XDG_CACHE_HOME:-~/.cache}/gradway/cmudict/dict.txt); the first pronunciation of
    each word of letters A-Z and ' (at most 20 letters and 20 phonemes), stress digits
    dropped; phoneme ids 0 padding, 1 <s>, 2 </s>, then the phonemes in name order; the
    MixSeed order, first 10% test, next 5% validation, the rest train; a post-norm
    encoder-decoder Transformer (--layers 2 each, dim 64, 4 heads, feed-forward 128, ReLU,
    LayerNorm eps 1e-3, learned position embeddings, Keras' initialisers: embeddings
    uniform(-0.05, 0.05), Glorot-uniform kernels and position tables, zero biases), padding
    masked as keys, a causal decoder; cross-entropy ignoring padding (ignore_index 0);
    Adam(lr 1e-3, eps 1e-7), batch 128; greedy decoding of the test words: PER (edit
    distance over the reference's phonemes), WER, and test accuracy = 1 - WER.

Measured as benchmarks/pytorch_mnist.py does: seconds per training epoch (the optimisation
loop only), median over epochs; the final test accuracy; peak RSS. --check_vocabulary FILE
compares the tokenizer with gradway's vocabulary.json and exits 1 when they differ.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

TORCH_ENV = {
    "MALLOC_TRIM_THRESHOLD_": "1000000000",
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "OPENBLAS_NUM_THREADS": "1",
}
MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
PUNCTUATION = set(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
SPACES = b" \t\n\r\x0b\x0c"
GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cache_dir():
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "gradway")
    return os.path.join(os.path.expanduser("~"), ".cache", "gradway")


def splitmix64(z):
    z = (z + GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def mix_seed(seed, step):
    return splitmix64((seed + GAMMA * step) & MASK64)


def header_value(headers, name):
    """data/text_corpora.cc HeaderValue: the first `name:` header, unfolded."""
    value, inside = b"", False
    for line in headers.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if inside and line[:1] in (b" ", b"\t"):
            value += b" " + line
            continue
        inside = False
        # As the C++: a later Subject header replaces the value only while it is empty.
        if (len(line) > len(name) and line[len(name):len(name) + 1] == b":"
                and line[:len(name)].lower() == name.lower() and not value):
            value = line[len(name) + 1:].lstrip(b" \t\n\r\x0b\x0c")
            inside = True
    return value


def subject_and_body(message):
    cut = message.find(b"\n\n")
    crlf = message.find(b"\r\n\r\n")
    if crlf != -1 and (cut == -1 or crlf < cut):
        cut = crlf
    headers, body = (message[:cut], message[cut:]) if cut != -1 else (b"", message)
    out = header_value(headers, b"Subject") + b" " + body
    return out.replace(b"\n", b" ").replace(b"\r", b" ").replace(b"\t", b" ")


def tokens(text):
    out = bytearray()
    for c in text:
        if c in PUNCTUATION:
            continue
        out.append(c + 32 if 65 <= c <= 90 else c)
    return bytes(out).split()  # bytes.split() splits on exactly SPACES


def load_spam(seed, train_samples, test_samples):
    root = os.path.join(cache_dir(), "spam-assassin")
    texts, labels = [], []
    for group in GROUPS:
        folder = os.path.join(root, group)
        for name in sorted(f for f in os.listdir(folder)
                           if f.endswith(".txt") and not f.startswith(".")):
            with open(os.path.join(folder, name), "rb") as f:
                texts.append(subject_and_body(f.read()))
            labels.append(1.0 if group.startswith("spam") else 0.0)
    n = len(texts)
    order = sorted(range(n), key=lambda i: (mix_seed(seed, i), i))
    n_test = n_val = n * 15 // 100
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    if 0 < train_samples < len(train):
        train = train[:train_samples]
    if 0 < test_samples < len(test):
        test = test[:test_samples]
    pick = lambda idx: ([texts[i] for i in idx], [labels[i] for i in idx])
    return pick(train), pick(val), pick(test)


def vocabulary(texts, max_tokens):
    counts = {}
    for t in texts:
        for tok in tokens(t):
            counts[tok] = counts.get(tok, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if max_tokens > 0:
        ranked = ranked[:max_tokens - 2]
    return [tok for tok, _ in ranked]


def encode(texts, vocab, length):
    import torch
    ids = {tok: i + 2 for i, tok in enumerate(vocab)}
    x = torch.zeros(len(texts), length, dtype=torch.int64)
    lengths = []
    for r, t in enumerate(texts):
        row = [ids.get(tok, 1) for tok in tokens(t)][:length]
        x[r, :len(row)] = torch.tensor(row, dtype=torch.int64)
        lengths.append(max(len(row), 1))
    return x, torch.tensor(lengths, dtype=torch.int64)


def keras_lstm_init(lstm, units):
    """Keras' LSTM initialisers on a PyTorch LSTM (each direction)."""
    import torch
    for suffix in ("", "_reverse"):
        w_ih = getattr(lstm, "weight_ih_l0" + suffix)
        w_hh = getattr(lstm, "weight_hh_l0" + suffix)
        with torch.no_grad():
            fan_in, fan_out = w_ih.shape[1], w_ih.shape[0]
            limit = (6.0 / (fan_in + fan_out)) ** 0.5
            w_ih.uniform_(-limit, limit)
            kernel = torch.empty(units, 4 * units)  # Keras' [units, 4 units], rows orthonormal
            torch.nn.init.orthogonal_(kernel)
            w_hh.copy_(kernel.T)
            getattr(lstm, "bias_ih_l0" + suffix).zero_()
            getattr(lstm, "bias_ih_l0" + suffix)[units:2 * units] = 1.0
            getattr(lstm, "bias_hh_l0" + suffix).zero_()


def spam_model(vocab_size, dim, units):
    import torch

    class Spam(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab_size, dim)
            torch.nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            self.lstm = torch.nn.LSTM(dim, units, batch_first=True, bidirectional=True)
            keras_lstm_init(self.lstm, units)
            self.dense = torch.nn.Linear(2 * units, 1)
            torch.nn.init.xavier_uniform_(self.dense.weight)
            torch.nn.init.zeros_(self.dense.bias)

        def forward(self, ids, lengths):
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
            _, (h, _) = self.lstm(packed)
            return self.dense(torch.cat([h[0], h[1]], dim=1)).squeeze(1)  # logits

    return Spam()


# ---------------------------------------------------------------------------------------
# pronounce

MAX_LETTERS, MAX_PHONEMES = 20, 20
STEPS = MAX_PHONEMES + 1
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ'"


def load_cmudict(seed, train_samples, test_samples):
    path = os.path.join(cache_dir(), "cmudict", "dict.txt")
    entries = []
    with open(path, "rb") as f:
        for raw in f.read().split(b"\n"):
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line or line.startswith(b";;;"):
                continue
            fields = line.replace(b"\t", b" ").split()
            if fields:
                entries.append((fields[0].decode("latin-1"),
                                [p.decode() for p in fields[1:]]))
    unstressed = lambda p: p[:next((i for i, c in enumerate(p) if c in "012"), len(p))]
    names = sorted({unstressed(p) for _, ph in entries for p in ph})
    ids = {name: i + 3 for i, name in enumerate(names)}
    words = [(w, [ids[unstressed(p)] for p in ph]) for w, ph in entries
             if len(w) <= MAX_LETTERS and len(ph) <= MAX_PHONEMES
             and all(c in LETTERS for c in w)]
    n = len(words)
    order = sorted(range(n), key=lambda i: (mix_seed(seed, i), i))
    n_test, n_val = n // 10, n // 20
    test = [words[i] for i in order[:n_test]]
    val = [words[i] for i in order[n_test:n_test + n_val]]
    train = [words[i] for i in order[n_test + n_val:]]
    if 0 < train_samples < len(train):
        train = train[:train_samples]
    if 0 < test_samples < len(test):
        test = test[:test_samples]
    return train, val, test, ["", "<s>", "</s>"] + names


def encode_words(words):
    import torch
    n = len(words)
    letters = torch.zeros(n, MAX_LETTERS, dtype=torch.int64)
    dec = torch.zeros(n, STEPS, dtype=torch.int64)
    target = torch.zeros(n, STEPS, dtype=torch.int64)
    for i, (w, ph) in enumerate(words):
        letters[i, :len(w)] = torch.tensor([LETTERS.index(c) + 1 for c in w])
        dec[i, 0] = 1
        if ph:
            dec[i, 1:len(ph) + 1] = torch.tensor(ph)
            target[i, :len(ph)] = torch.tensor(ph)
        target[i, len(ph)] = 2
    return letters, dec, target


def transformer(phonemes, dim, heads, ff, layers):
    import torch
    nn = torch.nn

    def linear(i, o):
        m = nn.Linear(i, o)
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)
        return m

    def embedding(v, length):
        e = nn.Embedding(v, dim)
        nn.init.uniform_(e.weight, -0.05, 0.05)
        pos = nn.Parameter(torch.empty(length, dim))
        nn.init.xavier_uniform_(pos)
        return e, pos

    class Block(nn.Module):
        def __init__(self, cross):
            super().__init__()
            self.att = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.norm1 = nn.LayerNorm(dim, eps=1e-3)
            self.cross = nn.MultiheadAttention(dim, heads, batch_first=True) if cross else None
            self.norm2 = nn.LayerNorm(dim, eps=1e-3) if cross else None
            self.ff1, self.ff2 = linear(dim, ff), linear(ff, dim)
            self.norm3 = nn.LayerNorm(dim, eps=1e-3)

        def forward(self, x, pad, causal=None, memory=None, memory_pad=None):
            x = self.norm1(x + self.att(x, x, x, key_padding_mask=pad, attn_mask=causal,
                                        need_weights=False)[0])
            if self.cross is not None:
                x = self.norm2(x + self.cross(x, memory, memory, key_padding_mask=memory_pad,
                                              need_weights=False)[0])
            return self.norm3(x + self.ff2(torch.relu(self.ff1(x))))

    class G2P(nn.Module):
        def __init__(self):
            super().__init__()
            self.letters, self.letter_pos = embedding(len(LETTERS) + 1, MAX_LETTERS)
            self.phonemes, self.phoneme_pos = embedding(phonemes, STEPS)
            self.encoder = nn.ModuleList(Block(False) for _ in range(layers))
            self.decoder = nn.ModuleList(Block(True) for _ in range(layers))
            self.out = linear(dim, phonemes)
            self.register_buffer("causal", torch.ones(STEPS, STEPS, dtype=torch.bool).triu(1))

        def forward(self, letters, dec):
            pad_x, pad_y = letters == 0, dec == 0
            x = self.letters(letters) + self.letter_pos
            for block in self.encoder:
                x = block(x, pad_x)
            y = self.phonemes(dec) + self.phoneme_pos
            for block in self.decoder:
                y = block(y, pad_y, self.causal, x, pad_x)
            return self.out(y)  # logits

    return G2P()


def greedy(model, letters, batch):
    import torch
    model.eval()
    n = len(letters)
    dec = torch.zeros(n, STEPS, dtype=torch.int64)
    dec[:, 0] = 1
    out = [[] for _ in range(n)]
    done = [False] * n
    with torch.no_grad():
        for t in range(STEPS):
            best = torch.cat([model(letters[i:i + batch], dec[i:i + batch])[:, t].argmax(-1)
                              for i in range(0, n, batch)])
            for i in range(n):
                if done[i]:
                    continue
                b = int(best[i])
                if b < 3:
                    done[i] = True
                    continue
                out[i].append(b)
                if t + 1 < STEPS:
                    dec[i, t + 1] = b
            if all(done):
                break
    return out


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        diagonal, row[0] = row[0], i
        for j in range(1, len(b) + 1):
            up = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1]))
            diagonal = up
    return row[len(b)]


def run_pronounce(args, torch, F):
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.perf_counter()
    train, val, test, names = load_cmudict(args.seed, args.train_samples, args.test_samples)
    l_train, d_train, y_train = encode_words(train)
    l_test, _, _ = encode_words(test)
    load_seconds = time.perf_counter() - t0
    log(f"CMUdict: train {len(train)}, validation {len(val)}, test {len(test)}; "
        f"{len(names) - 3} phonemes; torch {torch.__version__}, {torch.get_num_threads()} threads")
    model = transformer(len(names), args.dim, args.heads, args.ff_dim, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(len(l_train), generator=gen)
        loss_sum, steps = 0.0, 0
        for i in range(0, len(l_train), args.batch_size):
            idx = perm[i:i + args.batch_size]
            logits = model(l_train[idx], d_train[idx])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y_train[idx].reshape(-1),
                                   ignore_index=0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            steps += 1
        seconds = time.perf_counter() - start
        history.append({"epoch": epoch, "loss": loss_sum / steps, "seconds": seconds})
        log(f"epoch {epoch}/{args.epochs}: {seconds:.2f} s, loss {loss_sum / steps:.4f}")
    guesses = greedy(model, l_test, 512)
    edits = sum(edit_distance(g, ph) for g, (_, ph) in zip(guesses, test))
    phonemes = sum(len(ph) for _, ph in test)
    wrong = sum(g != ph for g, (_, ph) in zip(guesses, test))
    per, wer = edits / max(phonemes, 1), wrong / max(len(test), 1)
    log(f"test PER {per:.4f}, WER {wer:.4f}")
    return {"dataset_description": "CMU Pronouncing Dictionary", "train_images": len(train),
            "test_images": len(test), "history": history, "load_seconds": load_seconds,
            "test_accuracy": 1 - wer, "test_per": per, "test_wer": wer}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["spam", "pronounce"], default="spam")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=None,
                        help="default: 64 for spam, 128 for pronounce")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ff_dim", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--train_samples", type=int, default=0)
    parser.add_argument("--test_samples", type=int, default=0)
    parser.add_argument("--max_tokens", type=int, default=20000)
    parser.add_argument("--sequence_length", type=int, default=250)
    parser.add_argument("--check_vocabulary", default="",
                        help="gradway's vocabulary.json: exit 1 unless the tokens are the same")
    parser.add_argument("--no_inference", action="store_true", help="accepted; nothing to skip")
    args = parser.parse_args()
    if any(os.environ.get(k) != v for k, v in TORCH_ENV.items()):
        env = dict(os.environ)
        env.update(TORCH_ENV)
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:],
                  env)
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.batch_size is None:
        args.batch_size = 64 if args.model == "spam" else 128
    if args.model == "pronounce":
        r = run_pronounce(args, torch, F)
        history = r.pop("history")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(json.dumps(dict(
            r, framework="pytorch", torch_version=torch.__version__, model=args.model,
            epochs=args.epochs, threads=torch.get_num_threads(), batch_size=args.batch_size,
            seed=args.seed,
            seconds_per_epoch_median=statistics.median(h["seconds"] for h in history),
            epoch_seconds=[h["seconds"] for h in history], peak_rss_mib=peak,
            history=history)))
        return
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.perf_counter()
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = load_spam(
        args.seed, args.train_samples, args.test_samples)
    vocab = vocabulary(train_x, args.max_tokens)
    if args.check_vocabulary:
        with open(args.check_vocabulary) as f:
            theirs = [bytes.fromhex(t["hex"]) if isinstance(t, dict) else t.encode("utf-8")
                      for t in json.load(f)["vocabulary"]]
        ours = vocab
        if theirs != ours:
            first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                         min(len(ours), len(theirs)))
            log(f"vocabulary differs from {args.check_vocabulary} at id {first + 2}")
            sys.exit(1)
        log(f"vocabulary: the same {len(ours)} tokens as {args.check_vocabulary}")
    x_train, l_train = encode(train_x, vocab, args.sequence_length)
    x_test, l_test = encode(test_x, vocab, args.sequence_length)
    y_train = torch.tensor(train_y)
    y_test = torch.tensor(test_y)
    load_seconds = time.perf_counter() - t0
    log(f"SpamAssassin: train {len(train_x)}, validation {len(val_x)}, test {len(test_x)}; "
        f"vocabulary {len(vocab) + 2}; torch {torch.__version__}, {torch.get_num_threads()} "
        "threads")

    model = spam_model(len(vocab) + 2, 32, 32)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, eps=1e-7)
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(len(x_train), generator=gen)
        loss_sum = 0.0
        for i in range(0, len(x_train), args.batch_size):
            idx = perm[i:i + args.batch_size]
            logits = model(x_train[idx], l_train[idx])
            loss = F.binary_cross_entropy_with_logits(logits, y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            p = torch.cat([model(x_test[i:i + 256], l_test[i:i + 256])
                           for i in range(0, len(x_test), 256)])
        acc = ((p > 0).float() == y_test).float().mean().item()
        history.append({"epoch": epoch, "loss": loss_sum / len(x_train), "seconds": seconds,
                        "test_accuracy": acc})
        log(f"epoch {epoch}/{args.epochs}: {seconds:.2f} s, loss {loss_sum / len(x_train):.4f},"
            f" test accuracy {acc:.4f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({
        "framework": "pytorch", "torch_version": torch.__version__, "model": args.model,
        "dataset_description": "SpamAssassin public corpus",
        "train_images": len(x_train), "test_images": len(x_test), "epochs": args.epochs,
        "threads": torch.get_num_threads(), "batch_size": args.batch_size, "seed": args.seed,
        "seconds_per_epoch_median": statistics.median(h["seconds"] for h in history),
        "epoch_seconds": [h["seconds"] for h in history],
        "test_accuracy": history[-1]["test_accuracy"], "peak_rss_mib": peak,
        "load_seconds": load_seconds, "history": history}))


if __name__ == "__main__":
    main()
