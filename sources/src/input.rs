//! Opening input files: gzip detection and byte counting for progress.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

/// Counts the bytes read through it into a shared counter (progress bars).
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    /// Wraps `inner`, adding every byte read to `count`.
    pub fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        CountingReader { inner, count }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An opened input: a buffered reader over the decompressed bytes.
pub struct OpenedInput {
    /// Decompressed content.
    pub reader: Box<dyn BufRead + Send>,
    /// Size of the file on disk (compressed), for progress.
    pub file_len: u64,
    /// Compressed bytes consumed so far.
    pub consumed: Arc<AtomicU64>,
    /// True when the content was gzip-compressed.
    pub gzipped: bool,
}

/// Opens `path` (`-` for standard input), gunzipping when the content starts
/// with the gzip magic bytes, whatever the file name.
pub fn open_input(path: &Path) -> io::Result<OpenedInput> {
    let consumed = Arc::new(AtomicU64::new(0));
    let (raw, file_len): (Box<dyn Read + Send>, u64) = if path.as_os_str() == "-" {
        (Box::new(io::stdin()), 0)
    } else {
        let file = File::open(path)?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(file), len)
    };
    let mut buffered =
        BufReader::with_capacity(256 * 1024, CountingReader::new(raw, consumed.clone()));
    let gzipped = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead + Send> = if gzipped {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    };
    Ok(OpenedInput {
        reader,
        file_len,
        consumed,
        gzipped,
    })
}

/// Reads up to `n` bytes from the start of a reader without consuming them
/// beyond what `BufRead` buffers (used for format detection).
pub fn peek(reader: &mut dyn BufRead, n: usize) -> io::Result<Vec<u8>> {
    let buf = reader.fill_buf()?;
    Ok(buf[..buf.len().min(n)].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gunzips_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.log");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello\nworld\n").unwrap();
        std::fs::write(&path, enc.finish().unwrap()).unwrap();
        let mut opened = open_input(&path).unwrap();
        assert!(opened.gzipped);
        let mut s = String::new();
        opened.reader.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello\nworld\n");
        assert_eq!(opened.consumed.load(Ordering::Relaxed), opened.file_len);
    }

    #[test]
    fn plain_passes_through() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, b"{}\n").unwrap();
        let mut opened = open_input(&path).unwrap();
        assert!(!opened.gzipped);
        assert_eq!(peek(&mut *opened.reader, 10).unwrap(), b"{}\n");
    }
}
