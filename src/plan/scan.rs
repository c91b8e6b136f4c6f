//! A streaming JSON scanner: reads a plan once, in a small window, and validates every byte.
//!
//! Plans of hundreds of megabytes are mostly resources portgate never looks at. Building a tree
//! of them (or even deserializing into `IgnoredAny` from a whole-file buffer) costs memory in
//! proportion to the file. This scanner instead keeps a window of the input (grown only while a
//! caller holds a *mark* on a value it wants to keep) and offers two speeds:
//! - [`Scanner::skip`] runs over a value with a tight loop that still checks the full JSON
//!   grammar (the same errors `serde_json` reports, at the same line and column), so a damaged
//!   plan is refused even where nothing is read from it: a gate fails closed;
//! - a caller that needs a value marks it and hands the captured bytes to `serde_json`.
//!
//! The input is UTF-8 checked chunk by chunk as it arrives, and UTF-16 input (PowerShell's `>`)
//! is transcoded on the fly, so the rest of the crate only ever sees UTF-8.

use std::io::Read;

use wide::u8x16;

use super::InputErrorKind;

/// Initial window size. The window doubles only while a marked value does not fit.
pub(super) const WINDOW: usize = 256 * 1024;

/// Deeper nesting is refused. No plan comes near it, and it bounds the scanner's stack, which
/// a hostile file of nothing but `[` would otherwise grow with its size.
pub(super) const MAX_DEPTH: usize = 1024;

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
const UTF16LE_BOM: &[u8] = &[0xFF, 0xFE];
const UTF16BE_BOM: &[u8] = &[0xFE, 0xFF];

/// Where the bytes come from: UTF-8 as is, or UTF-16 transcoded to UTF-8.
enum Source<R> {
    Utf8 {
        reader: R,
        /// Bytes read while sniffing the encoding, served first.
        prefix: Vec<u8>,
    },
    Utf16 {
        reader: R,
        big_endian: bool,
        /// Raw bytes not yet decoded (sniffed prefix, or an odd byte / half surrogate pair).
        pending: Vec<u8>,
        /// Raw byte offset of `pending[0]` in the file, for error messages.
        raw_offset: u64,
        scratch: Vec<u8>,
    },
}

/// A value's start, remembered so its bytes stay in the window until the caller takes them.
/// Marks nest: the window keeps everything from the outermost one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mark {
    /// Absolute byte offset (in the UTF-8 stream) of the value's first byte.
    pub offset: u64,
    outer: Option<u64>,
}

/// What a skipped string contained, so callers know whether it needs unescaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StringInfo {
    pub escaped: bool,
}

pub(super) struct Scanner<R> {
    source: Source<R>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Absolute offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Bytes from this absolute offset on must stay in the window.
    mark: Option<u64>,
    /// `buf[..validated]` is known to be valid UTF-8.
    validated: usize,
    /// Newlines are counted up to this absolute offset; `line` is the line there and
    /// `line_start` the absolute offset where that line starts.
    lines_at: u64,
    line: usize,
    line_start: u64,
    depth: usize,
    /// Reusable stack of open containers for [`Scanner::skip`] (`true` = object).
    stack: Vec<bool>,
}

type Result<T> = std::result::Result<T, InputErrorKind>;

impl<'a> Scanner<&'a [u8]> {
    /// A scanner over UTF-8 bytes already in memory, with a window that fits them (instead of
    /// the default window, which would be allocated for every small value).
    /// The bytes must be UTF-8 JSON (they are still checked): no encoding is sniffed.
    pub fn for_slice(bytes: &'a [u8]) -> Self {
        Scanner::from_source(
            Source::Utf8 {
                reader: bytes,
                prefix: Vec::new(),
            },
            bytes.len() + 1,
        )
    }
}

impl<R: Read> Scanner<R> {
    /// Sniffs the encoding from the first bytes and prepares to scan. Refuses binary plans.
    pub fn new(reader: R) -> Result<Self> {
        Scanner::with_window(reader, WINDOW)
    }

    fn with_window(mut reader: R, window: usize) -> Result<Self> {
        let mut prefix = Vec::with_capacity(16);
        let mut chunk = [0u8; 16];
        while prefix.len() < 16 {
            let n = read_retrying(&mut reader, &mut chunk[..16 - prefix.len()])?;
            if n == 0 {
                break;
            }
            prefix.extend_from_slice(&chunk[..n]);
        }
        if prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(b"PK\x05\x06") {
            return Err(InputErrorKind::BinaryPlan);
        }
        let utf16 = |reader, big_endian, pending: Vec<u8>, raw_offset| Source::Utf16 {
            reader,
            big_endian,
            pending,
            raw_offset,
            scratch: Vec::new(),
        };
        let source = if let Some(rest) = prefix.strip_prefix(UTF8_BOM) {
            Source::Utf8 {
                reader,
                prefix: rest.to_vec(),
            }
        } else if let Some(rest) = prefix.strip_prefix(UTF16LE_BOM) {
            utf16(reader, false, rest.to_vec(), 2)
        } else if let Some(rest) = prefix.strip_prefix(UTF16BE_BOM) {
            utf16(reader, true, rest.to_vec(), 2)
        } else if looks_like_utf16(&prefix, 1) {
            // UTF-16 without a BOM: ASCII text has a zero in every other byte.
            utf16(reader, false, prefix, 0)
        } else if looks_like_utf16(&prefix, 0) {
            utf16(reader, true, prefix, 0)
        } else {
            Source::Utf8 { reader, prefix }
        };
        Ok(Scanner::from_source(source, window))
    }

    fn from_source(source: Source<R>, window: usize) -> Self {
        Scanner {
            source,
            buf: vec![0; window.max(16)],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            mark: None,
            validated: 0,
            lines_at: 0,
            line: 1,
            line_start: 0,
            depth: 0,
            stack: Vec::new(),
        }
    }

