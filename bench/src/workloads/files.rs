//! The file workload: 10,000 files of 4 KiB read back with 256 reads in
//! flight, and a sequential `std::fs` loop as the reference.
//!
//! The files are made once in the system's temporary folder and stay in the
//! page cache, so this measures the hand-off to the blocking pool, not the
//! disk. This file must never write outside that folder.

use super::{Metric, Workload};
use crate::report::{Better, Target};
use crate::runtimes::Runtime;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const FILES: usize = 10_000;
const FILE_SIZE: usize = 4096;
const IN_FLIGHT: usize = 256;

/// The file workload over its folder of files.
pub struct Files {
    dir: Arc<Path>,
}

impl Files {
    /// Makes (or finds, from an earlier run) the 10,000 files.
    pub fn prepare() -> io::Result<Self> {
        let dir = std::env::temp_dir().join("bureau-bench-fs");
        std::fs::create_dir_all(&dir)?;
        let contents = vec![b'b'; FILE_SIZE];
        for i in 0..FILES {
            let path = file(&dir, i);
            if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(FILE_SIZE as u64) {
                std::fs::write(&path, &contents)?;
            }
        }
        Ok(Files { dir: dir.into() })
    }
}

fn file(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("{i:05}"))
}

fn check(contents: &[u8]) {
    assert_eq!(contents.len(), FILE_SIZE, "bench: a file came back short");
}

impl Workload for Files {
    const NAME: &'static str = "fs";

    fn metrics(&self) -> Vec<Metric> {
        vec![Metric {
            name: "files/s",
            better: Better::Higher,
            targets: vec![Target::peer_at_least(1.5), Target::reference_at_least(0.75)],
        }]
    }

    fn run<R: Runtime>(&self) -> Vec<f64> {
        R::block_on(async {
            let next = Arc::new(AtomicUsize::new(0));
            let start = Instant::now();
            let readers: Vec<_> = (0..IN_FLIGHT)
                .map(|_| {
                    let (next, dir) = (next.clone(), self.dir.clone());
                    R::spawn(async move {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= FILES {
                                break;
                            }
                            let contents = R::read_file(file(&dir, i)).await;
                            check(&contents.expect("bench: cannot read a benchmark file"));
                        }
                    })
                })
                .collect();
            for reader in readers {
                reader.await;
            }
            vec![FILES as f64 / start.elapsed().as_secs_f64()]
        })
    }

    const REFERENCE: Option<&'static str> = Some("std::fs");

    fn reference(&self) -> Vec<f64> {
        let start = Instant::now();
        for i in 0..FILES {
            check(&std::fs::read(file(&self.dir, i)).expect("bench: cannot read a benchmark file"));
        }
        vec![FILES as f64 / start.elapsed().as_secs_f64()]
    }
}
