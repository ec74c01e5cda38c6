//! `lvm_snapshot_size`: a share of each volume or a fixed size.

/// How big each snapshot is: a share of its origin volume, or a fixed size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotSize {
    Percent(u32),
    Bytes(u64),
}

impl SnapshotSize {
    /// `10%`, `2G`, `512M`, `64K` or a number of bytes.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || {
            format!("{s:?} is not a size; write e.g. \"10%\" (of each volume), \"2G\" or \"512M\"")
        };
        if let Some(p) = s.strip_suffix('%') {
            let p: u32 = p.trim().parse().map_err(|_| bad())?;
            if !(1..=100).contains(&p) {
                return Err(format!("{s:?}: a share must be 1% to 100%"));
            }
            return Ok(SnapshotSize::Percent(p));
        }
        let (num, mult) = match s.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => {
                let mult: u64 = match c.to_ascii_uppercase() {
                    'K' => 1 << 10,
                    'M' => 1 << 20,
                    'G' => 1 << 30,
                    'T' => 1 << 40,
                    _ => return Err(bad()),
                };
                (&s[..i], mult)
            }
            _ => (s, 1),
        };
        let n: u64 = num.trim().parse().map_err(|_| bad())?;
        match n.checked_mul(mult) {
            Some(b) if b > 0 => Ok(SnapshotSize::Bytes(b)),
            _ => Err(bad()),
        }
    }

    /// The bytes a snapshot of a volume of `lv_size` bytes gets (whole 512-byte sectors).
    pub fn bytes_for(&self, lv_size: u64) -> u64 {
        let b = match *self {
            SnapshotSize::Percent(p) => lv_size.div_ceil(100).saturating_mul(u64::from(p)),
            SnapshotSize::Bytes(b) => b,
        };
        b.div_ceil(512) * 512
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_round_to_sectors() {
        assert_eq!(
            SnapshotSize::parse("10%").unwrap(),
            SnapshotSize::Percent(10)
        );
        assert_eq!(
            SnapshotSize::parse("2G").unwrap(),
            SnapshotSize::Bytes(2 << 30)
        );
        assert_eq!(
            SnapshotSize::parse("512m").unwrap(),
            SnapshotSize::Bytes(512 << 20)
        );
        assert_eq!(
            SnapshotSize::parse("4096").unwrap(),
            SnapshotSize::Bytes(4096)
        );
        for bad in ["", "0", "0%", "101%", "ten", "5X", "-1G"] {
            assert!(SnapshotSize::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(SnapshotSize::Percent(10).bytes_for(100 << 20), 10_485_760);
        assert_eq!(SnapshotSize::Bytes(1000).bytes_for(0), 1024);
    }
}