    // ---- the window ---------------------------------------------------------------------------

    /// Reads more input into the window. Returns false at the end of the input.
    #[cold]
    fn refill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let marked = self.mark.map_or(self.pos, |m| (m - self.base) as usize);
        let keep = marked.min(self.pos).min(self.validated);
        if keep > 0 {
            self.count_lines_to(self.base + keep as u64);
            self.buf.copy_within(keep..self.end, 0);
            self.pos -= keep;
            self.end -= keep;
            self.validated -= keep;
            self.base += keep as u64;
        }
        if self.end == self.buf.len() {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        let n = self.read_source()?;
        if n == 0 {
            self.eof = true;
            if self.validated < self.end {
                return Err(self.invalid_utf8(self.validated));
            }
            return Ok(false);
        }
        self.end += n;
        match simdutf8::compat::from_utf8(&self.buf[self.validated..self.end]) {
            Ok(_) => self.validated = self.end,
            Err(e) if e.error_len().is_none() => self.validated += e.valid_up_to(),
            Err(e) => return Err(self.invalid_utf8(self.validated + e.valid_up_to())),
        }
        Ok(true)
    }

    fn read_source(&mut self) -> Result<usize> {
        let out = &mut self.buf[self.end..];
        match &mut self.source {
            Source::Utf8 { reader, prefix } => {
                if !prefix.is_empty() {
                    let n = prefix.len().min(out.len());
                    out[..n].copy_from_slice(&prefix[..n]);
                    prefix.drain(..n);
                    return Ok(n);
                }
                read_retrying(reader, out)
            }
            Source::Utf16 {
                reader,
                big_endian,
                pending,
                raw_offset,
                scratch,
            } => {
                // Each UTF-16 code unit (2 bytes) becomes at most 3 UTF-8 bytes, and a surrogate
                // pair (4 bytes) 4, so reading 2/3 of the room in raw bytes always fits.
                let want = (out.len() / 3 * 2).max(4);
                loop {
                    scratch.resize(want, 0);
                    let n = read_retrying(reader, scratch)?;
                    pending.extend_from_slice(&scratch[..n]);
                    let at_end = n == 0;
                    let written = decode_utf16(pending, *big_endian, out, at_end, raw_offset)?;
                    if written > 0 || at_end {
                        return Ok(written);
                    }
                }
            }
        }
    }

    /// Ensures at least one unread byte in the window; false at the end of the input.
    #[inline]
    fn more(&mut self) -> Result<bool> {
        if self.pos < self.end {
            Ok(true)
        } else {
            self.refill()
        }
    }

    // ---- positions ------------------------------------------------------------------------------

    fn count_lines_to(&mut self, to: u64) {
        if to <= self.lines_at {
            return;
        }
        let from = (self.lines_at - self.base) as usize;
        let until = (to - self.base) as usize;
        let slice = &self.buf[from..until];
        let newlines = memchr::memchr_iter(b'\n', slice).count();
        if newlines > 0 {
            self.line += newlines;
            let last = memchr::memrchr(b'\n', slice).unwrap_or(0);
            self.line_start = self.base + (from + last + 1) as u64;
        }
        self.lines_at = to;
    }

    /// 1-based line, and column in bytes, *after* the first `offset` bytes of the stream: the
    /// position `serde_json` reports for an error at byte `offset - 1`.
    pub fn position_after(&mut self, offset: u64) -> (usize, usize) {
        let offset = offset.clamp(self.lines_at, self.base + self.end as u64);
        self.count_lines_to(offset);
        (self.line, (offset - self.line_start) as usize)
    }

    /// 1-based line and column of the byte at absolute `offset` (still in the window).
    pub fn position_of(&mut self, offset: u64) -> (usize, usize) {
        self.position_after(offset + 1)
    }

    /// The window's size: what the scanner holds of the file.
    pub fn window_len(&self) -> usize {
        self.buf.len()
    }

    /// Absolute offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// A JSON error at the byte under the cursor (the way serde_json positions it).
    pub fn error(&mut self, message: &str) -> InputErrorKind {
        let at = if self.pos < self.end {
            self.offset() + 1
        } else {
            self.offset()
        };
        let (line, column) = self.position_after(at);
        InputErrorKind::Json {
            line,
            column,
            path: String::new(),
            message: format!("invalid JSON: {message}"),
        }
    }

    /// An error that is not about JSON syntax (a missing field, say), at the cursor.
    pub fn error_message(&mut self, message: String) -> InputErrorKind {
        let (line, column) = self.position_after(self.offset());
        InputErrorKind::Json {
            line,
            column,
            path: String::new(),
            message,
        }
    }

    /// A value of the wrong JSON type under the cursor.
    pub fn type_error(&mut self, expected: &str) -> InputErrorKind {
        let found = match self.peek() {
            Ok(Some(b'"')) => "a string",
            Ok(Some(b'{')) => "a map",
            Ok(Some(b'[')) => "a list",
            Ok(Some(b't' | b'f')) => "a boolean",
            Ok(Some(b'n')) => "null",
            Ok(Some(b'-' | b'0'..=b'9')) => "a number",
            Ok(Some(_)) => return self.error("expected value"),
            Ok(None) => return self.eof_error("a value"),
            Err(e) => return e,
        };
        let at = self.offset() + 1;
        let (line, column) = self.position_after(at);
        // A broken value is a syntax error first: report that, as a JSON parser would.
        if let Err(syntax) = self.skip() {
            return syntax;
        }
        InputErrorKind::Json {
            line,
            column,
            path: String::new(),
            message: format!("invalid type: {found}, expected {expected}"),
        }
    }

