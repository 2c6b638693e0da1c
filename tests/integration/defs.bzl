"""Rules for tests against the real kernel and the real daemons.

They need root, share the kernel, and so run one at a time ("exclusive");
the "integration" tag lets `bazel test --test_tag_filters=-integration //...`
run only the unit tests.
"""

_TAGS = ["exclusive", "integration"]

def integration_cc_test(name, tags = [], **kwargs):
    native.cc_test(name = name, tags = _TAGS + tags, **kwargs)

def integration_sh_test(name, tags = [], **kwargs):
    native.sh_test(name = name, tags = _TAGS + tags, **kwargs)

# What a shell test on a local cluster of its own runs: emuctl, the two
# daemons it starts, and cluster_cleanup.sh (start_cluster_test, fail,
# wait_for). `data` adds the test's own files.
_LOCAL_CLUSTER_DATA = [
    ":cluster_cleanup.sh",
    "//agent:emu-agent",
    "//cli:emuctl",
    "//controller:emu-controller",
]

def local_cluster_sh_test(name, data = [], **kwargs):
    integration_sh_test(name = name, data = _LOCAL_CLUSTER_DATA + data, **kwargs)
