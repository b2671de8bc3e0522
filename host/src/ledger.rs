//! The erasure ledger outside the database: one JSON line per erasure (tenant and customer ids,
//! time; nothing else), appended after the erasure commits. The database keeps the same ledger
//! (`erasure_ledger`); this copy lives beside it so that a restore of an older backup, made when
//! the database is gone, can still re-apply every erasure made since (`backup::restore`).

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub tenant: String,
    pub customer: String,
    /// Milliseconds since the epoch.
    pub at: i64,
}

/// Appends `entry` and syncs it to disk.
pub fn append(path: &Path, entry: &Entry) -> std::io::Result<()> {
    let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(line.as_bytes())?;
    f.sync_data()
}

/// Every entry of the file; a line that is not an entry is an error naming it (a ledger is
/// not guessed at).
pub fn read(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let f = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read the erasure ledger {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let entry = serde_json::from_str(&line).map_err(|_| {
            anyhow::anyhow!(
                "line {} of the erasure ledger {} is not an erasure",
                i + 1,
                path.display()
            )
        })?;
        out.push(entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("erasure-ledger.jsonl");
        let e = Entry {
            tenant: "t".into(),
            customer: "c".into(),
            at: 5,
        };
        append(&path, &e).unwrap();
        append(&path, &e).unwrap();
        assert_eq!(read(&path).unwrap(), vec![e.clone(), e]);
        std::fs::write(&path, "{\"tenant\":\"t\"}\n").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("line 1"));
    }
}