    fn eof_error(&mut self, what: &str) -> InputErrorKind {
        let (line, column) = self.position_after(self.offset());
        InputErrorKind::Json {
            line,
            column,
            path: String::new(),
            message: format!(
                "invalid JSON: EOF while parsing {what}: the file ends early (truncated?)"
            ),
        }
    }

    fn invalid_utf8(&mut self, index: usize) -> InputErrorKind {
        let (line, column) = self.position_of(self.base + index as u64);
        InputErrorKind::InvalidUtf8 {
            line,
            column,
            offset: (self.base + index as u64) as usize,
        }
    }

    // ---- tokens -------------------------------------------------------------------------------

    /// Skips whitespace and returns the next byte without consuming it; None at the end.
    #[inline]
    pub fn peek(&mut self) -> Result<Option<u8>> {
        // Plans are compact JSON: the next byte is nearly always the token itself.
        if self.pos < self.end {
            let b = self.buf[self.pos];
            if b > b' ' {
                return Ok(Some(b));
            }
        }
        self.peek_slow()
    }

    #[inline(never)]
    fn peek_slow(&mut self) -> Result<Option<u8>> {
        loop {
            while self.pos < self.end {
                match self.buf[self.pos] {
                    b' ' | b'\n' | b'\t' | b'\r' => self.pos += 1,
                    b => return Ok(Some(b)),
                }
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    /// Consumes `byte` (after whitespace) or fails with `message`.
    fn expect_byte(&mut self, byte: u8, message: &str, eof_what: &str) -> Result<()> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.error(message)),
            None => Err(self.eof_error(eof_what)),
        }
    }

    /// After the whole document: only whitespace may follow.
    pub fn expect_end(&mut self) -> Result<()> {
        match self.peek()? {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    /// Enters an object (`{` under the cursor was already checked by the caller's peek).
    pub fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nesting deeper than 1024 levels"));
        }
        self.pos += 1;
        Ok(())
    }

