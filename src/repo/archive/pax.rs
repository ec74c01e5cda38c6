//! PAX extended header records: what a plain tar header cannot hold, in the form
//! GNU tar reads (`mtime` with nanoseconds, `SCHILY.xattr.<name>` with the raw
//! value, which `tar --xattrs --xattrs-include='*'` restores). Parsed here rather
//! than by the tar crate because records are length-prefixed and values may hold
//! any byte, newlines included (ACLs and capabilities are binary).

use crate::repo::meta::Meta;

const XATTR: &str = "SCHILY.xattr.";

/// A record's key and raw value.
pub type Record = (String, Vec<u8>);

/// The records for one entry: nanosecond mtime when it has a fraction, and every
/// extended attribute. Attribute names that are not UTF-8 cannot be PAX keys
/// (keys are `&str` in the tar writer); they are returned apart for a warning.
pub fn records(meta: &Meta) -> (Vec<Record>, Vec<Vec<u8>>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    if meta.mtime_nsec != 0 {
        out.push((
            "mtime".to_string(),
            format_time(meta.mtime, meta.mtime_nsec).into_bytes(),
        ));
    }
    for (name, value) in &meta.xattrs {
        match std::str::from_utf8(name) {
            // `=` would end the key early for every reader.
            Ok(n) if !n.contains('=') => out.push((format!("{XATTR}{n}"), value.clone())),
            _ => skipped.push(name.clone()),
        }
    }
    (out, skipped)
}

/// What the records of one PAX header say about the next entry.
#[derive(Debug, Default)]
pub struct Extended {
    pub mtime: Option<(i64, u32)>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub path: Option<Vec<u8>>,
    pub linkpath: Option<Vec<u8>>,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Parses a PAX header's data. Errors say what is wrong with it; records that
/// would make GNU tar read the entry differently from us (`size`, GNU sparse
/// maps) are refused, other unknown records are ignored, as tar does.
pub fn parse(mut data: &[u8]) -> Result<Extended, String> {
    let mut ext = Extended::default();
    while !data.is_empty() {
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or("a PAX record without a length")?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("a PAX record with a bad length")?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err("a PAX record whose length does not match".into());
        }
        let record = &data[space + 1..len - 1];
        data = &data[len..];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("a PAX record without `=`")?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        let number = || -> Result<u32, String> {
            std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("a bad PAX {} record", String::from_utf8_lossy(key)))
        };
        match key {
            b"mtime" => {
                ext.mtime = Some(parse_time(value).ok_or("a bad PAX mtime record")?);
            }
            b"uid" => ext.uid = Some(number()?),
            b"gid" => ext.gid = Some(number()?),
            b"path" => ext.path = Some(value.to_vec()),
            b"linkpath" => ext.linkpath = Some(value.to_vec()),
            b"size" => return Err("PAX size records are not written by structr-backup".into()),
            k if k.starts_with(b"GNU.sparse.") => {
                return Err("GNU sparse maps are not written by structr-backup".into())
            }
            k if k.starts_with(XATTR.as_bytes()) && k.len() > XATTR.len() => {
                ext.xattrs.push((k[XATTR.len()..].to_vec(), value.to_vec()));
            }
            _ => {}
        }
    }
    Ok(ext)
}

/// `sec.nnnnnnnnn`, the value being `sec + nsec / 1e9` (so a time before 1970
/// with a fraction is written as `-(|sec| - 1).(1e9 - nsec)`).
pub fn format_time(sec: i64, nsec: u32) -> String {
    if nsec == 0 {
        sec.to_string()
    } else if sec >= 0 {
        format!("{sec}.{nsec:09}")
    } else {
        format!("-{}.{:09}", -(sec + 1), 1_000_000_000 - nsec)
    }
}

/// The inverse of [`format_time`]; any number of fraction digits (beyond nine
/// are cut, as GNU tar does).
pub fn parse_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: i64 = int.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nsec: u32 = digits.parse().ok()?;
    Some(match (neg, nsec) {
        (false, _) => (sec, nsec),
        (true, 0) => (-sec, 0),
        (true, n) => (-sec - 1, 1_000_000_000 - n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        for (s, n) in [
            (1_700_000_000, 123_456_789),
            (0, 1),
            (5, 0),
            (-2, 500_000_000),
            (-1, 0),
        ] {
            let f = format_time(s, n);
            assert_eq!(parse_time(f.as_bytes()), Some((s, n)), "{f}");
        }
        assert_eq!(format_time(-2, 500_000_000), "-1.500000000");
        assert_eq!(parse_time(b"1.5"), Some((1, 500_000_000)));
        assert_eq!(parse_time(b"1.1234567891"), Some((1, 123_456_789)));
        assert_eq!(parse_time(b"x"), None);
        assert_eq!(parse_time(b"1.2.3"), None);
    }

    #[test]
    fn records_with_newlines_in_values_parse() {
        let meta = Meta {
            mtime: 1_700_000_000,
            mtime_nsec: 42,
            xattrs: vec![(b"user.bin".to_vec(), b"a\nb=\0c".to_vec())],
            ..Meta::default()
        };
        let (recs, skipped) = records(&meta);
        assert!(skipped.is_empty());
        let mut data = Vec::new();
        for (k, v) in &recs {
            // The same framing as tar::Builder::append_pax_extensions.
            let rest = 3 + k.len() + v.len();
            let mut len = rest + 1;
            while len.to_string().len() + rest != len {
                len += 1;
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let ext = parse(&data).unwrap();
        assert_eq!(ext.mtime, Some((1_700_000_000, 42)));
        assert_eq!(ext.xattrs, meta.xattrs);
    }

    #[test]
    fn bad_and_dangerous_records_are_refused() {
        assert!(parse(b"11 size=99\n").is_err());
        assert!(parse(b"30 GNU.sparse.map=0,1,2,3,4,5\n").is_err());
        assert!(parse(b"99 mtime=1\n").is_err());
        assert!(parse(b"garbage").is_err());
        assert!(parse(b"13 mtime=1.5\n").unwrap().mtime.is_some());
        assert!(parse(b"17 comment=hello\n").unwrap().xattrs.is_empty());
    }
}
