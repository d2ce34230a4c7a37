"""gradway_dependencies(): the repositories gradway needs, for its own WORKSPACE and for
another workspace's.

A workspace that uses gradway (the README's "Using gradway in your own code") writes:

    local_repository(name = "gradway", path = "/path/to/gradway")
    load("@gradway//:deps.bzl", "gradway_dependencies")
    gradway_dependencies()

and depends on `@gradway//nn`, `@gradway//autograd` and the public `@gradway//data:*`.
"""

def _stand_in_impl(ctx):
    # gradway's folder third_party/bazel/<name>, found beside third_party/BUILD, linked
    # entry by entry.
    folder = ctx.path(ctx.attr._third_party).dirname.get_child("bazel").get_child(ctx.name)
    for entry in folder.readdir():
        ctx.symlink(entry, entry.basename)

# A repository made of one of gradway's folders. local_repository cannot name a folder of
# another repository (its path is a path, not a label); this rule finds the folder through
# a label of gradway's and links its files.
_stand_in = repository_rule(
    implementation = _stand_in_impl,
    attrs = {"_third_party": attr.label(default = Label("//third_party:BUILD"))},
    local = True,
)

def _maybe(rule, name, **kwargs):
    if not native.existing_rule(name):
        rule(name = name, **kwargs)

def gradway_dependencies():
    """Declares what gradway needs; a repository the workspace already declares is kept.

    - `rules_cc`, `rules_java`, `remote_coverage_tools`: Bazel 4.2.3 registers its built-in
      toolchains through these three and would otherwise download them, which cannot work
      offline. gradway's stand-ins (third_party/bazel/) re-export Bazel's native rules.
    - `gradway_system`: the Debian libraries gradway links (Highway, oneTBB, Abseil, zlib,
      libpng, libjpeg-turbo, nlohmann-json, Open MPI, GoogleTest, Google Benchmark),
      installed by third_party/install.sh, as `cc_library` targets over /usr
      (third_party/system.BUILD).
    """
    for name in ["rules_cc", "rules_java", "remote_coverage_tools"]:
        _maybe(_stand_in, name = name)
    _maybe(
        native.new_local_repository,
        name = "gradway_system",
        build_file = str(Label("//third_party:system.BUILD")),
        path = "/usr",
    )