    /// Advances to the next key of the object being read and leaves the cursor on its opening
    /// quote; false when the object ends. `first` tracks whether a comma is due.
    pub fn next_key(&mut self, first: &mut bool) -> Result<bool> {
        match self.peek()? {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(false);
            }
            Some(b',') if !*first => {
                self.pos += 1;
            }
            Some(_) if !*first => return Err(self.error("expected `,` or `}`")),
            Some(_) => {}
            None => return Err(self.eof_error("an object")),
        }
        *first = false;
        match self.peek()? {
            Some(b'"') => Ok(true),
            Some(b'}') => Err(self.error("trailing comma")),
            Some(_) => Err(self.error("key must be a string")),
            None => Err(self.eof_error("an object")),
        }
    }

    /// Reads the key under the cursor into `out` (raw bytes, unescaped when needed) and the
    /// colon after it.
    pub fn key(&mut self, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        if let Some((end, false)) = string_end_escaped(&self.buf[..self.end], self.pos + 1)
            && self.buf.get(end) == Some(&b':')
        {
            out.extend_from_slice(&self.buf[self.pos + 1..end - 1]);
            self.pos = end + 1;
            return Ok(());
        }
        self.string_into(out)?;
        self.expect_byte(b':', "expected `:`", "an object")
    }

    /// Advances to the next element of the array being read; false when it ends.
    pub fn next_element(&mut self, first: &mut bool) -> Result<bool> {
        match self.peek()? {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(false);
            }
            Some(b',') if !*first => {
                self.pos += 1;
            }
            Some(_) if !*first => return Err(self.error("expected `,` or `]`")),
            Some(_) => {}
            None => return Err(self.eof_error("a list")),
        }
        *first = false;
        match self.peek()? {
            Some(b']') => Err(self.error("trailing comma")),
            Some(_) => Ok(true),
            None => Err(self.eof_error("a list")),
        }
    }

    /// Appends the raw contents of the string under the cursor (escapes left as they are) to
    /// `out`, and says whether it has escapes. Cheaper than decoding, for values that are only
    /// compared or rarely needed.
    pub fn raw_string_into(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        if let Some((end, escaped)) = string_end_escaped(&self.buf[..self.end], self.pos + 1) {
            out.extend_from_slice(&self.buf[self.pos + 1..end - 1]);
            self.pos = end;
            return Ok(escaped);
        }
        let mark = self.set_mark();
        let skipped = self.skip_string();
        if skipped.is_ok() {
            let raw = self.captured(mark);
            out.extend_from_slice(&raw[1..raw.len() - 1]);
        }
        self.clear_mark(mark);
        skipped.map(|info| info.escaped)
    }

    /// Reads a string value into `out` (decoded); the cursor must be on its opening quote.
    pub fn string_into(&mut self, out: &mut Vec<u8>) -> Result<StringInfo> {
        let mark = self.set_mark();
        let result = self
            .skip_string()
            .and_then(|info| self.decode_captured(mark, info, out));
        self.clear_mark(mark);
        result
    }

    fn decode_captured(
        &mut self,
        mark: Mark,
        info: StringInfo,
        out: &mut Vec<u8>,
    ) -> Result<StringInfo> {
        let raw = self.captured(mark);
        if !info.escaped {
            out.extend_from_slice(&raw[1..raw.len() - 1]);
            return Ok(info);
        }
        let failure = match serde_json::from_slice::<String>(raw) {
            Ok(text) => {
                out.extend_from_slice(text.as_bytes());
                return Ok(info);
            }
            Err(e) => (e.column(), e.to_string()),
        };
        let (column, message) = failure;
        let message = message.split(" at line ").next().unwrap_or("").to_string();
        let (line, column) = self.position_after(mark.offset + column as u64);
        Err(InputErrorKind::Json {
            line,
            column,
            path: String::new(),
            message: format!("invalid JSON: {message}"),
        })
    }

    // ---- marks ----------------------------------------------------------------------------------

    /// Marks the value under the cursor: its bytes stay in the window until [`Self::clear_mark`].
    pub fn set_mark(&mut self) -> Mark {
        let offset = self.offset();
        let outer = self.mark;
        self.mark = Some(outer.map_or(offset, |m| m.min(offset)));
        Mark { offset, outer }
    }

    /// The bytes from `mark` to the cursor.
    pub fn captured(&self, mark: Mark) -> &[u8] {
        let start = (mark.offset - self.base) as usize;
        &self.buf[start..self.pos]
    }

    /// The window's bytes from `mark` on, as far as they are known to be UTF-8 (a value that
    /// ends in them lies wholly in the window).
    pub fn window_from(&self, mark: Mark) -> &[u8] {
        let start = (mark.offset - self.base) as usize;
        &self.buf[start..self.validated.max(start)]
    }

    /// How many containers are open at the cursor.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Leaves the object the cursor is in, for the absolute `offset` just past its closing
    /// brace: a caller that has read the rest of the object from [`Scanner::window_from`]
    /// (and checked it) moves the cursor there.
    pub fn leave_object_at(&mut self, offset: u64) {
        self.pos = (offset - self.base) as usize;
        debug_assert!(self.pos <= self.validated && self.buf[self.pos - 1] == b'}');
        self.depth -= 1;
    }

    /// Releases `mark` (and only it: an outer mark still holds its bytes).
    pub fn clear_mark(&mut self, mark: Mark) {
        self.mark = mark.outer;
    }

    // ---- skipping -------------------------------------------------------------------------------

    /// Skips one value, checking its grammar.
    pub fn skip(&mut self) -> Result<()> {
        let outer_depth = self.depth;
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        let result = self.skip_with(&mut stack);
        self.stack = stack;
        if result.is_ok() {
            debug_assert_eq!(self.depth, outer_depth);
        }
        result
    }

    fn skip_with(&mut self, stack: &mut Vec<bool>) -> Result<()> {
        let mut state = State::Value;
        loop {
            if self.skip_fast(stack, &mut state) {
                return Ok(());
            }
            // One token the fast loop left alone: whitespace, the window's edge, or an error.
            state = match state {
                State::Value => self.slow_value(stack)?,
                State::After => match self.slow_after(stack)? {
                    Some(next) => next,
                    None => return Ok(()),
                },
            };
        }
    }

    /// The hot loop: runs over tokens that lie wholly in the window with no error, keeping the
    /// cursor in a local. Whitespace between tokens (pretty-printed plans, `json.dump`'s `", "`
    /// and `": "`) is skipped here too; only a run reaching the window's end leaves the loop. Returns true when the value is complete; false to
    /// let the careful path take the next token (it then returns here).
    #[inline(never)]
    fn skip_fast(&mut self, stack: &mut Vec<bool>, state: &mut State) -> bool {
        let buf = &self.buf[..self.end];
        let mut pos = self.pos;
        let mut depth = self.depth;
        // Locals, not the caller's memory: the compiler keeps them in registers.
        let mut st = *state;
        let mut top = stack.last().copied();
        let finished = loop {
            let Some(&b) = buf.get(pos) else {
                break false;
            };
            // (Not past the end of the outermost value: the caller reads on from there.)
            if matches!(b, b' ' | b'\n' | b'\t' | b'\r')
                && !(matches!(st, State::After) && top.is_none())
            {
                pos = skip_space(buf, pos);
                continue;
            }
            match st {
                State::Value => match b {
                    b'"' => match string_end(buf, pos + 1) {
                        Some(after) => {
                            pos = after;
                            st = State::After;
                        }
                        None => break false,
                    },
                    b'{' if depth < MAX_DEPTH => match skip_space_at(buf, pos + 1) {
                        (p, Some(b'}')) => {
                            pos = p + 1;
                            st = State::After;
                        }
                        (p, Some(b'"')) => match key_end(buf, p + 1) {
                            Some(after) => {
                                depth += 1;
                                stack.push(true);
                                top = Some(true);
                                pos = after;
                            }
                            None => break false,
                        },
                        _ => break false,
                    },
                    b'[' if depth < MAX_DEPTH => match skip_space_at(buf, pos + 1) {
                        (p, Some(b']')) => {
                            pos = p + 1;
                            st = State::After;
                        }
                        (p, Some(_)) => {
                            depth += 1;
                            stack.push(false);
                            top = Some(false);
                            pos = p;
                        }
                        _ => break false,
                    },
                    b't' | b'f' | b'n' => match literal_len(buf, pos) {
                        Some(len) => {
                            pos += len;
                            st = State::After;
                        }
                        None => break false,
                    },
                    b'-' | b'0'..=b'9' => match number_end(buf, pos) {
                        Some(end) => {
                            pos = end;
                            st = State::After;
                        }
                        None => break false,
                    },
                    _ => break false,
                },
                State::After => {
                    let Some(is_object) = top else {
                        break true;
                    };
                    match b {
                        b',' if is_object => match skip_space_at(buf, pos + 1) {
                            (p, Some(b'"')) => match key_end(buf, p + 1) {
                                Some(after) => {
                                    pos = after;
                                    st = State::Value;
                                }
                                None => break false,
                            },
                            _ => break false,
                        },
                        b',' => match skip_space_at(buf, pos + 1) {
                            (p, Some(&c)) if c != b']' => {
                                pos = p;
                                st = State::Value;
                            }
                            _ => break false,
                        },
                        b'}' | b']' if b == if is_object { b'}' } else { b']' } => {
                            pos += 1;
                            depth -= 1;
                            stack.pop();
                            top = stack.last().copied();
                        }
                        _ => break false,
                    }
                }
            }
        };
        self.pos = pos;
        self.depth = depth;
        *state = st;
        finished
    }

    /// One value token, carefully: whitespace, refills and every error message.
    fn slow_value(&mut self, stack: &mut Vec<bool>) -> Result<State> {
        let Some(b) = self.peek()? else {
            return Err(self.eof_error("a value"));
        };
        match b {
            b'"' => {
                self.skip_string()?;
            }
            b'{' => {
                self.enter()?;
                match self.peek()? {
                    Some(b'}') => {
                        self.pos += 1;
                        self.depth -= 1;
                    }
                    Some(b'"') => {
                        stack.push(true);
                        self.skip_key()?;
                        return Ok(State::Value);
                    }
                    Some(_) => return Err(self.error("key must be a string")),
                    None => return Err(self.eof_error("an object")),
                }
            }
            b'[' => {
                self.enter()?;
                match self.peek()? {
                    Some(b']') => {
                        self.pos += 1;
                        self.depth -= 1;
                    }
                    Some(_) => {
                        stack.push(false);
                        return Ok(State::Value);
                    }
                    None => return Err(self.eof_error("a list")),
                }
            }
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return Err(self.error("expected value")),
        }
        Ok(State::After)
    }

    /// One step after a value, carefully: a comma (and the next key), or a closing bracket.
    /// None when the outermost value is complete.
    fn slow_after(&mut self, stack: &mut Vec<bool>) -> Result<Option<State>> {
        let Some(&is_object) = stack.last() else {
            return Ok(None);
        };
        let close = if is_object { b'}' } else { b']' };
        match self.peek()? {
            Some(b',') => {
                self.pos += 1;
                if is_object {
                    match self.peek()? {
                        Some(b'"') => self.skip_key()?,
                        Some(b'}') => return Err(self.error("trailing comma")),
                        Some(_) => return Err(self.error("key must be a string")),
                        None => return Err(self.eof_error("an object")),
                    }
                } else if self.peek()? == Some(b']') {
                    return Err(self.error("trailing comma"));
                }
                Ok(Some(State::Value))
            }
            Some(b) if b == close => {
                self.pos += 1;
                self.depth -= 1;
                stack.pop();
                Ok(Some(State::After))
            }
            Some(_) => Err(self.error(if is_object {
                "expected `,` or `}`"
            } else {
                "expected `,` or `]`"
            })),
            None => Err(self.eof_error(if is_object { "an object" } else { "a list" })),
        }
    }

    fn skip_key(&mut self) -> Result<()> {
        self.skip_string()?;
        self.expect_byte(b':', "expected `:`", "an object")
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> Result<()> {
        if let Some(len) = literal_len(&self.buf[..self.end], self.pos)
            && self.buf[self.pos] == word[0]
        {
            self.pos += len;
            return Ok(());
        }
        self.literal_slow(word)
    }

    #[inline(never)]
    fn literal_slow(&mut self, word: &[u8]) -> Result<()> {
        for &expected in word {
            if !self.more()? {
                return Err(self.eof_error("a value"));
            }
            if self.buf[self.pos] != expected {
                return Err(self.error("expected ident"));
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// Skips a number. The common case, a valid number wholly inside the window, is checked on
    /// the slice; anything else takes the byte-by-byte path that names the error.
    #[inline]
    fn number(&mut self) -> Result<()> {
        if let Some(end) = number_end(&self.buf[..self.end], self.pos) {
            self.pos = end;
            return Ok(());
        }
        self.number_slow()
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    #[inline(never)]
    fn number_slow(&mut self) -> Result<()> {
        if self.buf[self.pos] == b'-' {
            self.pos += 1;
        }
        let first = self.next_byte()?;
        match first {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.pos += 1;
                self.digits()?;
            }
            Some(_) => return Err(self.error("invalid number")),
            None => return Err(self.eof_error("a value")),
        }
        if self.next_byte()? == Some(b'.') {
            self.pos += 1;
            match self.next_byte()? {
                Some(b'0'..=b'9') => self.digits()?,
                Some(_) => return Err(self.error("invalid number")),
                None => return Err(self.eof_error("a value")),
            }
        }
        if matches!(self.next_byte()?, Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.next_byte()?, Some(b'+' | b'-')) {
                self.pos += 1;
            }
            match self.next_byte()? {
                Some(b'0'..=b'9') => self.digits()?,
                Some(_) => return Err(self.error("invalid number")),
                None => return Err(self.eof_error("a value")),
            }
        }
        Ok(())
    }

    fn digits(&mut self) -> Result<()> {
        while let Some(b'0'..=b'9') = self.next_byte()? {
            self.pos += 1;
        }
        Ok(())
    }

    /// The byte under the cursor, without skipping whitespace.
    #[inline]
    fn next_byte(&mut self) -> Result<Option<u8>> {
        if self.more()? {
            Ok(Some(self.buf[self.pos]))
        } else {
            Ok(None)
        }
    }

    /// Skips a string (cursor on its opening quote), checking escapes and control characters.
    pub fn skip_string(&mut self) -> Result<StringInfo> {
        if let Some((end, escaped)) = string_end_escaped(&self.buf[..self.end], self.pos + 1) {
            self.pos = end;
            return Ok(StringInfo { escaped });
        }
        self.skip_string_slow()
    }

    #[inline(never)]
    fn skip_string_slow(&mut self) -> Result<StringInfo> {
        self.pos += 1;
        let mut escaped = false;
        loop {
            let found = find_special(&self.buf[self.pos..self.end]);
            match found {
                Some(i) => {
                    self.pos += i;
                    match self.buf[self.pos] {
                        b'"' => {
                            self.pos += 1;
                            return Ok(StringInfo { escaped });
                        }
                        b'\\' => {
                            escaped = true;
                            self.pos += 1;
                            self.escape()?;
                        }
                        _ => {
                            // serde_json points at the byte before a control character.
                            let (line, column) = self.position_after(self.offset());
                            return Err(InputErrorKind::Json {
                                line,
                                column,
                                path: String::new(),
                                message: "invalid JSON: control character (\\u0000-\\u001F) found while parsing a string".to_string(),
                            });
                        }
                    }
                }
                None => {
                    self.pos = self.end;
                    if !self.refill()? {
                        return Err(self.eof_error("a string"));
                    }
                }
            }
        }
    }

    fn escape(&mut self) -> Result<()> {
        if !self.more()? {
            return Err(self.eof_error("a string"));
        }
        match self.buf[self.pos] {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                self.pos += 1;
                Ok(())
            }
            b'u' => {
                // Like serde_json: take four bytes, then judge them, and point past them.
                self.pos += 1;
                while self.end - self.pos < 4 {
                    if !self.refill()? {
                        self.pos = self.end;
                        return Err(self.eof_error("a string"));
                    }
                }
                let hex = &self.buf[self.pos..self.pos + 4];
                let valid = hex.iter().all(u8::is_ascii_hexdigit);
                self.pos += 4;
                if valid {
                    Ok(())
                } else {
                    let (line, column) = self.position_after(self.offset());
                    Err(InputErrorKind::Json {
                        line,
                        column,
                        path: String::new(),
                        message: "invalid JSON: invalid escape".to_string(),
                    })
                }
            }
            _ => Err(self.error("invalid escape")),
        }
    }
}

/// The whole input as UTF-8 text (decoded like the scanner decodes it).
pub(super) fn read_text<R: Read>(reader: R) -> Result<String> {
    let mut scanner = Scanner::new(reader)?;
    let mark = scanner.set_mark();
    loop {
        scanner.pos = scanner.end;
        if !scanner.refill()? {
            break;
        }
    }
    let text = String::from_utf8_lossy(scanner.captured(mark)).into_owned();
    Ok(text)
}

fn read_retrying<R: Read>(reader: &mut R, out: &mut [u8]) -> Result<usize> {
    loop {
        match reader.read(out) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(InputErrorKind::Read {
                    message: e.to_string(),
                });
            }
        }
    }
}

