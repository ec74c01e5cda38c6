//! PackStream, the value encoding inside Bolt messages (null, booleans,
//! integers, floats, bytes, strings, lists, maps, structures), written from its
//! published description: encoding picks the smallest marker; decoding checks
//! every length against the bytes there are.

use std::io;

/// A PackStream value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    String(String),
    List(Vec<Value>),
    /// Keys in the order they came (Bolt maps are unordered; this keeps them as sent).
    Map(Vec<(String, Value)>),
    /// A structure: a node, a relationship, a date, ... (tag byte, fields).
    Struct(u8, Vec<Value>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

pub(super) fn proto(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn pack_len(out: &mut Vec<u8>, len: usize, tiny: u8, [b8, b16, b32]: [u8; 3]) -> io::Result<()> {
    if len < 16 && tiny != 0 {
        out.push(tiny | len as u8);
    } else if len <= u8::MAX as usize {
        out.extend([b8, len as u8]);
    } else if len <= u16::MAX as usize {
        out.push(b16);
        out.extend((len as u16).to_be_bytes());
    } else if let Ok(l) = u32::try_from(len) {
        out.push(b32);
        out.extend(l.to_be_bytes());
    } else {
        return Err(proto(format!(
            "a value of {len} items is too large for Bolt"
        )));
    }
    Ok(())
}

/// Encodes a value in PackStream.
pub fn pack(v: &Value, out: &mut Vec<u8>) -> io::Result<()> {
    match v {
        Value::Null => out.push(0xC0),
        Value::Bool(b) => out.push(if *b { 0xC3 } else { 0xC2 }),
        Value::Int(i) => match *i {
            -16..=127 => out.push(*i as u8),
            -128..=-17 => out.extend([0xC8, *i as u8]),
            -32768..=32767 => {
                out.push(0xC9);
                out.extend((*i as i16).to_be_bytes());
            }
            -2147483648..=2147483647 => {
                out.push(0xCA);
                out.extend((*i as i32).to_be_bytes());
            }
            _ => {
                out.push(0xCB);
                out.extend(i.to_be_bytes());
            }
        },
        Value::Float(f) => {
            out.push(0xC1);
            out.extend(f.to_be_bytes());
        }
        Value::Bytes(b) => {
            pack_len(out, b.len(), 0, [0xCC, 0xCD, 0xCE])?;
            out.extend(b);
        }
        Value::String(s) => {
            pack_len(out, s.len(), 0x80, [0xD0, 0xD1, 0xD2])?;
            out.extend(s.as_bytes());
        }
        Value::List(l) => {
            pack_len(out, l.len(), 0x90, [0xD4, 0xD5, 0xD6])?;
            for x in l {
                pack(x, out)?;
            }
        }
        Value::Map(m) => {
            pack_len(out, m.len(), 0xA0, [0xD8, 0xD9, 0xDA])?;
            for (k, x) in m {
                pack(&Value::String(k.clone()), out)?;
                pack(x, out)?;
            }
        }
        Value::Struct(tag, fields) => {
            if fields.len() > 15 {
                return Err(proto("a structure of more than 15 fields".into()));
            }
            out.extend([0xB0 | fields.len() as u8, *tag]);
            for x in fields {
                pack(x, out)?;
            }
        }
    }
    Ok(())
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> io::Result<&'a [u8]> {
    if input.len() < n {
        return Err(proto("a message ends in the middle of a value".into()));
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

fn be(input: &mut &[u8], n: usize) -> io::Result<u64> {
    Ok(take(input, n)?
        .iter()
        .fold(0u64, |a, b| (a << 8) | *b as u64))
}

/// Decodes one PackStream value from the front of `input`.
pub fn unpack(input: &mut &[u8]) -> io::Result<Value> {
    let marker = take(input, 1)?[0];
    let len = |input: &mut &[u8], n: usize| be(input, n).map(|l| l as usize);
    let (kind, n) = match marker {
        0x00..=0x7F => return Ok(Value::Int(marker as i64)),
        0xF0..=0xFF => return Ok(Value::Int(marker as i8 as i64)),
        0xC0 => return Ok(Value::Null),
        0xC2 => return Ok(Value::Bool(false)),
        0xC3 => return Ok(Value::Bool(true)),
        0xC1 => return Ok(Value::Float(f64::from_bits(be(input, 8)?))),
        0xC8 => return Ok(Value::Int(be(input, 1)? as u8 as i8 as i64)),
        0xC9 => return Ok(Value::Int(be(input, 2)? as u16 as i16 as i64)),
        0xCA => return Ok(Value::Int(be(input, 4)? as u32 as i32 as i64)),
        0xCB => return Ok(Value::Int(be(input, 8)? as i64)),
        0xCC => ('b', len(input, 1)?),
        0xCD => ('b', len(input, 2)?),
        0xCE => ('b', len(input, 4)?),
        0x80..=0x8F => ('s', (marker & 0x0F) as usize),
        0xD0 => ('s', len(input, 1)?),
        0xD1 => ('s', len(input, 2)?),
        0xD2 => ('s', len(input, 4)?),
        0x90..=0x9F => ('l', (marker & 0x0F) as usize),
        0xD4 => ('l', len(input, 1)?),
        0xD5 => ('l', len(input, 2)?),
        0xD6 => ('l', len(input, 4)?),
        0xA0..=0xAF => ('m', (marker & 0x0F) as usize),
        0xD8 => ('m', len(input, 1)?),
        0xD9 => ('m', len(input, 2)?),
        0xDA => ('m', len(input, 4)?),
        0xB0..=0xBF => ('t', (marker & 0x0F) as usize),
        _ => return Err(proto(format!("unknown PackStream marker 0x{marker:02x}"))),
    };
    Ok(match kind {
        'b' => Value::Bytes(take(input, n)?.to_vec()),
        's' => Value::String(
            String::from_utf8(take(input, n)?.to_vec())
                .map_err(|_| proto("a string that is not UTF-8".into()))?,
        ),
        'l' => Value::List((0..n).map(|_| unpack(input)).collect::<io::Result<_>>()?),
        'm' => {
            let mut m = Vec::new();
            for _ in 0..n {
                let Value::String(k) = unpack(input)? else {
                    return Err(proto("a map key that is not a string".into()));
                };
                m.push((k, unpack(input)?));
            }
            Value::Map(m)
        }
        _ => {
            let tag = take(input, 1)?[0];
            Value::Struct(
                tag,
                (0..n).map(|_| unpack(input)).collect::<io::Result<_>>()?,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packstream_round_trips_every_kind_and_size_class() {
        let long = "x".repeat(70_000);
        let values = vec![
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(0),
            Value::Int(-16),
            Value::Int(-17),
            Value::Int(127),
            Value::Int(128),
            Value::Int(-129),
            Value::Int(40_000),
            Value::Int(-3_000_000_000),
            Value::Int(i64::MAX),
            Value::Float(-1.5),
            Value::Bytes(vec![1, 2, 3]),
            Value::String("Grüße".into()),
            Value::String(long.clone()),
            Value::List((0..300).map(Value::Int).collect()),
            Value::Map(vec![("a".into(), Value::Int(1)), ("b".into(), "c".into())]),
            Value::Struct(0x4E, vec![Value::Int(7), Value::List(vec![])]),
        ];
        for v in values {
            let mut buf = Vec::new();
            pack(&v, &mut buf).unwrap();
            let mut input = &buf[..];
            assert_eq!(unpack(&mut input).unwrap(), v);
            assert!(input.is_empty(), "{v:?} left bytes behind");
        }
        // Known encodings from the PackStream description.
        let mut buf = Vec::new();
        pack(&Value::Int(-17), &mut buf).unwrap();
        pack(&Value::String("a".into()), &mut buf).unwrap();
        assert_eq!(buf, vec![0xC8, 0xEF, 0x81, b'a']);
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut buf = Vec::new();
        pack(&Value::String("hello".into()), &mut buf).unwrap();
        let mut input = &buf[..3];
        assert!(unpack(&mut input).is_err());
    }
}
