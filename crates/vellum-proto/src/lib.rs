//! Generated code for Vellum's gRPC API (`proto/vellum/v1`).
//!
//! This is the only crate that sees prost types; the others convert at their
//! edges. Field-level documentation is in the `.proto` files. The
//! conversions of audit events to and from `vellum-event` are in [`events`].

#![allow(missing_docs, clippy::all)]

pub mod codec;
pub mod events;

/// Package `vellum.v1`.
pub mod v1 {
    tonic::include_proto!("vellum.v1");
}

/// The encoded `FileDescriptorSet` of the API, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/vellum_descriptor.bin"));
