//! LEB128 integers (`i64`s zigzagged first), texts as their length then
//! their UTF-8, and optional values as a tag byte: the small binary
//! formats of the store (span details, latency sketches) written and read.

use crate::error::{Result, StoreError};

pub fn put_u64(w: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        w.push((v as u8) | 0x80);
        v >>= 7;
    }
    w.push(v as u8);
}

pub fn put_i64(w: &mut Vec<u8>, v: i64) {
    put_u64(w, ((v << 1) ^ (v >> 63)) as u64);
}

pub fn put_text(w: &mut Vec<u8>, text: &str) {
    put_u64(w, text.len() as u64);
    w.extend_from_slice(text.as_bytes());
}

pub fn put_opt<T>(w: &mut Vec<u8>, v: Option<T>, put: fn(&mut Vec<u8>, T)) {
    match v {
        None => w.push(0),
        Some(v) => {
            w.push(1);
            put(w, v);
        }
    }
}

/// Reads what the `put_` functions wrote; `what` names the format in
/// the errors of damaged data.
pub struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { data, at: 0, what }
    }

    /// Refuses bytes left over.
    pub fn finish(&self) -> Result<()> {
        if self.at == self.data.len() {
            Ok(())
        } else {
            Err(self.corrupt(format!("{} bytes left over", self.data.len() - self.at)))
        }
    }

    fn corrupt(&self, what: String) -> StoreError {
        StoreError::Corrupt(format!("{}: {what}", self.what))
    }

    pub fn u64(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .data
                .get(self.at)
                .ok_or_else(|| self.corrupt(format!("cut short at byte {}", self.at)))?;
            self.at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt(format!("an integer too long at byte {}", self.at)))
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::try_from(self.u64()?).unwrap_or(u32::MAX))
    }

    pub fn i64(&mut self) -> Result<i64> {
        let v = self.u64()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    pub fn text(&mut self) -> Result<String> {
        let len = usize::try_from(self.u64()?).unwrap_or(usize::MAX);
        let bytes = self
            .data
            .get(self.at..self.at.saturating_add(len))
            .ok_or_else(|| self.corrupt(format!("cut short at byte {}", self.at)))?;
        self.at += len;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.corrupt("a text not UTF-8".into()))
    }

    /// `N` bytes as they are.
    pub fn bytes<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes: [u8; N] = self
            .data
            .get(self.at..self.at.saturating_add(N))
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| self.corrupt(format!("cut short at byte {}", self.at)))?;
        self.at += N;
        Ok(bytes)
    }

    pub fn opt<T>(&mut self, read: fn(&mut Self) -> Result<T>) -> Result<Option<T>> {
        let tag = *self
            .data
            .get(self.at)
            .ok_or_else(|| self.corrupt(format!("cut short at byte {}", self.at)))?;
        self.at += 1;
        match tag {
            0 => Ok(None),
            1 => read(self).map(Some),
            other => Err(self.corrupt(format!("an option tagged {other}"))),
        }
    }
}
