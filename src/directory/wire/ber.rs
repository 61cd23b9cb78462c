//! The few BER shapes an LDAP message needs (X.690): writing them with
//! definite lengths, and reading one element at a time without copying.

/// Tag numbers of the universal types used here.
pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const ENUMERATED: u8 = 0x0a;
pub(crate) const SEQUENCE: u8 = 0x30;

/// Appends one element to `out`: `tag`, the length of what `content`
/// writes, then that content. The length is put in once the content is
/// known, so nested elements are written in one pass into one buffer.
pub(crate) fn write(out: &mut Vec<u8>, tag: u8, content: impl FnOnce(&mut Vec<u8>)) {
    out.push(tag);
    let length_at = out.len();
    content(out);
    let length = out.len() - length_at;
    let length_bytes = length.to_be_bytes();
    let significant = &length_bytes[length_bytes.iter().take_while(|&&b| b == 0).count()..];
    match length {
        0..0x80 => out.insert(length_at, length as u8),
        _ => {
            let header = std::iter::once(0x80 | significant.len() as u8).chain(significant.iter().copied());
            out.splice(length_at..length_at, header);
        }
    }
}

pub(crate) fn write_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    write(out, tag, |out| out.extend_from_slice(bytes));
}

/// An INTEGER or ENUMERATED in its shortest two's-complement form.
pub(crate) fn write_integer(out: &mut Vec<u8>, tag: u8, value: i64) {
    let bytes = value.to_be_bytes();
    // Drop leading bytes that only repeat the sign of the next one.
    let mut start = 0;
    while start < 7 {
        let (byte, next) = (bytes[start], bytes[start + 1]);
        let redundant = (byte == 0x00 && next & 0x80 == 0) || (byte == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    write_bytes(out, tag, &bytes[start..]);
}

/// A BOOLEAN, under `tag` ([`BOOLEAN`], or a context tag in its place).
pub(crate) fn write_boolean(out: &mut Vec<u8>, tag: u8, value: bool) {
    write_bytes(out, tag, &[if value { 0xff } else { 0x00 }]);
}

/// How an element starts: its tag, and where its content starts and ends
/// in the input. `None` while the input holds only part of the header;
/// an error for a header no LDAP message has.
pub(crate) fn header(input: &[u8]) -> Result<Option<(u8, usize, usize)>, &'static str> {
    let Some((&tag, rest)) = input.split_first() else { return Ok(None) };
    if tag & 0x1f == 0x1f {
        return Err("multi-byte tags are not used in LDAP");
    }
    let Some((&first, rest)) = rest.split_first() else { return Ok(None) };
    if first < 0x80 {
        return Ok(Some((tag, 2, 2 + usize::from(first))));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 {
        return Err("indefinite lengths are not allowed in LDAP");
    }
    if count > 4 {
        return Err("element longer than 4 GiB");
    }
    if rest.len() < count {
        return Ok(None);
    }
    let length = rest[..count].iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
    Ok(Some((tag, 2 + count, 2 + count + length)))
}

/// One whole element at the start of `input`: its tag, its content, and
/// what follows it. `None` if `input` does not hold one.
pub(crate) fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (tag, start, end) = header(input).ok()??;
    (input.len() >= end).then(|| (tag, &input[start..end], &input[end..]))
}

/// The value of an INTEGER or ENUMERATED, if it fits an i64.
pub(crate) fn integer(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 8 {
        return None;
    }
    let negative = content[0] & 0x80 != 0;
    let start = if negative { -1i64 } else { 0 };
    Some(content.iter().fold(start, |n, &b| (n << 8) | i64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_bytes(&mut out, tag, content);
        out
    }

    #[test]
    fn lengths_take_the_short_form_below_128_and_the_long_form_above() {
        assert_eq!(encoded(OCTET_STRING, b"abc"), [0x04, 0x03, b'a', b'b', b'c']);
        assert_eq!(&encoded(OCTET_STRING, &[7; 127])[..2], [0x04, 0x7f]);
        assert_eq!(&encoded(OCTET_STRING, &[7; 128])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(&encoded(OCTET_STRING, &[7; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(encoded(OCTET_STRING, &[7; 300]).len(), 304);
    }

    #[test]
    fn nested_elements_get_their_lengths() {
        let mut out = Vec::new();
        write(&mut out, SEQUENCE, |out| {
            write_integer(out, INTEGER, 5);
            write(out, SEQUENCE, |out| write_bytes(out, OCTET_STRING, &[1; 200]));
        });
        let (tag, content, rest) = element(&out).unwrap();
        assert_eq!((tag, rest.len()), (SEQUENCE, 0));
        let (tag, five, inner) = element(content).unwrap();
        assert_eq!((tag, integer(five)), (INTEGER, Some(5)));
        let (tag, inner, after) = element(inner).unwrap();
        assert_eq!((tag, after.len()), (SEQUENCE, 0));
        assert_eq!(element(inner).unwrap().1, [1; 200]);
    }

    #[test]
    fn integers_are_minimal_and_read_back() {
        for (value, bytes) in [
            (0i64, &[0x00][..]),
            (3, &[0x03]),
            (127, &[0x7f]),
            (128, &[0x00, 0x80]),
            (256, &[0x01, 0x00]),
            (-1, &[0xff]),
            (-129, &[0xff, 0x7f]),
            (i64::from(i32::MAX), &[0x7f, 0xff, 0xff, 0xff]),
        ] {
            let out = encoded_integer(value);
            assert_eq!(&out[2..], bytes, "{value}");
            assert_eq!(integer(&out[2..]), Some(value));
        }
    }

    fn encoded_integer(value: i64) -> Vec<u8> {
        let mut out = Vec::new();
        write_integer(&mut out, INTEGER, value);
        out
    }

    #[test]
    fn partial_and_malformed_headers() {
        assert_eq!(header(&[]), Ok(None));
        assert_eq!(header(&[0x30]), Ok(None));
        assert_eq!(header(&[0x30, 0x82, 0x01]), Ok(None));
        assert_eq!(header(&[0x30, 0x82, 0x01, 0x00]), Ok(Some((0x30, 4, 260))));
        assert!(header(&[0x30, 0x80]).is_err());
        assert!(header(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
        assert!(header(&[0x1f, 0x01]).is_err());
        assert_eq!(element(&[0x04, 0x03, 1, 2]), None);
    }
}
