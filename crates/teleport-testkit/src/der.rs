//! Just enough DER reading and writing to reshape key encodings (no general ASN.1 here).

/// DER tags used by the key conversions.
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OID: u8 = 0x06;

/// Splits one TLV off the front of `input`: `(tag, content, rest)`.
pub(crate) fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, mut after_len) = after_tag.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || after_len.len() < count {
            return None;
        }
        let (len_bytes, rest) = after_len.split_at(count);
        after_len = rest;
        len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if after_len.len() < len {
        return None;
    }
    let (content, rest) = after_len.split_at(len);
    Some((tag, content, rest))
}

/// Reads one TLV and insists on its tag.
pub(crate) fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    match read(input)? {
        (found, content, rest) if found == tag => Some((content, rest)),
        _ => None,
    }
}

/// Encodes one TLV.
pub(crate) fn write(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_and_long_lengths() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let encoded = write(OCTET_STRING, &content);
            let (tag, got, rest) = read(&encoded).unwrap();
            assert_eq!((tag, got, rest.len()), (OCTET_STRING, &content[..], 0));
        }
    }

    #[test]
    fn refuses_truncated_input() {
        let encoded = write(SEQUENCE, &[1, 2, 3]);
        assert!(read(&encoded[..encoded.len() - 1]).is_none());
        assert!(read(&[0x30]).is_none());
        assert!(expect(&encoded, INTEGER).is_none());
    }
}
