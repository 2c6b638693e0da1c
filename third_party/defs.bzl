"""Link flags for Debian's system libraries.

`system_libs("grpc", "z")` is `-lgrpc -lz` (the shared libraries) in every
build, except under `--config=release` (.bazelrc; deploy/setup.sh installs
what it builds), where it is `-l:libgrpc.a -l:libz.a`: Debian's static
archives, linked into the binary. A program linked against some 75 shared
libraries (56 of them Abseil's) spent about 60 % of a short `emuctl` call's
CPU in the dynamic loader (symbol lookup through every library, relocation,
page faults): docs/building.md, "Start-up cost".
"""

def system_libs(*names):
    return select({
        "//third_party:static_system_libs": ["-l:lib%s.a" % n for n in names],
        "//conditions:default": ["-l%s" % n for n in names],
    })
