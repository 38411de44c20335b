//! Walks a directory tree and prints the SHA-256 of every file, in the
//! format of `sha256sum` (so `sha256sum -c` can check it), hashing at most
//! `--jobs` files at once on bureau's blocking pool, with a progress bar on
//! stderr.
//!
//! ```text
//! cargo run --release --example walk -- ~/src --jobs 8 > sums.txt
//! sha256sum -c sums.txt
//! ```
//!
//! Reading files and hashing them can only block, so it all happens on pool
//! threads; the loop thread only hands out work, prints the sums and draws
//! the bar. Lines come out in the order the files finish: pipe through
//! `sort -k2` for a stable order.

use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bureau::prelude::*;
use sha2::{Digest, Sha256};

const USAGE: &str = "usage: walk DIR [--jobs N]   (N files hashed at once, 1 or more; default 4)";
/// The bar is redrawn at most this often, so tiny files do not flood the terminal.
const REDRAW: Duration = Duration::from_millis(50);
const BAR_WIDTH: usize = 30;

fn main() -> ExitCode {
    let (root, jobs) = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("walk: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match bureau::block_on(walk(root, jobs)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("walk: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Lists the files under `root`, then hashes them with `jobs` workers.
/// Returns how many files or folders could not be read.
async fn walk(root: PathBuf, jobs: usize) -> io::Result<usize> {
    let start = Instant::now();
    let (files, unreadable) = list_files(&root).await?;
    let progress = Rc::new(RefCell::new(Progress {
        total_files: files.len(),
        total_bytes: files.iter().map(|(_, len)| len).sum(),
        ..Progress::default()
    }));
    let queue = Rc::new(RefCell::new(files));
    // `jobs` tasks take files from one queue: at most `jobs` files are being
    // read at once, however many there are. An `Rc<RefCell<..>>` is enough,
    // since every task runs on this thread.
    let workers: Vec<_> = (0..jobs)
        .map(|_| bureau::spawn(hash_files(queue.clone(), progress.clone())))
        .collect();
    for worker in workers {
        worker.await?;
    }
    let mut progress = progress.borrow_mut();
    progress.clear_bar();
    eprintln!(
        "walk: hashed {} files ({:.1} MiB) in {:.2} s with {jobs} jobs, {} unreadable",
        progress.done_files - progress.failed,
        mib(progress.done_bytes),
        start.elapsed().as_secs_f64(),
        progress.failed + unreadable,
    );
    Ok(progress.failed + unreadable)
}

/// Hashes files from `queue` until it is empty, printing one line each.
/// Fails only if stdout does (when piped into `head`, say).
async fn hash_files(
    queue: Rc<RefCell<Vec<(PathBuf, u64)>>>,
    progress: Rc<RefCell<Progress>>,
) -> io::Result<()> {
    loop {
        // The borrow ends with this statement: a `RefCell` borrow must never
        // be held across an `.await`, where other tasks run.
        let Some((path, len)) = queue.borrow_mut().pop() else {
            return Ok(());
        };
        let hashed = {
            let path = path.clone();
            // The pool thread does the blocking reads and the hashing.
            bureau::unblock(move || sha256_file(&path)).await
        };
        let mut progress = progress.borrow_mut();
        if io::stdout().is_terminal() {
            // The line would land on the bar: erase it, draw it again below.
            progress.clear_bar();
        }
        match hashed {
            Ok(hex) => writeln!(io::stdout(), "{hex}  {}", path.display())
                .map_err(|e| io::Error::new(e.kind(), format!("stdout: {e}")))?,
            Err(e) => {
                eprintln!("walk: {}: {e}", path.display());
                progress.failed += 1;
            }
        }
        progress.done_files += 1;
        progress.done_bytes += len;
        progress.draw_bar();
    }
}

fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// Every regular file under `root` with its size, found through the pool
/// (`bureau::fs`), plus how many entries could not be read. Symbolic links
/// are not followed.
async fn list_files(root: &Path) -> io::Result<(Vec<(PathBuf, u64)>, usize)> {
    let meta = bureau::fs::metadata(root)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", root.display())))?;
    if meta.is_file() {
        return Ok((vec![(root.to_owned(), meta.len())], 0));
    }
    let (mut files, mut unreadable) = (Vec::new(), 0);
    // A stack of folders to visit, rather than async recursion.
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        let mut entries = match bureau::fs::read_dir(&folder).await {
            Ok(entries) => entries,
            Err(e) => {
                eprintln!("walk: {}: {e}", folder.display());
                unreadable += 1;
                continue;
            }
        };
        while let Some(entry) = entries.next().await {
            let found = match entry {
                Ok(entry) => entry.metadata().await.map(|meta| (entry.path(), meta)),
                Err(e) => Err(e),
            };
            match found {
                Ok((path, meta)) if meta.is_dir() => folders.push(path),
                Ok((path, meta)) if meta.is_file() => files.push((path, meta.len())),
                Ok(_) => {}
                Err(e) => {
                    eprintln!("walk: in {}: {e}", folder.display());
                    unreadable += 1;
                }
            }
        }
    }
    Ok((files, unreadable))
}

/// What has been hashed so far, and the bar that shows it.
#[derive(Default)]
struct Progress {
    total_files: usize,
    total_bytes: u64,
    done_files: usize,
    done_bytes: u64,
    /// Files that could not be read.
    failed: usize,
    drawn_at: Option<Instant>,
}

impl Progress {
    /// Draws `[#####.....]  50%  3/6 files  1.5/3.0 MiB` over the previous
    /// bar, only on a terminal and not more often than `REDRAW`.
    fn draw_bar(&mut self) {
        let finished = self.done_files == self.total_files;
        let recent = self.drawn_at.is_some_and(|at| at.elapsed() < REDRAW);
        if !io::stderr().is_terminal() || (recent && !finished) {
            return;
        }
        self.drawn_at = Some(Instant::now());
        let fraction = if self.total_bytes == 0 {
            self.done_files as f64 / self.total_files.max(1) as f64
        } else {
            self.done_bytes as f64 / self.total_bytes as f64
        };
        let filled = (fraction * BAR_WIDTH as f64) as usize;
        eprint!(
            "\r[{}{}] {:3.0}%  {}/{} files  {:.1}/{:.1} MiB\x1b[K",
            "#".repeat(filled),
            ".".repeat(BAR_WIDTH - filled),
            fraction * 100.0,
            self.done_files,
            self.total_files,
            mib(self.done_bytes),
            mib(self.total_bytes),
        );
        io::stderr().flush().ok();
    }

    /// Erases the bar, if it is shown; the next `draw_bar` draws at once.
    fn clear_bar(&mut self) {
        if self.drawn_at.take().is_some() {
            eprint!("\r\x1b[K");
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(PathBuf, usize), String> {
    let (mut root, mut jobs) = (None, 4);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--jobs" => {
                let value = args.next().ok_or("--jobs needs a value")?;
                jobs = match value.parse() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("--jobs: {value:?} is not a number of 1 or more")),
                };
            }
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag:?}")),
            _ if root.is_some() => return Err(format!("one DIR only, but {arg:?} came too")),
            _ => root = Some(PathBuf::from(arg)),
        }
    }
    let root = root.ok_or("DIR is missing")?;
    Ok((root, jobs))
}
