"""cc_fuzzer(): a libFuzzer fuzz target, declared in the BUILD file beside the code it fuzzes.

The fuzz target is a C++ source defining `extern "C" int LLVMFuzzerTestOneInput(const
uint8_t* data, size_t size)`, with a seed corpus checked in beside it (fuzz/<stem>_corpus/
for a target named <stem>_fuzzer). One source, two builds:

  bazel build --config=fuzz //data:idx_fuzzer   a libFuzzer binary (clang, ASan, UBSan):
      bazel-bin/data/idx_fuzzer CORPUS_COPY/ -max_total_time=600
  bazel test //...                               //data:idx_fuzzer_test replays every file
      of the corpus through the same LLVMFuzzerTestOneInput (//fuzzing:replay_main), so the
      seeds and every regression input stay tests; a crash or an escaping exception fails it.

docs/build.md ("Fuzzing") says how to fuzz for long and how findings become regression
inputs; .ci/fuzz.sh builds and briefly runs every target tagged "fuzzer".
"""

load("//:cc.bzl", "cc_library", "cc_binary", "cc_test")

# --define=fuzzing=1, set by --config=fuzz (.bazelrc).
_FUZZING = "//fuzzing:fuzzing_enabled"

def cc_fuzzer(name, srcs, deps = [], corpus = None, size = "small"):
    """A fuzz target `name` (cc_binary) and `name`_test replaying its corpus.

    Args:
      name: the target's name; must end in "_fuzzer".
      srcs: the sources; one defines LLVMFuzzerTestOneInput.
      deps: what they use.
      corpus: the corpus folder, relative to the package; default "fuzz/<stem>_corpus" for
        a name "<stem>_fuzzer". Every file under it is replayed by `name`_test.
      size: the replay test's size.
    """
    if not name.endswith("_fuzzer"):
        fail("cc_fuzzer: the name '%s' must end in _fuzzer" % name)
    if corpus == None:
        corpus = "fuzz/%s_corpus" % name[:-len("_fuzzer")]

    # Compiled once for both the fuzzer and the replay test.
    cc_library(
        name = name + "_target",
        srcs = srcs,
        deps = deps,
        alwayslink = True,
    )

    # libFuzzer's main() when fuzzing, the corpus replayer otherwise.
    main = select({
        _FUZZING: [],
        "//conditions:default": ["//fuzzing:replay_main"],
    })
    linkopts = select({
        _FUZZING: ["-fsanitize=fuzzer"],
        "//conditions:default": [],
    })
    cc_binary(
        name = name,
        deps = [":" + name + "_target"] + main,
        linkopts = linkopts,
        tags = ["fuzzer"],
    )
    native.filegroup(
        name = name + "_corpus",
        srcs = native.glob([corpus + "/**"]),
    )

    # libFuzzer, given files rather than a folder, also just runs each once.
    cc_test(
        name = name + "_test",
        size = size,
        deps = [":" + name + "_target"] + main,
        linkopts = linkopts,
        data = [":" + name + "_corpus"],
        args = ["$(locations :%s_corpus)" % name],
    )
