//! The thrift protocols as the decoders read them, compact and binary: fields, lists,
//! lengths checked against what is left, and skipping what the schema does not know.

use super::{Protocol, Result, bad};

/// Field and element types, whatever their code in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Type {
    /// Compact writes a boolean field's value in its type.
    Bool(Option<bool>),
    Byte,
    I16,
    I32,
    I64,
    Double,
    Binary,
    List,
    Set,
    Map,
    Struct,
}

/// Deeper nesting than jaeger.thrift has is not worth following.
const MAX_DEPTH: usize = 16;

pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    protocol: Protocol,
    /// Compact field ids are deltas from the previous field of the same struct.
    last_id: i16,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8], protocol: Protocol) -> Self {
        Reader {
            bytes,
            protocol,
            last_id: 0,
        }
    }

    /// What is left to read.
    pub(super) fn remaining(&self) -> &'a [u8] {
        self.bytes
    }

    pub(super) fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.bytes.len() {
            return bad(format!("{n} bytes announced, {} left", self.bytes.len()));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(super) fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        bad("a varint longer than 10 bytes")
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn i16(&mut self) -> Result<i16> {
        match self.protocol {
            Protocol::Compact => {
                let n = self.varint()?;
                i16::try_from(unzigzag(n)).or_else(|_| bad("an i16 out of range"))
            }
            Protocol::Binary => Ok(i16::from_be_bytes(self.be()?)),
        }
    }

    pub(super) fn i32(&mut self) -> Result<i32> {
        match self.protocol {
            Protocol::Compact => {
                let n = self.varint()?;
                i32::try_from(unzigzag(n)).or_else(|_| bad("an i32 out of range"))
            }
            Protocol::Binary => Ok(i32::from_be_bytes(self.be()?)),
        }
    }

    pub(super) fn i64(&mut self) -> Result<i64> {
        match self.protocol {
            Protocol::Compact => Ok(unzigzag(self.varint()?)),
            Protocol::Binary => Ok(i64::from_be_bytes(self.be()?)),
        }
    }

    pub(super) fn double(&mut self) -> Result<f64> {
        match self.protocol {
            Protocol::Compact => Ok(f64::from_le_bytes(self.be()?)),
            Protocol::Binary => Ok(f64::from_be_bytes(self.be()?)),
        }
    }

    fn len(&mut self) -> Result<usize> {
        let n = match self.protocol {
            Protocol::Compact => self.varint()?,
            Protocol::Binary => {
                let n = self.i32()?;
                u64::try_from(n).or_else(|_| bad("a negative length"))?
            }
        };
        // Whatever it announces, a length cannot exceed what is left.
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.bytes.len())
            .map_or_else(
                || {
                    bad(format!(
                        "a length of {n} with {} bytes left",
                        self.bytes.len()
                    ))
                },
                Ok,
            )
    }

    pub(super) fn binary(&mut self) -> Result<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    pub(super) fn string(&mut self) -> Result<String> {
        String::from_utf8(self.binary()?.to_vec()).or_else(|_| bad("a string that is not UTF-8"))
    }

    fn type_of(&self, code: u8) -> Result<Type> {
        Ok(match (self.protocol, code) {
            (Protocol::Compact, 1) => Type::Bool(Some(true)),
            (Protocol::Compact, 2) => Type::Bool(Some(false)),
            (Protocol::Compact, 3) | (Protocol::Binary, 3) => Type::Byte,
            (Protocol::Compact, 4) | (Protocol::Binary, 6) => Type::I16,
            (Protocol::Compact, 5) | (Protocol::Binary, 8) => Type::I32,
            (Protocol::Compact, 6) | (Protocol::Binary, 10) => Type::I64,
            (Protocol::Compact, 7) | (Protocol::Binary, 4) => Type::Double,
            (Protocol::Compact, 8) | (Protocol::Binary, 11) => Type::Binary,
            (Protocol::Compact, 9) | (Protocol::Binary, 15) => Type::List,
            (Protocol::Compact, 10) | (Protocol::Binary, 14) => Type::Set,
            (Protocol::Compact, 11) | (Protocol::Binary, 13) => Type::Map,
            (Protocol::Compact, 12) | (Protocol::Binary, 12) => Type::Struct,
            (Protocol::Binary, 2) => Type::Bool(None),
            _ => return bad(format!("unknown thrift type {code}")),
        })
    }

    /// The next field's id and type, or `None` at the struct's end.
    fn field(&mut self) -> Result<Option<(i16, Type)>> {
        let b = self.byte()?;
        if b == 0 {
            return Ok(None);
        }
        match self.protocol {
            Protocol::Compact => {
                let ty = self.type_of(b & 0x0F)?;
                let delta = i16::from(b >> 4);
                let id = if delta == 0 {
                    self.i16()?
                } else {
                    self.last_id
                        .checked_add(delta)
                        .map_or_else(|| bad("a field id overflow"), Ok)?
                };
                self.last_id = id;
                Ok(Some((id, ty)))
            }
            Protocol::Binary => {
                let ty = self.type_of(b)?;
                Ok(Some((self.i16()?, ty)))
            }
        }
    }

    /// A list's element type and length (a set's too).
    fn list(&mut self) -> Result<(Type, usize)> {
        let (ty, n) = match self.protocol {
            Protocol::Compact => {
                let b = self.byte()?;
                let ty = self.type_of(b & 0x0F)?;
                let n = match b >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                (ty, n)
            }
            Protocol::Binary => {
                let ty = self.byte()?;
                let ty = self.type_of(ty)?;
                let n = self.i32()?;
                (
                    ty,
                    u64::try_from(n).or_else(|_| bad("a negative list length"))?,
                )
            }
        };
        // Every element takes at least a byte.
        match usize::try_from(n) {
            Ok(n) if n <= self.bytes.len() => Ok((ty, n)),
            _ => bad(format!(
                "a list of {n} elements with {} bytes left",
                self.bytes.len()
            )),
        }
    }

    pub(super) fn bool_value(&mut self, ty: Type) -> Result<bool> {
        match ty {
            Type::Bool(Some(b)) => Ok(b),
            // A list element (compact) or any binary boolean: a byte.
            Type::Bool(None) => Ok(matches!(self.byte()?, 1)),
            _ => bad("expected a bool"),
        }
    }

    /// Skips a value of type `ty`.
    pub(super) fn skip(&mut self, ty: Type, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return bad("nested too deep");
        }
        match ty {
            Type::Bool(Some(_)) => Ok(()),
            Type::Bool(None) | Type::Byte => self.take(1).map(drop),
            Type::I16 => self.i16().map(drop),
            Type::I32 => self.i32().map(drop),
            Type::I64 => self.i64().map(drop),
            Type::Double => self.take(8).map(drop),
            Type::Binary => self.binary().map(drop),
            Type::List | Type::Set => {
                let (elem, n) = self.list()?;
                let elem = element(elem);
                for _ in 0..n {
                    self.skip(elem, depth + 1)?;
                }
                Ok(())
            }
            Type::Map => {
                let n = match self.protocol {
                    Protocol::Compact => self.varint()?,
                    Protocol::Binary => 0,
                };
                let (k, v, n) = match self.protocol {
                    Protocol::Compact if n == 0 => return Ok(()),
                    Protocol::Compact => {
                        let b = self.byte()?;
                        (self.type_of(b >> 4)?, self.type_of(b & 0x0F)?, n)
                    }
                    Protocol::Binary => {
                        let (k, v) = (self.byte()?, self.byte()?);
                        let n = self.i32()?;
                        (
                            self.type_of(k)?,
                            self.type_of(v)?,
                            u64::try_from(n).or_else(|_| bad("a negative map length"))?,
                        )
                    }
                };
                if n > self.bytes.len() as u64 {
                    return bad("a map longer than the message");
                }
                for _ in 0..n {
                    self.skip(element(k), depth + 1)?;
                    self.skip(element(v), depth + 1)?;
                }
                Ok(())
            }
            Type::Struct => self.each_field(|r, _, ty| r.skip(ty, depth + 1)),
        }
    }

    /// Reads a struct, calling `f` for each field; restores the outer struct's field ids.
    pub(super) fn each_field(
        &mut self,
        mut f: impl FnMut(&mut Self, i16, Type) -> Result<()>,
    ) -> Result<()> {
        let outer = std::mem::replace(&mut self.last_id, 0);
        while let Some((id, ty)) = self.field()? {
            f(self, id, ty)?;
        }
        self.last_id = outer;
        Ok(())
    }

    /// A list of structs, each read by `f`.
    pub(super) fn structs<T>(
        &mut self,
        ty: Type,
        mut f: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        expect(ty, Type::List)?;
        let (elem, n) = self.list()?;
        expect(elem, Type::Struct)?;
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            out.push(f(self)?);
        }
        Ok(out)
    }
}

/// Inside lists, compact booleans are bytes, like binary ones.
fn element(ty: Type) -> Type {
    match ty {
        Type::Bool(_) => Type::Bool(None),
        other => other,
    }
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

pub(super) fn expect(got: Type, want: Type) -> Result<()> {
    let same = matches!((got, want), (Type::Bool(_), Type::Bool(_))) || got == want;
    if same {
        Ok(())
    } else {
        bad(format!("expected {want:?}, found {got:?}"))
    }
}
