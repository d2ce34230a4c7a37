"""gradway's C++ rules: Bazel's cc_library, cc_binary and cc_test compiled as C++17.

The language level is on gradway's targets themselves, not in a `.bazelrc`, so that another
workspace that depends on `@gradway//nn` builds gradway as gradway needs without adding a
flag of its own (Bazel 4.2.3's auto-configured toolchain passes `-std=c++0x`; a later
`-std=` on the target wins). Every BUILD file of gradway loads these instead of the native
rules.
"""

CXX17 = ["-std=c++17"]

def cc_library(copts = [], **kwargs):
    native.cc_library(copts = CXX17 + copts, **kwargs)

def cc_binary(copts = [], **kwargs):
    native.cc_binary(copts = CXX17 + copts, **kwargs)

def cc_test(copts = [], **kwargs):
    native.cc_test(copts = CXX17 + copts, **kwargs)
