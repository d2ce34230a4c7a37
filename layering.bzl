"""layering_test(): fails `bazel test //...` when a package breaks the layering.

Visibility already keeps each package to the targets it may use; this test checks the
layering itself, so that widening a visibility list cannot quietly add a back-edge. It also
catches #includes of headers reached only through transitive deps, which visibility does not
see.
"""

def layering_test(name = "layering_test", forbidden = [], forbidden_direct = [], allowed_direct = []):
    """Checks every target defined before it in the BUILD file, and the package's sources.

    Call it last in the BUILD file: it sees only the targets defined above it (and fails,
    naming them, when a target is defined below it). Packages are given as "//ops".

    Args:
      name: the test's name.
      forbidden: packages no target here may depend on, directly or not, and whose
        headers no source here may include.
      forbidden_direct: packages targets here may reach only through other packages: no
        direct dependency on their targets, no #include of their headers.
      allowed_direct: targets exempt from forbidden_direct, e.g. "//ops:adam"; the source
        here may include that target's header ("ops/adam.h").
    """
    pkg = native.package_name()
    rules = sorted(native.existing_rules().keys())
    targets = " ".join(["//%s:%s" % (pkg, r) for r in rules])

    # The dependency graph of every target here, one edge a line. A genquery sees only
    # targets visible to it, so each package runs its own.
    native.genquery(
        name = name + "_graph",
        testonly = True,
        expression = "deps(set(%s))" % targets,
        opts = [
            "--output=graph",
            "--nograph:factored",
        ],
        scope = [":" + r for r in rules],
    )
    native.filegroup(
        name = name + "_srcs",
        testonly = True,
        srcs = native.glob(["*.h", "*.cc", "internal/*.h"]),
    )
    native.sh_test(
        name = name,
        size = "small",
        srcs = ["//:layering_test.sh"],
        args = [
            "--package=//" + pkg,
            "--graph=$(location :%s_graph)" % name,
            "--forbidden=" + ",".join(forbidden),
            "--forbidden_direct=" + ",".join(forbidden_direct),
            "--allowed_direct=" + ",".join(allowed_direct),
            "--checked=" + ",".join(rules + [name, name + "_graph", name + "_srcs"]),
            "--build=$(location BUILD)",
            "$(locations :%s_srcs)" % name,
        ],
        data = [
            "BUILD",
            ":%s_graph" % name,
            ":%s_srcs" % name,
        ],
    )
