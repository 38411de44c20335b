//! The footprint workload: the stripped release size of the same echo
//! server built on each runtime, and the wall time of its clean release
//! build.
//!
//! Each build is a package of its own under `bench/footprint/`, so that it
//! compiles its runtime and nothing else. This file must never delete
//! anything but those builds' own target folders under the temporary folder.

use crate::cli::Options;
use crate::report::{Better, Row, Target};
use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Builds the echo servers `options` selects from clean and returns the
/// two rows.
pub fn footprint(options: &Options) -> Vec<Row> {
    let mut size = Row::new("footprint", "stripped echo binary KiB", Better::Lower)
        .with_targets(&[Target::peer_at_most(0.8)]);
    let mut build = Row::new("footprint", "clean release build s", Better::Lower)
        .with_targets(&[Target::peer_at_most(1.0)]);
    for runtime in ["bureau", "smol", "tokio"] {
        if !options.runs(runtime) {
            continue;
        }
        let figures = match measure(runtime) {
            Ok((kib, secs)) => {
                eprintln!("  footprint {runtime:<8} {kib:.0} KiB  {secs:.1} s");
                (Some(kib), Some(secs))
            }
            Err(error) => {
                eprintln!("  footprint {runtime:<8} failed: {error}");
                (None, None)
            }
        };
        match runtime {
            "bureau" => (size.bureau, build.bureau) = figures,
            "smol" => (size.smol, build.smol) = figures,
            _ => (size.tokio, build.tokio) = figures,
        }
    }
    vec![size, build]
}

/// Builds `bench/footprint/<runtime>` from clean: the binary's KiB and the
/// build's seconds. Sources are fetched first, so the download is not timed.
fn measure(runtime: &str) -> io::Result<(f64, f64)> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("footprint")
        .join(runtime)
        .join("Cargo.toml");
    let target = std::env::temp_dir().join(format!("bureau-bench-footprint-{runtime}"));
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    cargo(&manifest, &target, &["fetch"])?;
    let start = Instant::now();
    cargo(
        &manifest,
        &target,
        &["build", "--release", "--offline", "--quiet"],
    )?;
    let secs = start.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(target.join("release").join("echo"))?.len();
    Ok((bytes as f64 / 1024.0, secs))
}

fn cargo(manifest: &Path, target: &Path, args: &[&str]) -> io::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .env("CARGO_TARGET_DIR", target)
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "cargo {} failed for {}",
            args[0],
            manifest.display()
        )))
    }
}
