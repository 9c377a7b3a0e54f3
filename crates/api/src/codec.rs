//! The codec of the generated clients and servers: prost's, with a smaller first buffer per call.
//!
//! tonic gives every call, and every open stream for as long as it is open, an encode buffer of
//! `buffer_size` bytes that grows when a message needs more. Its default, 8 KiB, was the largest part of
//! what an idle `Subscribe` stream costs (docs/BENCHMARKS.md, scenario 4), while Parley's messages are a
//! few hundred bytes; a 4,000-character message simply grows the buffer.

use std::marker::PhantomData;

use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstDecoder, ProstEncoder};

/// Bytes each call's encode and decode buffers start with.
pub const BUFFER_SIZE: usize = 1024;

/// Encoded bytes of a stream's messages after which tonic hands them to the transport (tonic's default).
const YIELD_THRESHOLD: usize = 32 * 1024;

/// [`tonic_prost::ProstCodec`] with [`BUFFER_SIZE`] buffers.
#[derive(Debug, Clone, Copy)]
pub struct SmallBufferCodec<T, U>(PhantomData<fn(T) -> U>);

impl<T, U> Default for SmallBufferCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for SmallBufferCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD))
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::new(BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD))
    }
}

/// A message already encoded: sending it copies its bytes, nothing more. The server sends each timeline
/// entry of a Subscribe stream as one of these, encoded once and shared by every stream that delivers it
/// (see `gateway`'s Subscribe route). For sending only: decoding one skips every field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoded(pub bytes::Bytes);

impl Encoded {
    /// Encodes `message`.
    pub fn of(message: &impl prost::Message) -> Self {
        Self(message.encode_to_vec().into())
    }
}

impl prost::Message for Encoded {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::v1;

    #[test]
    fn an_encoded_message_is_sent_as_the_message_itself() {
        let message = v1::SubscribeResponse {
            event: Some(v1::subscribe_response::Event::Message(v1::Message {
                id: "id".into(),
                body: "hello".into(),
                seq: 7,
                ..v1::Message::default()
            })),
        };
        let sent = Encoded::of(&message).encode_to_vec();
        assert_eq!(v1::SubscribeResponse::decode(sent.as_slice()), Ok(message));
    }
}
