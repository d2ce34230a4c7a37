"""readme_program_test(): compiles and runs a program shown in README.md, so it cannot rot."""

load("//:cc.bzl", "cc_test")

def readme_program_test(name, marker, deps):
    """Extracts the C++ between <!-- MARKER:begin --> and <!-- MARKER:end --> in README.md
    (fences dropped) and runs it as a cc_test that passes when the program exits with 0.

    Args:
      name: the test's name; the extracted source is the genrule name + "_src".
      marker: the README's marker, e.g. "readme-custom-op".
      deps: what the program links.
    """
    native.genrule(
        name = name + "_src",
        srcs = ["//:README.md"],
        outs = [name + ".cc"],
        cmd = ("sed -n '/<!-- %s:begin -->/,/<!-- %s:end -->/p' " % (marker, marker)) +
              "$(location //:README.md) | sed -e '/^<!--/d' -e '/^```/d' > $@ && " +
              "grep -q 'int main' $@",
    )
    cc_test(
        name = name,
        size = "small",
        srcs = [":" + name + "_src"],
        deps = deps,
    )
