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
