#!/usr/bin/python3
"""Runs an emu experiment through the gRPC API from Python.

A second, independent gRPC implementation (Debian's python3-grpcio) driving
ExperimentService: it streams the progress events and prints the result.
The stubs are generated at run time from proto/experiment.proto with
grpc_tools.protoc into a temporary directory.

  /usr/bin/python3 examples/python/run_experiment.py LAB EXPERIMENT.yaml \
      [--param NAME=VALUE ...] [--cluster /run/emu/local/cluster.json]

Use /usr/bin/python3: Debian's grpc modules load only under it. Exits 0
when the run succeeded, 1 when it failed, 2 on a usage or API error.
"""
import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile


def generate_stubs(proto_root):
    """Compiles proto/experiment.proto; returns the directory to import."""
    from grpc_tools import protoc
    out = tempfile.mkdtemp(prefix="emu-py-")
    # Generated code is this run's only: nothing is left behind.
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    rc = protoc.main([
        "protoc", f"-I{proto_root}", f"--python_out={out}",
        f"--grpc_python_out={out}",
        os.path.join(proto_root, "proto", "experiment.proto"),
    ])
    if rc != 0:
        sys.exit(f"run_experiment: protoc failed on {proto_root}/proto")
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lab")
    parser.add_argument("experiment", help="experiment file (YAML)")
    parser.add_argument("--param", action="append", default=[],
                        metavar="NAME=VALUE", help="a ${NAME} value")
    parser.add_argument(
        "--cluster",
        default=os.environ.get("EMU_CLUSTER", "/run/emu/local/cluster.json"),
        help="cluster file naming the controller and its token file")
    parser.add_argument("--proto-root",
                        default=os.path.normpath(os.path.join(here, "..", "..")),
                        help="directory holding proto/experiment.proto")
    args = parser.parse_args()

    import grpc
    sys.path.insert(0, generate_stubs(args.proto_root))
    from proto import experiment_pb2, experiment_pb2_grpc

    with open(args.cluster) as f:
        cluster = json.load(f)
    with open(cluster["token_file"]) as f:
        token = f.read().strip()
    with open(args.experiment, "rb") as f:
        content = f.read()
    params = {}
    for p in args.param:
        name, sep, value = p.partition("=")
        if not sep:
            parser.error(f"--param {p}: expected NAME=VALUE")
        params[name] = value

    # The controller speaks TLS with the cluster's own CA (docs/security.md)
    # unless the cluster was started with --insecure-plaintext (no pki_dir).
    if cluster.get("pki_dir"):
        with open(os.path.join(cluster["pki_dir"], "ca.crt"), "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        channel = grpc.secure_channel(
            cluster["controller"], creds,
            options=[("grpc.ssl_target_name_override", "emu-controller")])
    else:
        channel = grpc.insecure_channel(cluster["controller"])
    stub = experiment_pb2_grpc.ExperimentServiceStub(channel)
    request = experiment_pb2.RunExperimentRequest(
        lab=args.lab, file_name=args.experiment, content=content,
        params=params)
    Event = experiment_pb2.ExperimentEvent
    result = None
    try:
        for event in stub.RunExperiment(
                request, metadata=[("authorization", f"Bearer {token}")]):
            if event.kind == Event.TASK_ENDED:
                t = event.task
                print(f"{event.message} (skew {t.skew_us} us)")
            elif event.kind == Event.RUN_ENDED:
                result = event.run
                print(event.message)
    except grpc.RpcError as e:
        print(f"run_experiment: {e.code().name}: {e.details()}", file=sys.stderr)
        return 2
    if result is None:
        print("run_experiment: the stream ended without a result",
              file=sys.stderr)
        return 2
    for name, value in sorted(result.variables.items()):
        print(f"  {name} = {value}")
    return 0 if result.state == experiment_pb2.RUN_SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
