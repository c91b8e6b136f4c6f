//! A reader that reads ahead on its own thread.
//!
//! Reading a 300 MB plan costs the kernel a copy of every byte; on a machine with a second core
//! that copy can happen while the scanner works on the previous chunk. The thread hands over
//! filled buffers through a bounded channel and gets them back for reuse, so at most
//! [`BUFFERS`] chunks of [`CHUNK`] bytes exist at any time.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// A quarter of a MiB: reading it takes the kernel far less than scanning it takes the
/// scanner, and four of them are a small part of the memory a check may use.
const CHUNK: usize = 1 << 18;
const BUFFERS: usize = 4;

pub struct ReadAhead {
    full: Option<Receiver<io::Result<Vec<u8>>>>,
    empty: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    thread: Option<JoinHandle<()>>,
}

impl ReadAhead {
    pub fn new<R: Read + Send + 'static>(mut inner: R) -> ReadAhead {
        let (full_tx, full_rx) = sync_channel::<io::Result<Vec<u8>>>(BUFFERS);
        let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(BUFFERS);
        let thread = std::thread::Builder::new()
            .name("portgate-read-ahead".to_string())
            .spawn(move || {
                let mut spare = BUFFERS;
                loop {
                    // A recycled buffer, or a new one while fewer than BUFFERS exist.
                    let mut buf = match empty_rx.try_recv() {
                        Ok(buf) => buf,
                        Err(_) if spare > 0 => {
                            spare -= 1;
                            Vec::with_capacity(CHUNK)
                        }
                        Err(_) => match empty_rx.recv() {
                            Ok(buf) => buf,
                            Err(_) => return, // the reader was dropped
                        },
                    };
                    // A recycled buffer is full length already: its old bytes are read over,
                    // and only `buf[..filled]` is ever handed on (no zeroing per chunk).
                    buf.resize(CHUNK, 0);
                    let mut filled = 0;
                    let result = loop {
                        match inner.read(&mut buf[filled..]) {
                            Ok(0) => break Ok(()),
                            Ok(n) => {
                                filled += n;
                                if filled == buf.len() {
                                    break Ok(());
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => break Err(e),
                        }
                    };
                    buf.truncate(filled);
                    let last = filled == 0 || result.is_err();
                    let message = match result {
                        Ok(()) => Ok(buf),
                        Err(e) if filled > 0 => {
                            // Deliver what was read, then the error.
                            if full_tx.send(Ok(buf)).is_err() {
                                return;
                            }
                            Err(e)
                        }
                        Err(e) => Err(e),
                    };
                    if full_tx.send(message).is_err() || last {
                        return;
                    }
                }
            });
        match thread {
            Ok(handle) => ReadAhead {
                full: Some(full_rx),
                empty: empty_tx,
                current: Vec::new(),
                at: 0,
                thread: Some(handle),
            },
            Err(e) => {
                // No thread: a channel that reports why at the first read.
                let (tx, rx) = sync_channel(1);
                let _ = tx.send(Err(e));
                ReadAhead {
                    full: Some(rx),
                    empty: empty_tx,
                    current: Vec::new(),
                    at: 0,
                    thread: None,
                }
            }
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            let Some(full) = &self.full else {
                return Ok(0);
            };
            match full.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => {
                    self.full = None;
                    return Ok(0);
                }
                Ok(Ok(chunk)) => {
                    let used = std::mem::replace(&mut self.current, chunk);
                    self.at = 0;
                    let _ = self.empty.try_send(used);
                }
                Ok(Err(e)) => {
                    self.full = None;
                    return Err(e);
                }
                Err(_) => {
                    self.full = None;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing both channels ends the thread at its next send or receive.
        self.full = None;
        if let Some(thread) = self.thread.take() {
            let (dead_tx, _) = sync_channel(0);
            drop(std::mem::replace(&mut self.empty, dead_tx));
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_everything_in_order_across_chunks() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12345)).map(|i| (i % 251) as u8).collect();
        let mut reader = ReadAhead::new(io::Cursor::new(data.clone()));
        let mut out = Vec::new();
        let mut buf = vec![0; 70_000];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, data);
    }

    #[test]
    fn a_read_error_reaches_the_reader_after_the_data_before_it() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = self.0.min(out.len());
                out[..n].fill(b'x');
                self.0 -= n;
                Ok(n)
            }
        }
        let mut reader = ReadAhead::new(Failing(10));
        let mut out = Vec::new();
        let error = reader.read_to_end(&mut out).unwrap_err();
        assert_eq!(out, b"xxxxxxxxxx");
        assert_eq!(error.to_string(), "disk on fire");
    }

    #[test]
    fn dropping_early_stops_the_thread() {
        let data = vec![b' '; 10 * CHUNK];
        let mut reader = ReadAhead::new(io::Cursor::new(data));
        let mut buf = [0; 10];
        reader.read_exact(&mut buf).unwrap();
        drop(reader); // joins the thread: the test would hang if it did not end
    }
}