/// Where the skip loop is: expecting a value, or just after one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Value,
    After,
}

/// For a string whose contents start at `start`: the index just past its closing quote, when
/// the string lies wholly in `buf` and is valid. None sends the string to the careful path.
#[inline(always)]
fn string_end(buf: &[u8], start: usize) -> Option<usize> {
    string_end_escaped(buf, start).map(|(end, _)| end)
}

/// [`string_end`], and whether the string contains an escape.
#[inline(always)]
pub(super) fn string_end_escaped(buf: &[u8], start: usize) -> Option<(usize, bool)> {
    if let Some(end) = plain_short_string_end(buf.get(start..)?) {
        return Some((start + end + 1, false));
    }
    let mut at = start;
    let mut escaped = false;
    loop {
        let i = at + find_special(buf.get(at..)?)?;
        match buf[i] {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => match buf.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                    escaped = true;
                    at = i + 2;
                }
                b'u' => {
                    let hex = buf.get(i + 2..i + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    escaped = true;
                    at = i + 6;
                }
                _ => return None,
            },
            _ => return None,
        }
    }
}

/// The masks of 16 bytes of string contents: bit `i` set when byte `i` is `"` (`quotes`), or a
/// `\\` or a control byte below 0x20 (`others`). Compared 16 at a time (SSE2 on x86-64, through
/// `wide`'s safe vectors): about ten instructions for what took twenty per 8 bytes as SWAR.
#[inline(always)]
fn special_masks(chunk: &[u8; 16]) -> (u32, u32) {
    let bytes = u8x16::new(*chunk);
    let quotes = bytes.simd_eq(u8x16::splat(b'"'));
    let backslashes = bytes.simd_eq(u8x16::splat(b'\\'));
    let controls = bytes.max(u8x16::splat(0x1F)).simd_eq(u8x16::splat(0x1F));
    (quotes.to_bitmask(), (backslashes | controls).to_bitmask())
}

