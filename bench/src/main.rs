//! Runs the same workloads on bureau, smol and tokio, and prints the ratios.
fn main() {}
