#!/usr/bin/env python3
"""Check record_and_verify.py's verification against the repository's Go
reference vectors (testdata/vectors/): every inclusion proof of merkle.json
verifies and fails with any one bit flipped; every checkpoint of note.json
verifies against its key, every note of must_reject fails.

    python check_vectors.py [VECTORS_DIR]

Prints `ok` and exits 0, or exits 1 naming the first disagreement. Needs
only `cryptography` (no server, no generated client).
"""

import base64
import json
import pathlib
import sys

import record_and_verify as rv

HERE = pathlib.Path(__file__).resolve().parent


def check(vectors: pathlib.Path) -> int:
    merkle = json.loads((vectors / "merkle.json").read_text())
    proofs = 0
    for v in merkle["inclusion"]:
        leaf = base64.b64decode(v["leaf_hash"])
        if leaf != rv.leaf_hash((merkle["leaf_prefix"] + str(v["index"])).encode()):
            raise rv.Invalid(f"leaf hash of leaf {v['index']}")
        root = base64.b64decode(v["root"])
        proof = [base64.b64decode(p) for p in v["proof"]]
        rv.verify_inclusion(v["index"], v["size"], leaf, proof, root)
        for i in range(len(proof)):
            for bit in range(0, 256, 37):
                bad = list(proof)
                bad[i] = bytearray(bad[i])
                bad[i][bit // 8] ^= 1 << (bit % 8)
                try:
                    rv.verify_inclusion(v["index"], v["size"], leaf, [bytes(b) for b in bad], root)
                except rv.Invalid:
                    continue
                raise rv.Invalid(f"a flipped proof of leaf {v['index']} in size {v['size']} verified")
        proofs += 1

    note = json.loads((vectors / "note.json").read_text())
    name, kid, key = rv.parse_vkey(note["verifier_key"])
    if name != note["key_name"]:
        raise rv.Invalid("the vector key's name")
    for c in note["checkpoints"]:
        text = rv.verify_note(c["signed_note"].encode(), name, kid, key)
        size, root = rv.parse_checkpoint(text, name)
        if size != c["size"] or root != base64.b64decode(c["root"]):
            raise rv.Invalid(f"checkpoint of size {c['size']} read wrong")
    for why, bad in note["must_reject"].items():
        try:
            text = rv.verify_note(bad.encode(), name, kid, key)
            rv.parse_checkpoint(text, name)
        except rv.Invalid:
            continue
        raise rv.Invalid(f"the must_reject note {why!r} verified")
    print(
        f"{proofs} inclusion proofs, {len(note['checkpoints'])} checkpoints and "
        f"{len(note['must_reject'])} bad notes agree with the Go vectors",
        file=sys.stderr,
    )
    return 0


def main() -> int:
    vectors = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "testdata" / "vectors"
    try:
        check(vectors)
    except (rv.Invalid, rv.Trouble) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
