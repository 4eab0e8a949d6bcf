//! Just enough of X.509 to read a certificate's notAfter and public key (DER, RFC 5280 §4.1),
//! for version 1 certificates as for version 3 (kubectl accepts both).

fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let len = b.get(2..2 + n)?.iter().fold(0usize, |acc, &x| (acc << 8) | x as usize);
        (len, 2 + n)
    };
    let content = b.get(head..head.checked_add(len)?)?;
    Some((tag, content, &b[head + len..]))
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds of a UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(tag: u8, s: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(s).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = s.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| -> Option<i64> { rest.get(r)?.parse().ok() };
    let (mo, d, h, mi, se) = (num(0..2)?, num(2..4)?, num(4..6)?, num(6..8)?, num(8..10).unwrap_or(0));
    Some(days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// The whole TLV of the first element of `b` (tag, length and content).
fn whole_tlv(b: &[u8]) -> Option<&[u8]> {
    let (_, _, rest) = tlv(b)?;
    b.get(..b.len() - rest.len())
}

/// The SubjectPublicKeyInfo of a DER certificate (the whole DER element), version 1 or 3.
pub fn spki(der: &[u8]) -> Option<&[u8]> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // explicit version (absent in version 1)
    }
    for _ in 0..5 {
        rest = tlv(rest)?.2; // serialNumber, signature, issuer, validity, subject
    }
    whole_tlv(rest)
}

/// notAfter of a DER certificate, as Unix seconds.
pub fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // explicit version
    }
    for _ in 0..3 {
        rest = tlv(rest)?.2; // serialNumber, signature, issuer
    }
    let (_, validity, _) = tlv(rest)?;
    let (_, _, after) = tlv(validity)?;
    let (tag, value, _) = tlv(after)?;
    parse_time(tag, value)
}

/// The clock, in Unix seconds (0 if it is before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Unix seconds of `YYYY-MM-DD` (midnight UTC).
pub fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| days_from_civil(y, m, d) * 86_400)
}

/// `YYYY-MM-DD` of Unix seconds.
pub fn format_date(secs: i64) -> String {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// What a PEM value must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemWant {
    Certificate,
    PrivateKey,
}

/// What is wrong with PEM text as kubectl reads it (Go's `tls.X509KeyPair` and
/// `CertPool.AppendCertsFromPEM`): certificates are the `CERTIFICATE` blocks, the key the first
/// `PRIVATE KEY` or `… PRIVATE KEY` block, which must not be encrypted. None when it is right.
/// The answer never quotes the text.
pub fn pem_problem(bytes: &[u8], want: PemWant) -> Option<&'static str> {
    let blocks = pem::parse_many(bytes).unwrap_or_default();
    match want {
        PemWant::Certificate if blocks.iter().any(|b| b.tag() == "CERTIFICATE") => None,
        PemWant::Certificate => Some("does not hold a PEM certificate (a CERTIFICATE block)"),
        PemWant::PrivateKey => {
            let key = blocks.iter().find(|b| b.tag() == "PRIVATE KEY" || b.tag().ends_with(" PRIVATE KEY"));
            match key {
                None => Some("does not hold a PEM private key (a PRIVATE KEY block)"),
                Some(b)
                    if b.tag() == "ENCRYPTED PRIVATE KEY"
                        || b.headers().get("Proc-Type").is_some_and(|v| v.contains("ENCRYPTED")) =>
                {
                    Some("holds an encrypted private key, which kubectl cannot use")
                }
                Some(_) => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-11-25"), Some(1_795_564_800));
        assert_eq!(format_date(1_795_564_800), "2026-11-25");
        assert_eq!(parse_time(0x17, b"491231235959Z"), Some(days_from_civil(2049, 12, 31) * 86_400 + 86_399));
        assert_eq!(parse_time(0x18, b"20360101000000Z"), parse_date("2036-01-01"));
    }
}
