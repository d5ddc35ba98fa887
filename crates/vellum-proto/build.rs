//! Generates the gRPC code from `proto/` with protox, a pure-Rust protobuf
//! compiler, so that building Vellum needs no system `protoc`.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "vellum/v1/log.proto",
        "vellum/v1/signer.proto",
        "vellum/v1/events.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;

    // Server reflection serves this descriptor set, so that generic gRPC
    // tools can list and call the API without the .proto files.
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("vellum_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .bytes(".")
        // Malformed requests are INVALID_ARGUMENT, not INTERNAL (src/codec.rs).
        .codec_path("crate::codec::VellumCodec")
        .compile_fds(fds)?;
    Ok(())
}
