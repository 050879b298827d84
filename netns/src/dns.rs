//! The resolver of a sandbox's network: every name is at one address.
//!
//! Inside the namespace `/etc/resolv.conf` names `127.0.0.1`, where the harness answers with
//! [`answer`]: an `A` query (or `ANY`) for any name gets that name at the one address (so every
//! host name leads to the front door, which tells hosts apart by SNI and `Host`), an `AAAA` or
//! any other type gets an empty answer (`NOERROR`, so clients fall back to IPv4 at once rather
//! than retrying), and a malformed query gets `FORMERR` or nothing. Only what RFC 1035 §4.1 needs
//! is parsed: the header and one question; additional records (EDNS) are ignored, and the answer
//! carries none.

use std::net::Ipv4Addr;

const HEADER: usize = 12;
const TYPE_A: u16 = 1;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
/// Seconds a client may keep an answer; short, since nothing about it changes anyway.
const TTL: u32 = 60;

const RCODE_FORMERR: u16 = 1;
const RCODE_NOTIMP: u16 = 4;

/// A query the resolver understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The name asked for, lower-case, without the final dot (`collector.example`).
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// The response to the datagram `query`, and the question when there was one; `None` when it is
/// not a query at all (shorter than a header, or a response), which gets no answer.
pub fn answer(query: &[u8], address: Ipv4Addr) -> Option<(Vec<u8>, Option<Question>)> {
    if query.len() < HEADER {
        return None;
    }
    let flags = u16::from_be_bytes([query[2], query[3]]);
    if flags & 0x8000 != 0 {
        return None;
    }
    let opcode = (flags >> 11) & 0xF;
    // QR, the query's opcode and RD kept; AA and RA set.
    let base = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080;
    let header = |rcode: u16, qd: u16, an: u16| {
        let mut h = Vec::with_capacity(HEADER);
        h.extend_from_slice(&query[0..2]);
        h.extend_from_slice(&(base | rcode).to_be_bytes());
        for n in [qd, an, 0, 0] {
            h.extend_from_slice(&n.to_be_bytes());
        }
        h
    };
    if opcode != 0 {
        return Some((header(RCODE_NOTIMP, 0, 0), None));
    }
    let qdcount = u16::from_be_bytes([query[4], query[5]]);
    let parsed = (qdcount == 1).then(|| question(&query[HEADER..])).flatten();
    let Some((q, len)) = parsed else {
        return Some((header(RCODE_FORMERR, 0, 0), None));
    };
    let answers = u16::from(q.qclass == CLASS_IN && matches!(q.qtype, TYPE_A | TYPE_ANY));
    let mut out = header(0, 1, answers);
    out.extend_from_slice(&query[HEADER..HEADER + len]);
    if answers == 1 {
        // The name by pointer to the question (offset 12), type A, class IN, TTL, 4 bytes.
        out.extend_from_slice(&[0xC0, HEADER as u8]);
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&address.octets());
    }
    Some((out, Some(q)))
}

/// The question at the start of `data` and its length in bytes: a name of uncompressed labels
/// (a question's name never needs a pointer), at most 255 bytes, then type and class.
fn question(data: &[u8]) -> Option<(Question, usize)> {
    let mut at = 0;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = usize::from(*data.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 || at + len > data.len() || at + len > 255 {
            return None;
        }
        let label = &data[at..at + len];
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += len;
    }
    let fixed = data.get(at..at + 4)?;
    Some((
        Question {
            name: labels.join("."),
            qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
            qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
        },
        at + 4,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut q = Vec::new();
        q.extend_from_slice(&id.to_be_bytes());
        q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
        q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    const HERE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

    #[test]
    fn every_name_is_at_the_address() {
        let q = query(0xBEEF, "Collector.Example", TYPE_A);
        let (r, question) = answer(&q, HERE).expect("an answer");
        let question = question.expect("a question");
        assert_eq!(question.name, "collector.example");
        assert_eq!(&r[0..2], &[0xBE, 0xEF]);
        let flags = u16::from_be_bytes([r[2], r[3]]);
        assert_eq!(flags & 0x8000, 0x8000, "a response");
        assert_eq!(flags & 0x0100, 0x0100, "RD kept");
        assert_eq!(flags & 0x000F, 0, "NOERROR");
        assert_eq!(&r[4..8], &[0, 1, 0, 1], "one question, one answer");
        assert_eq!(&r[HEADER..q.len()], &q[HEADER..], "the question echoed");
        assert_eq!(&r[r.len() - 4..], &[127, 0, 0, 1]);
        assert_eq!(r.len(), q.len() + 16);
    }

    #[test]
    fn aaaa_and_other_types_get_no_answer() {
        for qtype in [28u16, 16, 33] {
            let (r, _) = answer(&query(7, "login.microsoftonline.com", qtype), HERE).expect("r");
            assert_eq!(&r[4..8], &[0, 1, 0, 0]);
            assert_eq!(u16::from_be_bytes([r[2], r[3]]) & 0xF, 0);
        }
    }

    #[test]
    fn malformed_queries_get_formerr_or_nothing() {
        assert!(answer(&[0; 5], HERE).is_none(), "shorter than a header");
        let mut response = query(1, "a.example", TYPE_A);
        response[2] |= 0x80;
        assert!(
            answer(&response, HERE).is_none(),
            "a response is not answered"
        );
        let q = query(1, "a.example", TYPE_A);
        for cut in HEADER..q.len() {
            let (r, question) = answer(&q[..cut], HERE).expect("FORMERR");
            assert_eq!(question, None);
            assert_eq!(u16::from_be_bytes([r[2], r[3]]) & 0xF, RCODE_FORMERR);
        }
        let mut pointer = q.clone();
        pointer[HEADER] = 0xC0;
        let (r, _) = answer(&pointer, HERE).expect("FORMERR");
        assert_eq!(u16::from_be_bytes([r[2], r[3]]) & 0xF, RCODE_FORMERR);
        let mut status = q;
        status[2] = 0x10; // opcode 2 (STATUS)
        let (r, _) = answer(&status, HERE).expect("NOTIMP");
        assert_eq!(u16::from_be_bytes([r[2], r[3]]) & 0xF, RCODE_NOTIMP);
    }

    #[test]
    fn no_input_panics() {
        // Every prefix of every byte pattern of a short query, mutated one byte at a time.
        let q = query(9, "x.y", TYPE_A);
        for i in 0..q.len() {
            for b in [0u8, 1, 63, 64, 0x7F, 0xC0, 0xFF] {
                let mut m = q.clone();
                m[i] = b;
                for cut in 0..=m.len() {
                    let _ = answer(&m[..cut], HERE);
                }
            }
        }
    }
}
