#!/usr/bin/env python3
"""Record an audit event on a Vellum events log and verify it in Python.

    python record_and_verify.py --server http://127.0.0.1:6962 --vkey vellum-data/log.vkey

1. Records one audit event (Log.Record) and waits for a checkpoint to
   cover it.
2. Fetches the stored entry, its inclusion proof and the latest signed
   checkpoint (Log.GetEntryAndProof).
3. Verifies here, trusting nothing the server says:
   * the checkpoint's Ed25519 signature by the log's key (C2SP
     signed-note; key id = first 4 bytes of
     SHA-256(name || 0x0A || 0x01 || public key));
   * the RFC 6962 inclusion proof of the entry in the checkpoint's tree
     (leaf SHA-256(0x00 || entry), node SHA-256(0x01 || left || right),
     checked with the algorithm of RFC 9162, section 2.1.3.2).

Prints `ok` and exits 0; exits 1 with `error: <reason>` on stderr when
something does not verify; exits 2 when it could not check (server
unreachable, bad arguments). Run generate.py first (see README.md).
"""

import argparse
import base64
import datetime
import hashlib
import os
import pathlib
import sys
import uuid

HERE = pathlib.Path(__file__).resolve().parent


class Invalid(Exception):
    """What was checked does not verify (exit 1)."""


class Trouble(Exception):
    """The check could not be made (exit 2)."""


# --- C2SP signed notes and checkpoints -----------------------------------

ED25519 = 0x01


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """C2SP signed-note key id: SHA-256(name || 0x0A || type || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()[:4]


def parse_vkey(text: str):
    """`<name>+<hex key id>+<base64(0x01 || 32-byte Ed25519 key)>`."""
    try:
        name, hex_id, b64 = text.strip().split("+", 2)
        raw = base64.b64decode(b64, validate=True)
        given_id = bytes.fromhex(hex_id)
    except ValueError as e:
        raise Trouble(f"the vkey is not <name>+<hex id>+<base64 key>: {e}") from e
    if len(raw) != 33 or raw[0] != ED25519 or len(given_id) != 4:
        raise Trouble("the vkey is not an Ed25519 verifier key (type 0x01, 32 bytes)")
    public_key = raw[1:]
    if key_id(name, ED25519, public_key) != given_id:
        raise Trouble("the vkey's key id does not match its name and key")
    return name, given_id, public_key


def verify_note(note: bytes, name: str, kid: bytes, public_key: bytes) -> str:
    """Checks that `note` carries a valid signature by the key; returns its text."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        whole = note.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Invalid("the checkpoint is not UTF-8") from e
    sep = whole.find("\n\n")
    if sep < 0 or not whole.endswith("\n"):
        raise Invalid("the checkpoint is not a signed note (no blank line before signatures)")
    text, signatures = whole[: sep + 1], whole[sep + 2 :]
    key = Ed25519PublicKey.from_public_bytes(public_key)
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            raise Invalid(f"a signature line does not start with an em dash: {line!r}")
        try:
            signer, b64 = line[2:].split(" ")
            raw = base64.b64decode(b64, validate=True)
        except ValueError as e:
            raise Invalid(f"malformed signature line {line!r}") from e
        if signer != name or raw[:4] != kid or len(raw) != 68:
            continue  # another key's signature (a witness's cosignature)
        try:
            key.verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature as e:
            raise Invalid(f"the checkpoint's signature by {name} does not verify") from e
        return text
    raise Invalid(f"the checkpoint carries no signature by the log's key {name} (key id {kid.hex()})")


def parse_checkpoint(text: str, origin: str):
    """C2SP tlog-checkpoint: origin, decimal size, base64 root, extensions."""
    lines = text.split("\n")
    if len(lines) < 4:
        raise Invalid("the checkpoint has fewer than three lines")
    if lines[0] != origin:
        raise Invalid(f"the checkpoint is of log {lines[0]!r}, not {origin!r}")
    if not lines[1].isdigit() or (lines[1] != "0" and lines[1].startswith("0")):
        raise Invalid(f"the checkpoint's size {lines[1]!r} is not a decimal number")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError as e:
        raise Invalid("the checkpoint's root is not base64") from e
    if len(root) != 32:
        raise Invalid("the checkpoint's root is not 32 bytes")
    return int(lines[1]), root


