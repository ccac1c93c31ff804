//! Protocol Buffers written straight into one buffer: the few wire rules OTLP's messages need.
//! Fields at their default value are left out as proto3 encoders do; a nested message is always
//! written (its presence is information), its length patched in once its content is known.

/// The wire type of a field's key.
#[derive(Clone, Copy)]
enum WireType {
    Varint = 0,
    Fixed64 = 1,
    Delimited = 2,
    Fixed32 = 5,
}

#[allow(clippy::cast_possible_truncation, reason = "seven bits at a time")]
fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        // Seven bits per byte, low first; the high bit says more follow.
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: WireType) {
    varint(out, u64::from(field << 3 | wire_type as u32));
}

/// A `uint32`, `uint64` or enumeration field; left out when zero.
pub(crate) fn unsigned(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        key(out, field, WireType::Varint);
        varint(out, value);
    }
}

/// A `fixed64` field; left out when zero.
pub(crate) fn fixed64(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        key(out, field, WireType::Fixed64);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// A `fixed32` field; left out when zero.
pub(crate) fn fixed32(out: &mut Vec<u8>, field: u32, value: u32) {
    if value != 0 {
        key(out, field, WireType::Fixed32);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// A `bytes` or `string` field; left out when empty.
pub(crate) fn bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    if !value.is_empty() {
        present_bytes(out, field, value);
    }
}

/// A `bytes` or `string` member of a `oneof`: written even when empty, its presence says which.
pub(crate) fn present_bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    key(out, field, WireType::Delimited);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// An `int64` or `bool` member of a `oneof`, written even when zero.
pub(crate) fn present_varint(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, WireType::Varint);
    varint(out, value);
}

/// A `double` member of a `oneof`, written even when zero.
pub(crate) fn present_double(out: &mut Vec<u8>, field: u32, value: f64) {
    key(out, field, WireType::Fixed64);
    out.extend_from_slice(&value.to_bits().to_le_bytes());
}

/// A nested message field whose content `write` appends.
pub(crate) fn message(out: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, WireType::Delimited);
    let length_at = out.len();
    // One byte holds lengths below 128, most messages' inner ones; longer ones make room after.
    out.push(0);
    let start = out.len();
    write(out);
    let length = out.len() - start;
    if let Ok(short @ 0..0x80) = u8::try_from(length) {
        out[length_at] = short;
    } else {
        let mut prefix = Vec::with_capacity(10);
        varint(&mut prefix, length as u64);
        out.splice(length_at..=length_at, prefix);
    }
}

/// The `partial_success` of an export response (`Export*ServiceResponse`: field 1, holding the
/// rejected count in field 1 and the collector's message in field 2): `None` when the response
/// has none or cannot be read.
pub(crate) fn partial_success(response: &[u8]) -> Option<(u64, String)> {
    let mut found = None;
    for (field, value) in Fields(response) {
        if let (1, Value::Delimited(partial)) = (field, value?) {
            let (mut rejected, mut reason) = (0, String::new());
            for (field, value) in Fields(partial) {
                match (field, value?) {
                    (1, Value::Varint(count)) => rejected = count,
                    (2, Value::Delimited(text)) => reason = String::from_utf8_lossy(text).into_owned(),
                    _ => {}
                }
            }
            found = Some((rejected, reason));
        }
    }
    found
}

/// A field's value as read off the wire.
enum Value<'a> {
    Varint(u64),
    Delimited(&'a [u8]),
    Fixed,
}

/// The fields of a message, in order; a field that cannot be read ends them with `None`.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = (u32, Option<Value<'a>>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let Some(key) = read_varint(&mut self.0) else {
            self.0 = &[];
            return Some((0, None));
        };
        let field = u32::try_from(key >> 3).unwrap_or(0);
        let value = match key & 7 {
            0 => read_varint(&mut self.0).map(Value::Varint),
            1 => self.skip(8),
            2 => read_varint(&mut self.0).and_then(|length| usize::try_from(length).ok()).and_then(|length| {
                let (value, rest) = (self.0.get(..length)?, self.0.get(length..)?);
                self.0 = rest;
                Some(Value::Delimited(value))
            }),
            5 => self.skip(4),
            _ => None,
        };
        if value.is_none() {
            self.0 = &[];
        }
        Some((field, value))
    }
}

impl<'a> Fields<'a> {
    fn skip(&mut self, length: usize) -> Option<Value<'a>> {
        self.0 = self.0.get(length..)?;
        Some(Value::Fixed)
    }
}

fn read_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{fixed64, message, partial_success, present_bytes, unsigned, varint};

    #[test]
    fn partial_success_is_read_from_any_export_response() {
        assert_eq!(partial_success(&[]), None, "an empty response: full success");
        let mut response = Vec::new();
        fixed64(&mut response, 9, 7);
        message(&mut response, 1, |partial| {
            unsigned(partial, 1, 300);
            present_bytes(partial, 2, b"too many attributes");
        });
        unsigned(&mut response, 5, 1);
        assert_eq!(partial_success(&response), Some((300, "too many attributes".to_owned())));
        let mut empty_partial = Vec::new();
        message(&mut empty_partial, 1, |_| {});
        assert_eq!(partial_success(&empty_partial), Some((0, String::new())));
        for garbage in [&[0xff_u8][..], &[0x0a, 0x05, 0x08], &[0x0b]] {
            assert_eq!(partial_success(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn varints_are_seven_bits_a_byte() {
        for (value, encoded) in
            [(0_u64, vec![0]), (1, vec![1]), (127, vec![127]), (128, vec![0x80, 1]), (300, vec![0xac, 2])]
        {
            let mut out = Vec::new();
            varint(&mut out, value);
            assert_eq!(out, encoded, "{value}");
        }
        let mut out = Vec::new();
        varint(&mut out, u64::MAX);
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn nested_lengths_of_every_size_are_patched_in() {
        for length in [0_usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let mut out = vec![0xee];
            message(&mut out, 2, |inner| present_bytes(inner, 1, &vec![b'x'; length]));
            unsigned(&mut out, 3, 7);
            // The inner field: key, its length, its bytes; the message: key, the inner's length.
            let mut inner = Vec::new();
            present_bytes(&mut inner, 1, &vec![b'x'; length]);
            let mut expected = vec![0xee, 2 << 3 | 2];
            varint(&mut expected, inner.len() as u64);
            expected.extend_from_slice(&inner);
            expected.extend_from_slice(&[3 << 3, 7]);
            assert_eq!(out, expected, "{length}");
        }
    }
}