/// The 16 bytes of `bytes` at `at`, when there are that many.
#[inline(always)]
fn chunk16(bytes: &[u8], at: usize) -> Option<&[u8; 16]> {
    bytes.get(at..at + 16)?.try_into().ok()
}

/// The common case, decided without reading the found byte back: the index of the closing
/// quote of a string of at most 64 bytes with no escape or control byte. None for anything else
/// (the general path decides those).
#[inline(always)]
fn plain_short_string_end(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < 64 {
        let (quotes, others) = special_masks(chunk16(bytes, i)?);
        if quotes | others != 0 {
            // The quote ends the string only if nothing special comes first.
            return (quotes.trailing_zeros() < others.trailing_zeros())
                .then(|| i + quotes.trailing_zeros() as usize);
        }
        i += 16;
    }
    None
}

/// For a key whose contents start at `start`: the index just past the colon that follows it.
#[inline(always)]
fn key_end(buf: &[u8], start: usize) -> Option<usize> {
    let end = skip_space(buf, string_end(buf, start)?);
    (buf.get(end) == Some(&b':')).then_some(end + 1)
}

/// The first index at or after `pos` that is not JSON whitespace.
#[inline(always)]
pub(super) fn skip_space(buf: &[u8], mut pos: usize) -> usize {
    while matches!(buf.get(pos), Some(b' ' | b'\n' | b'\t' | b'\r')) {
        pos += 1;
    }
    pos
}

/// [`skip_space`], with the byte found there (`None` at the window's end).
#[inline(always)]
fn skip_space_at(buf: &[u8], pos: usize) -> (usize, Option<&u8>) {
    let pos = skip_space(buf, pos);
    (pos, buf.get(pos))
}

