//! The codec of the generated services: prost's, with one change. A request
//! whose bytes are not valid protobuf is the caller's mistake, so the server
//! answers `INVALID_ARGUMENT` (the API's code for bad input, see
//! `proto/vellum/v1/log.proto`) naming the message and what is wrong with
//! it. tonic-prost answers `INTERNAL`, which tells a client the server is
//! broken and invites a retry of the same bytes.
//!
//! The same codec decodes responses in the generated clients; there a
//! malformed message is the server's fault and stays `INTERNAL`. Which side
//! a message belongs to is said by [`Inbound`], implemented below for every
//! message of the API.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

use crate::v1;

/// Which way a message travels, and so whose fault a malformed one is.
pub trait Inbound {
    /// The message's name in error messages.
    const NAME: &'static str;
    /// True for requests (decoded by servers), false for responses.
    const REQUEST: bool;
}

macro_rules! inbound {
    ($request:expr => $($t:ident),+) => {
        $(impl Inbound for v1::$t {
            const NAME: &'static str = concat!("vellum.v1.", stringify!($t));
            const REQUEST: bool = $request;
        })+
    };
}

inbound!(true =>
    AppendRequest, GetCheckpointRequest, GetInclusionProofRequest,
    GetConsistencyProofRequest, GetEntriesRequest, GetEntryAndProofRequest,
    SignCheckpointRequest, GetSignerStateRequest, RecordRequest, ListEventsRequest,
    WatchAlertsRequest);
inbound!(false =>
    AppendResponse, GetCheckpointResponse, GetInclusionProofResponse,
    GetConsistencyProofResponse, GetEntriesResponse, GetEntryAndProofResponse,
    SignCheckpointResponse, SignerState, RecordResponse, ListEventsResponse, RecordedAlert);

/// prost's codec, with malformed requests answered `INVALID_ARGUMENT`.
#[derive(Debug)]
pub struct VellumCodec<T, U> {
    inner: ProstCodec<T, U>,
}

impl<T, U> Default for VellumCodec<T, U> {
    fn default() -> Self {
        VellumCodec {
            inner: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for VellumCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Inbound + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = VellumDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        VellumDecoder {
            inner: self.inner.decoder(),
            _pd: PhantomData,
        }
    }
}

/// The one status this crate makes: a request that is not a valid `name`
/// message. Every other status is made in `vellum-server`'s `status`
/// module; this one is here because the codec runs below the server and
/// this crate cannot depend on it.
fn malformed_request(name: &str, decode_error: &Status) -> Status {
    Status::invalid_argument(format!(
        "the request is not a valid {name} protobuf message: {}",
        decode_error.message()
    ))
}

/// The decoder of [`VellumCodec`].
#[derive(Debug)]
pub struct VellumDecoder<U> {
    inner: ProstDecoder<U>,
    _pd: PhantomData<U>,
}

impl<U: Message + Default + Inbound> Decoder for VellumDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.inner.decode(buf).map_err(|s| {
            if U::REQUEST {
                malformed_request(U::NAME, &s)
            } else {
                s
            }
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}
