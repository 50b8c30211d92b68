//! JSON Lines files.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// An append-only JSON Lines file.
pub struct JsonlFile {
    path: PathBuf,
    writer: BufWriter<File>,
    records: u64,
    bytes: u64,
}

impl JsonlFile {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = File::create(path)?;
        Ok(JsonlFile {
            path: path.to_path_buf(),
            writer: BufWriter::with_capacity(1 << 20, file),
            records: 0,
            bytes: 0,
        })
    }

    /// Writes one already-serialized record (without its newline).
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.writer.write_all(line)?;
        self.writer.write_all(b"\n")?;
        self.records += 1;
        self.bytes += line.len() as u64 + 1;
        Ok(())
    }

    /// Serializes and writes one record.
    pub fn write_record<T: serde::Serialize>(&mut self, record: &T) -> io::Result<()> {
        let line = serde_json::to_vec(record).map_err(io::Error::other)?;
        self.write_line(&line)
    }

    /// Flushes buffered records to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Records written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes written.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        let mut f = JsonlFile::create(&p).unwrap();
        f.write_record(&serde_json::json!({"a": 1})).unwrap();
        f.write_line(b"{}").unwrap();
        f.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\":1}\n{}\n");
        assert_eq!(f.records(), 2);
    }
}
