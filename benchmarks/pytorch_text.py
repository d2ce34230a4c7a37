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


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["spam"], default="spam")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=64)
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