/// Index of the first `"`, `\` or control character (< 0x20) in `bytes`. String contents are
/// most of a plan's bytes, so this is the scanner's hot loop: `memchr2` finds the quote or
/// backslash with SIMD, then a loop the compiler vectorizes checks the bytes before it.
#[inline(always)]
fn find_special(bytes: &[u8]) -> Option<usize> {
    // Keys and most values are short: 16 bytes at a time over the first 64 find their end
    // (see `special_masks`).
    const SHORT: usize = 64;
    let mut i = 0;
    while i < SHORT {
        let Some(chunk) = chunk16(bytes, i) else {
            return bytes[i..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .map(|p| i + p);
        };
        let (quotes, others) = special_masks(chunk);
        let flags = quotes | others;
        if flags != 0 {
            return Some(i + flags.trailing_zeros() as usize);
        }
        i += 16;
    }
    find_special_long(&bytes[SHORT..]).map(|p| p + SHORT)
}

/// Long strings (descriptions, policy documents, certificates): SIMD `memchr2` for the quote or
/// backslash, then a loop the compiler vectorizes checks the bytes before it for control bytes.
#[inline(never)]
fn find_special_long(bytes: &[u8]) -> Option<usize> {
    let stop = memchr::memchr2(b'"', b'\\', bytes);
    let before = &bytes[..stop.unwrap_or(bytes.len())];
    let mut chunks = before.chunks_exact(32);
    let mut checked = 0;
    for chunk in &mut chunks {
        if chunk.iter().fold(0u8, |acc, &b| acc | u8::from(b < 0x20)) != 0 {
            break;
        }
        checked += 32;
    }
    match before[checked..].iter().position(|&b| b < 0x20) {
        Some(p) => Some(checked + p),
        None => stop,
    }
}

/// The length of the literal `true`, `false` or `null` at `pos`, when it is one and lies wholly
/// in `buf`. Compared as words: this runs for every literal in the plan.
#[inline]
pub(super) fn literal_len(buf: &[u8], pos: usize) -> Option<usize> {
    let word = |at: usize| -> Option<u32> {
        let bytes: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_le_bytes(bytes))
    };
    let first = word(pos)?;
    if first == u32::from_le_bytes(*b"true") || first == u32::from_le_bytes(*b"null") {
        Some(4)
    } else if first == u32::from_le_bytes(*b"fals") && buf.get(pos + 4) == Some(&b'e') {
        Some(5)
    } else {
        None
    }
}

