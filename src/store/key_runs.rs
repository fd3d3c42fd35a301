//! The dedupe keys of the CDR file being imported, sorted without holding
//! them all (see `store::cdrs::store_lines`): up to a fixed number are kept
//! in memory; each time that many have come, they are sorted and written to
//! an anonymous temporary file (a *run*, removed when dropped). Reading them
//! back merges the runs and the keys still in memory, in order. At 12 bytes
//! a key, a 10M-line file writes 120 MB of runs to the temporary directory
//! (`TMPDIR`) and holds 48 MB.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

/// A CDR row of the file being stored, under its first dedupe key, in 12
/// bytes: the key's high and low halves (keys are never negative, see
/// `domain::cdrs::dedupe_key`) and the row's id less the file's first id.
/// Ordered by key, then by line (ids follow the file's lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Keyed {
    hi: u32,
    lo: u32,
    pub off: u32,
}

impl Keyed {
    /// `key` must not be negative (no dedupe key is).
    pub fn new(key: i64, off: u32) -> Keyed {
        Keyed {
            hi: (key >> 32) as u32,
            lo: key as u32,
            off,
        }
    }

    pub fn key(&self) -> i64 {
        (i64::from(self.hi) << 32) | i64::from(self.lo)
    }

    fn to_bytes(self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.hi.to_le_bytes());
        b[4..8].copy_from_slice(&self.lo.to_le_bytes());
        b[8..].copy_from_slice(&self.off.to_le_bytes());
        b
    }

    fn from_bytes(b: [u8; 12]) -> Keyed {
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Keyed {
            hi: word(0),
            lo: word(4),
            off: word(8),
        }
    }
}

/// The keys pushed so far: sorted runs on disk and the latest in memory.
pub struct KeyRuns {
    held: usize,
    mem: Vec<Keyed>,
    runs: Vec<File>,
    range: Option<(i64, i64)>,
}

impl KeyRuns {
    /// Holding at most `held` keys in memory.
    pub fn new(held: usize) -> KeyRuns {
        KeyRuns {
            held: held.max(1),
            mem: Vec::new(),
            runs: Vec::new(),
            range: None,
        }
    }

    pub fn push(&mut self, k: Keyed) -> io::Result<()> {
        let key = k.key();
        self.range = Some(match self.range {
            Some((lo, hi)) => (lo.min(key), hi.max(key)),
            None => (key, key),
        });
        self.mem.push(k);
        if self.mem.len() >= self.held {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> io::Result<()> {
        self.mem.sort_unstable();
        let mut w = BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
        for k in &self.mem {
            w.write_all(&k.to_bytes())?;
        }
        self.runs.push(w.into_inner().map_err(|e| e.into_error())?);
        self.mem.clear();
        Ok(())
    }

    /// The smallest and largest key pushed (`None`: none was).
    pub fn range(&self) -> Option<(i64, i64)> {
        self.range
    }

    /// Every key pushed, in order (each call reads them all again).
    pub fn sorted(&mut self) -> io::Result<Sorted<'_>> {
        self.mem.sort_unstable();
        for f in &mut self.runs {
            f.rewind()?;
        }
        let mut sources: Vec<Source<'_>> = self
            .runs
            .iter()
            .map(|f| Source::Run(BufReader::with_capacity(1 << 16, f)))
            .collect();
        sources.push(Source::Mem(self.mem.iter()));
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some(k) = s.next()? {
                heap.push(Reverse((k, i)));
            }
        }
        Ok(Sorted { sources, heap })
    }
}

enum Source<'a> {
    Mem(std::slice::Iter<'a, Keyed>),
    Run(BufReader<&'a File>),
}

impl Source<'_> {
    fn next(&mut self) -> io::Result<Option<Keyed>> {
        match self {
            Source::Mem(it) => Ok(it.next().copied()),
            Source::Run(r) => {
                let mut b = [0u8; 12];
                match r.read_exact(&mut b) {
                    Ok(()) => Ok(Some(Keyed::from_bytes(b))),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

/// The keys of a [`KeyRuns`], merged in order.
pub struct Sorted<'a> {
    sources: Vec<Source<'a>>,
    heap: BinaryHeap<Reverse<(Keyed, usize)>>,
}

impl Sorted<'_> {
    pub fn next(&mut self) -> io::Result<Option<Keyed>> {
        let Some(Reverse((k, i))) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(n) = self.sources[i].next()? {
            self.heap.push(Reverse((n, i)));
        }
        Ok(Some(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(r: &mut KeyRuns) -> Vec<Keyed> {
        let mut s = r.sorted().unwrap();
        let mut v = Vec::new();
        while let Some(k) = s.next().unwrap() {
            v.push(k);
        }
        v
    }

    #[test]
    fn keys_come_back_in_order_from_runs_and_memory_every_time() {
        let mut r = KeyRuns::new(7);
        let mut want = Vec::new();
        let mut x = 12345u64;
        for off in 0..100u32 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            // Repeated keys too (a duplicate's key), told apart by offset.
            let key = ((x >> 20) % 40) as i64 * (1 << 40) + 3;
            let k = Keyed::new(key, off);
            assert_eq!(k.key(), key);
            r.push(k).unwrap();
            want.push(k);
        }
        assert_eq!(r.runs.len(), 14, "spilled every 7 keys");
        want.sort();
        assert_eq!(all(&mut r), want);
        assert_eq!(all(&mut r), want, "read again from the start");
        let keys: Vec<i64> = want.iter().map(Keyed::key).collect();
        assert_eq!(
            r.range(),
            Some((*keys.iter().min().unwrap(), *keys.iter().max().unwrap()))
        );
    }

    #[test]
    fn nothing_pushed_reads_nothing() {
        let mut r = KeyRuns::new(4);
        assert_eq!(r.range(), None);
        assert!(all(&mut r).is_empty());
    }

    #[test]
    fn a_key_round_trips_through_its_bytes() {
        let k = Keyed::new((1 << 62) + 0x1234_5678_9abc, 0xfeed_beef);
        assert_eq!(Keyed::from_bytes(k.to_bytes()), k);
    }
}
