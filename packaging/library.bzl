"""Rules that turn gradway's Bazel libraries into what an install puts in a prefix.

- `installed_library`: lib<name>.a and lib<name>.so (soname lib<name>.so.MAJOR) holding the
  objects of gradway's own libraries that `deps` link, less those `exclude` links. Bazel
  4.2.3 has neither cc_static_library nor cc_shared_library, and a `linkshared` cc_binary
  keeps only the objects something in it references, which for a library is none.
- `own_headers`: the header files of gradway's own libraries that `deps` see, for the
  install's header closure (packaging/header_closure.sh picks the public ones).

"Own" means declared in gradway's repository, as opposed to @gradway_system's Debian
libraries, which have no archive of their own, only link options; those options are what
the shared library is linked with (as needed, so that it names only the ones it uses).
"""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")

def _own(label):
    return label.workspace_name in ["", "gradway"]

def _archives_and_flags(deps):
    archives = {}
    flags = {}  # owner -> its link options, in link order
    for dep in deps:
        for linker_input in dep[CcInfo].linking_context.linker_inputs.to_list():
            if not _own(linker_input.owner):
                flags[str(linker_input.owner)] = linker_input.user_link_flags
                continue
            for lib in linker_input.libraries:
                archive = lib.pic_static_library or lib.static_library
                if archive != None:
                    archives[archive.path] = archive
    return archives, flags

def _installed_library_impl(ctx):
    excluded, _ = _archives_and_flags(ctx.attr.exclude)
    archives, flags = _archives_and_flags(ctx.attr.deps)
    archives = [a for p, a in sorted(archives.items()) if p not in excluded]
    static = ctx.outputs.static
    shared = ctx.outputs.shared

    # ar's MRI script: CREATE the archive, ADDLIB each library (all of its members), SAVE.
    mri = ctx.actions.declare_file(ctx.label.name + ".mri")
    ctx.actions.write(
        output = mri,
        content = "\n".join(
            ["CREATE " + static.path] + ["ADDLIB " + a.path for a in archives] + ["SAVE", "END", ""],
        ),
    )
    link_flags = []
    for owner in sorted(flags):
        link_flags += flags[owner]
    shared_libs = ctx.files.shared_deps
    cc = find_cpp_toolchain(ctx).compiler_executable
    command = " ".join([
        "ar -M < %s && ranlib %s &&" % (mri.path, static.path),
        "major=$(cut -d. -f1 %s) &&" % ctx.file.version.path,
        cc,
        "-shared -o",
        shared.path,
        "-Wl,-soname,lib%s.so.$major" % ctx.label.name,
        "-Wl,--whole-archive",
        static.path,
        "-Wl,--no-whole-archive",
        # gradway's own shared libraries are needed whatever this one references of them
        # (libgradway_mpi -> libgradway.so.MAJOR; Debian's gcc links --as-needed by
        # default); the rest only as needed.
        "-Wl,--no-as-needed",
        " ".join([f.path for f in shared_libs]),
        "-Wl,--as-needed",
        " ".join(["'%s'" % f for f in link_flags]),
        "-lstdc++ -lm -pthread",
        # --linkopt (e.g. --config=asan's -fsanitize=address,undefined, which the objects
        # need at link time as every binary of the build does)
        " ".join(["'%s'" % f for f in ctx.fragments.cpp.linkopts]),
        "-Wl,-z,defs",  # every symbol resolved: nothing left for the user to find
    ])
    ctx.actions.run_shell(
        inputs = archives + shared_libs + [mri, ctx.file.version],
        outputs = [static, shared],
        command = command,
        tools = find_cpp_toolchain(ctx).all_files,
        mnemonic = "InstalledLibrary",
        use_default_shell_env = True,  # PATH, for gcc to find ld
        progress_message = "Linking lib%s.a and lib%s.so from %d libraries" %
                           (ctx.label.name, ctx.label.name, len(archives)),
    )
    return [DefaultInfo(files = depset([static, shared]))]

installed_library = rule(
    implementation = _installed_library_impl,
    attrs = {
        "deps": attr.label_list(providers = [CcInfo], mandatory = True),
        "exclude": attr.label_list(providers = [CcInfo]),
        "shared_deps": attr.label_list(allow_files = [".so"]),
        "version": attr.label(allow_single_file = True, mandatory = True),
        "_cc_toolchain": attr.label(
            default = Label("@bazel_tools//tools/cpp:current_cc_toolchain"),
        ),
    },
    outputs = {"static": "lib%{name}.a", "shared": "lib%{name}.so"},
    fragments = ["cpp"],
    toolchains = ["@bazel_tools//tools/cpp:toolchain_type"],
    incompatible_use_toolchain_transition = True,
)

def _own_headers_impl(ctx):
    headers = []
    for dep in ctx.attr.deps:
        for h in dep[CcInfo].compilation_context.headers.to_list():
            if _own(h.owner) and h.is_source:
                headers.append(h)
    return [DefaultInfo(files = depset(headers), runfiles = ctx.runfiles(files = headers))]

own_headers = rule(
    implementation = _own_headers_impl,
    attrs = {"deps": attr.label_list(providers = [CcInfo], mandatory = True)},
)