/// For a number starting at `pos`: the index just past it, when it is valid and a byte that
/// cannot continue it follows inside `buf` (so the window's edge never cuts a number short).
#[inline(always)]
pub(super) fn number_end(buf: &[u8], pos: usize) -> Option<usize> {
    // Most numbers in a plan are small non-negative integers (ports, counts, indexes).
    let first = *buf.get(pos)?;
    if first.is_ascii_digit() {
        let mut i = pos + 1;
        if first != b'0' {
            while buf.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(buf.get(i), Some(b',' | b']' | b'}')) {
            return Some(i);
        }
    }
    number_end_general(buf, pos)
}

#[inline(never)]
fn number_end_general(buf: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos + usize::from(buf.get(pos) == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while buf.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    match buf.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => {
            digits(&mut i);
        }
        _ => return None,
    }
    if buf.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(buf.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(buf.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    match buf.get(i)? {
        b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' => None,
        _ => Some(i),
    }
}

/// Whether `bytes` is exactly one JSON number (test helper for [`number_end`]).
#[cfg(test)]
fn is_number(bytes: &[u8]) -> bool {
    let mut padded = bytes.to_vec();
    padded.push(b',');
    number_end(&padded, 0) == Some(bytes.len())
}

/// True when the first bytes look like ASCII JSON stored as UTF-16 with no BOM, with the zero
/// byte of each code unit at `zero_at` (1 for little endian, 0 for big endian).
fn looks_like_utf16(bytes: &[u8], zero_at: usize) -> bool {
    let sample: Vec<&[u8]> = bytes.chunks_exact(2).take(8).collect();
    sample.len() >= 2
        && sample
            .iter()
            .all(|pair| pair[zero_at] == 0 && pair[1 - zero_at] != 0)
}

/// Decodes as much of `pending` (raw UTF-16) as fits into `out` as UTF-8, leaving an odd byte
/// or a high surrogate whose pair has not arrived yet. At the end of the input, leftovers are
/// errors.
fn decode_utf16(
    pending: &mut Vec<u8>,
    big_endian: bool,
    out: &mut [u8],
    at_end: bool,
    raw_offset: &mut u64,
) -> Result<usize> {
    let unit = |pair: &[u8]| {
        if big_endian {
            u16::from_be_bytes([pair[0], pair[1]])
        } else {
            u16::from_le_bytes([pair[0], pair[1]])
        }
    };
    let mut written = 0;
    let mut used = 0;
    while used + 2 <= pending.len() && written + 4 <= out.len() {
        let first = unit(&pending[used..used + 2]);
        let (c, width) = match first {
            0xD800..=0xDBFF => {
                if used + 4 > pending.len() {
                    break; // the low surrogate is still to come
                }
                let second = unit(&pending[used + 2..used + 4]);
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(InputErrorKind::InvalidUtf16 {
                        offset: (*raw_offset + used as u64) as usize,
                        reason: "unpaired surrogate",
                    });
                }
                let code =
                    0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00);
                (char::from_u32(code), 4)
            }
            0xDC00..=0xDFFF => (None, 2),
            _ => (char::from_u32(u32::from(first)), 2),
        };
        let Some(c) = c else {
            return Err(InputErrorKind::InvalidUtf16 {
                offset: (*raw_offset + used as u64) as usize,
                reason: "unpaired surrogate",
            });
        };
        written += c.encode_utf8(&mut out[written..]).len();
        used += width;
    }
    pending.drain(..used);
    *raw_offset += used as u64;
    if at_end && written == 0 && !pending.is_empty() {
        let (offset, reason) = if pending.len() % 2 == 1 {
            (
                *raw_offset + pending.len() as u64 - 1,
                "odd number of bytes (truncated file?)",
            )
        } else {
            (*raw_offset, "unpaired surrogate")
        };
        return Err(InputErrorKind::InvalidUtf16 {
            offset: offset as usize,
            reason,
        });
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Just;

    fn scan_all(bytes: &[u8]) -> Result<()> {
        let mut scanner = Scanner::new(bytes)?;
        scanner.skip()?;
        scanner.expect_end()
    }

    #[test]
    fn find_special_finds_the_first_quote_backslash_or_control_byte() {
        for (text, expected) in [
            (&b"abcdefghijklmnop\"q"[..], Some(16)),
            (b"abc\\defghijk", Some(3)),
            (b"abcdefg\x01hij", Some(7)),
            (b"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"", Some(8)),
            (b"abcdefghijklmnopq", None),
            (b"\x7f\x80\xff\xfe\"", Some(4)),
        ] {
            assert_eq!(find_special(text), expected, "{text:?}");
        }
        // Every byte value at every place of the 16-byte steps and across them.
        for len in [15, 16, 17, 40, 80] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let special = b == b'"' || b == b'\\' || b < 0x20;
                    assert_eq!(
                        find_special(&bytes),
                        special.then_some(at),
                        "{b:#x} at {at}"
                    );
                    let end = plain_short_string_end(&bytes);
                    assert!(
                        end.is_none() || (b == b'"' && end == Some(at)),
                        "{b:#x} at {at}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn plain_short_string_end_is_exact_when_it_answers(bytes in proptest::collection::vec(
            proptest::prop_oneof![
                10 => 0x20u8..=0xFF, 1 => Just(b'"'), 1 => Just(b'\\'), 1 => 0u8..0x20
            ], 0..120)) {
            if let Some(end) = plain_short_string_end(&bytes) {
                let naive = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
                proptest::prop_assert_eq!(Some(end), naive);
                proptest::prop_assert_eq!(bytes[end], b'"');
            }
        }

        #[test]
        fn find_special_equals_a_byte_by_byte_search(bytes in proptest::collection::vec(
            proptest::prop_oneof![
                10 => 0x20u8..=0xFF, 1 => Just(b'"'), 1 => Just(b'\\'), 1 => 0u8..0x20
            ], 0..200)) {
            let naive = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            proptest::prop_assert_eq!(find_special(&bytes), naive);
        }
    }

    #[test]
    fn is_number_follows_the_json_grammar() {
        for good in ["0", "-0", "12", "-1.5", "1e9", "1E+9", "2.5e-3"] {
            assert!(is_number(good.as_bytes()), "{good}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1-2", "1.2.3", "--1",
        ] {
            assert!(!is_number(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn valid_documents_scan() {
        for text in [
            r#"{}"#,
            r#"{"a":[1,-2.5e+3,true,false,null,"x\"\\\u00e9"],"b":{"c":{}}}"#,
            " [ ] ",
            "0",
            "-0.0E-7",
        ] {
            scan_all(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn the_scanner_refuses_what_serde_json_refuses() {
        for text in [
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{1:2}",
            "[01]",
            "[1.]",
            "[1e]",
            "[-]",
            "tru",
            "nul",
            "[\"a\x01\"]",
            "[\"\\x\"]",
            "[\"\\u12g4\"]",
            "{} x",
            "[1 2]",
            "\"abc",
        ] {
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(text).is_err(),
                "serde accepts {text:?}"
            );
            assert!(
                scan_all(text.as_bytes()).is_err(),
                "scanner accepts {text:?}"
            );
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(scan_all(ok.as_bytes()).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1);
        match scan_all(deep.as_bytes()) {
            Err(InputErrorKind::Json { message, .. }) => {
                assert!(message.contains("1024"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_positions_match_serde_json() {
        for text in [
            "{\n  \"a\": [1,\n  2 3]}",
            "{\"a\":\n tru}",
            "{\"a\":1",
            "[\n\"x\",\n]",
            "{\"a\"\n:\"b\x02\"}",
        ] {
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(text).unwrap_err();
            match scan_all(text.as_bytes()) {
                Err(InputErrorKind::Json { line, column, .. }) => {
                    assert_eq!(
                        (line, column),
                        (serde.line(), serde.column()),
                        "{text:?}: {serde}"
                    );
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn long_strings_across_window_refills_scan() {
        let long = "x".repeat(3 * WINDOW + 17);
        let text = format!("{{\"a\":\"{long}\",\"b\":[\"{long}\\n\"]}}");
        scan_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn utf16_is_transcoded_in_small_reads() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(3);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = "{\"k\":\"h\u{e9}llo \u{1F600} w\u{f6}rld\"}";
        let mut bytes = UTF16LE_BOM.to_vec();
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let mut scanner = Scanner::new(Trickle(&bytes)).unwrap();
        let mark = scanner.set_mark();
        scanner.peek().unwrap();
        scanner.skip().unwrap();
        assert_eq!(scanner.captured(mark), text.as_bytes());
    }

    #[test]
    fn invalid_utf8_split_across_reads_is_found() {
        let mut text = b"{\"a\":\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', WINDOW - 7));
        text.extend_from_slice(b"\xC3\xA9\xC3\"}");
        match scan_all(&text) {
            Err(InputErrorKind::InvalidUtf8 { offset, .. }) => assert_eq!(offset, text.len() - 3),
            other => panic!("{other:?}"),
        }
    }
}
