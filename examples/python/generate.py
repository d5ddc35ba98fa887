#!/usr/bin/env python3
"""Generate the Python gRPC client of Vellum from the repository's proto/.

    python generate.py [--out DIR]

writes vellum/v1/{log,events}_pb2.py and log_pb2_grpc.py under DIR
(default: generated/ beside this script, which git ignores). Uses
grpcio-tools' bundled protoc: no system protoc needed.
"""

import argparse
import pathlib
import sys

from grpc_tools import protoc

try:  # Python 3.9+: the well-known types shipped with grpcio-tools.
    from importlib.resources import files as _files

    _WKT = str(_files("grpc_tools") / "_proto")
except ImportError:  # pragma: no cover
    import pkg_resources

    _WKT = pkg_resources.resource_filename("grpc_tools", "_proto")

HERE = pathlib.Path(__file__).resolve().parent
PROTO = HERE.parent.parent / "proto"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=pathlib.Path, default=HERE / "generated")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = sorted(str(f.relative_to(PROTO)) for f in (PROTO / "vellum" / "v1").glob("*.proto"))
    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO}",
            f"-I{_WKT}",
            f"--python_out={args.out}",
            f"--grpc_python_out={args.out}",
            *files,
        ]
    )
    if rc != 0:
        print(f"error: protoc failed ({rc}) on {', '.join(files)}", file=sys.stderr)
        return 2
    print(f"generated the client of {', '.join(files)} in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