# --- RFC 6962 / RFC 9162 Merkle trees ------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index: int, size: int, leaf: bytes, proof, root: bytes) -> None:
    """RFC 9162, 2.1.3.2: the inclusion proof of `leaf` at `index` in a tree
    of `size` leaves whose root is `root`."""
    if index >= size:
        raise Invalid(f"index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != 32:
            raise Invalid("a proof hash is not 32 bytes")
        if sn == 0:
            raise Invalid("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Invalid("the inclusion proof is shorter than the tree is deep")
    if r != root:
        raise Invalid("the inclusion proof does not lead to the checkpoint's root")


# --- the calls ------------------------------------------------------------


def channel(server, ca):
    import grpc

    if server.startswith("https://"):
        roots = pathlib.Path(ca).read_bytes() if ca else None
        return grpc.secure_channel(server[len("https://") :], grpc.ssl_channel_credentials(roots))
    if server.startswith("http://"):
        return grpc.insecure_channel(server[len("http://") :])
    raise Trouble(f"--server {server!r}: give http://host:port or https://host:port")


def record_and_verify(args) -> None:
    sys.path.insert(0, str(args.generated))
    try:
        import grpc
        from vellum.v1 import events_pb2, log_pb2, log_pb2_grpc
    except ImportError as e:
        raise Trouble(f"no generated client in {args.generated} (run generate.py): {e}") from e

    name, kid, public_key = parse_vkey(pathlib.Path(args.vkey).read_text())
    metadata = []
    token = pathlib.Path(args.token_file).read_text().strip() if args.token_file else os.environ.get("VELLUM_TOKEN")
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    if args.log:
        metadata.append(("vellum-log", args.log))

    event = events_pb2.AuditEvent(
        actor=events_pb2.Actor(id=args.actor, kind="user"),
        action="document.update",
        resource=events_pb2.Resource(kind="document", id=args.resource),
        outcome=events_pb2.Outcome(result=events_pb2.Outcome.RESULT_SUCCESS),
        event_time=datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
        attributes={"client": "examples/python"},
        payload=b'{"after":{"title":"Q3 report"}}',
        event_id=str(uuid.uuid4()),
    )
    with channel(args.server, args.ca) as ch:
        stub = log_pb2_grpc.LogStub(ch)
        try:
            recorded = stub.Record(
                log_pb2.RecordRequest(event=event, wait=log_pb2.WAIT_FOR_CHECKPOINT),
                metadata=metadata,
                timeout=30,
            )
            got = stub.GetEntryAndProof(
                log_pb2.GetEntryAndProofRequest(index=recorded.index, tree_size=0),
                metadata=metadata,
                timeout=30,
            )
        except grpc.RpcError as e:
            raise Trouble(f"{args.server}: {e.code().name}: {e.details()}") from e

    if got.entry != recorded.recorded or got.index != recorded.index:
        raise Invalid(f"the entry served at index {got.index} is not the event recorded at {recorded.index}")
    text = verify_note(got.checkpoint, name, kid, public_key)
    size, root = parse_checkpoint(text, name)
    if got.tree_size != size:
        raise Invalid(f"the proof is for a tree of size {got.tree_size}, the checkpoint's is {size}")
    verify_inclusion(got.index, size, leaf_hash(got.entry), list(got.proof), root)
    print(
        f"event {recorded.index} is in {name} at size {size} (leaf {leaf_hash(got.entry).hex()[:16]}...)",
        file=sys.stderr,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", default="http://127.0.0.1:6962", help="the log's gRPC URL, http:// or https://")
    p.add_argument("--vkey", required=True, help="the log's verifier key file (e.g. vellum-data/log.vkey)")
    p.add_argument("--ca", help="PEM CA certificate(s) of an https:// server")
    p.add_argument("--token-file", help="a bearer token with the append and read roles (else $VELLUM_TOKEN)")
    p.add_argument("--log", help="the log's name on a server with several (the vellum-log header)")
    p.add_argument("--actor", default="alice@example.com")
    p.add_argument("--resource", default="doc-7")
    p.add_argument(
        "--generated", type=pathlib.Path, default=HERE / "generated", help="where generate.py wrote the client"
    )
    args = p.parse_args()
    try:
        record_and_verify(args)
    except Invalid as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (Trouble, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
