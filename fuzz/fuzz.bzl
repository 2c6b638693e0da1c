"""emu_fuzz_target: one libFuzzer target and its regression test.

`bazel build --config=fuzz //fuzz:NAME` links NAME with libFuzzer (clang,
-fsanitize=fuzzer,address); in every other configuration NAME is linked with
//fuzz:run_inputs_main instead and runs the files or directories it is given
once each (how a crash input is replayed under gdb or the normal build).

NAME_regression_test runs the target over its seed corpus and its kept
crash inputs (`corpus/NAME/`, `regressions/NAME/`, plus `seeds`) in every
`bazel test`, including --config=asan. docs/building.md ("Fuzzing").
"""

def emu_fuzz_target(name, srcs, deps, seeds = [], seed_dirs = []):
    native.cc_binary(
        name = name,
        srcs = srcs,
        deps = deps + select({
            "//fuzz:libfuzzer": [],
            "//conditions:default": ["//fuzz:run_inputs_main"],
        }),
        linkopts = select({
            "//fuzz:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
    )
    native.filegroup(
        name = name + "_inputs",
        srcs = native.glob([
            "corpus/" + name + "/**",
            "regressions/" + name + "/**",
        ]) + seeds,
    )
    native.cc_test(
        name = name + "_regression_test",
        srcs = srcs,
        deps = deps + ["//fuzz:run_inputs_main"],
        data = [":" + name + "_inputs"],
        args = [
            "fuzz/" + d + "/" + name
            for d in ["corpus", "regressions"]
            if native.glob([d + "/" + name + "/**"])
        ] + seed_dirs,
    )
