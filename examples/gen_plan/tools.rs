//! Small tools of the generator: its random numbers, and the writers the plan goes through
//! (compact JSON by hand, re-indented as `jq .` does, counted).

use std::io::{self, Write};

use serde_json::Value;

/// SplitMix64: small, fast and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut r = Rng(seed ^ 0x5851_F42D_4C95_7F2D);
        r.next();
        r
    }

    /// An independent stream for item `n` of stream `self`.
    pub fn fork(&self, n: u64) -> Rng {
        Rng::new(self.0 ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut at = (self.next() % u64::from(total)) as u32;
        for (i, w) in weights.iter().enumerate() {
            if at < *w {
                return i;
            }
            at -= w;
        }
        weights.len() - 1
    }

    pub fn hex(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        (0..len)
            .map(|_| DIGITS[(self.next() & 15) as usize] as char)
            .collect()
    }

    pub fn digits(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }
}

/// Re-indents the compact JSON written through it as `jq .` does: two spaces per level, one
/// member or element per line, `": "` after keys, empty containers kept as `{}` and `[]`.
pub struct Indent<'w, W: Write> {
    inner: &'w mut W,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// An opening bracket whose line break waits for the next byte (none if it closes at once).
    open: bool,
    out: Vec<u8>,
}

impl<'w, W: Write> Indent<'w, W> {
    pub fn new(inner: &'w mut W) -> Self {
        Indent {
            inner,
            depth: 0,
            in_string: false,
            escaped: false,
            open: false,
            out: Vec::with_capacity(1 << 16),
        }
    }

    fn newline(&mut self) {
        self.out.push(b'\n');
        self.out.resize(self.out.len() + 2 * self.depth, b' ');
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.out.push(b'\n');
        self.inner.write_all(&self.out)
    }
}

impl<W: Write> Write for Indent<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            if self.open {
                self.open = false;
                if matches!(b, b'}' | b']') {
                    self.depth -= 1;
                    self.out.push(b);
                    continue;
                }
                self.newline();
            }
            if self.in_string {
                self.out.push(b);
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    self.out.push(b);
                }
                b'{' | b'[' => {
                    self.out.push(b);
                    self.depth += 1;
                    self.open = true;
                }
                b'}' | b']' => {
                    self.depth -= 1;
                    self.newline();
                    self.out.push(b);
                }
                b',' => {
                    self.out.push(b);
                    self.newline();
                }
                b':' => self.out.extend_from_slice(b": "),
                _ => self.out.push(b),
            }
        }
        if self.out.len() >= 1 << 16 {
            self.inner.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.out)?;
        self.out.clear();
        self.inner.flush()
    }
}

/// Counts what goes through a writer.
pub struct Counting<W: Write> {
    pub inner: W,
    pub bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub fn put(w: &mut impl Write, text: &str) -> io::Result<()> {
    w.write_all(text.as_bytes())
}

/// Writes any serializable value as compact JSON.
macro_rules! put_json {
    ($w:expr, $value:expr $(,)?) => {
        serde_json::to_writer(&mut *$w, $value).map_err(std::io::Error::from)
    };
}
pub(crate) use put_json;

/// `"key":` for a JSON object being written by hand.
pub fn put_key(w: &mut impl Write, key: &str) -> io::Result<()> {
    put_json!(w, key)?;
    put(w, ":")
}

/// `,"key":VALUE`: one more member of a JSON object being written by hand.
pub fn put_member<T: ?Sized + serde::Serialize>(
    w: &mut impl Write,
    key: &str,
    value: &T,
) -> io::Result<()> {
    put(w, ",")?;
    put_key(w, key)?;
    put_json!(w, value)
}

pub fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

pub fn list(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}
