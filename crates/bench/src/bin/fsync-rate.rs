//! The floor cost of a durable write: how many small write + fdatasync pairs one writer makes
//! per second on the file system of a directory (as SQLite syncs its WAL at each commit).

use std::io::Write;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let seconds: f64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let path = std::path::Path::new(&dir).join("fsync-rate.tmp");
    let mut file = std::fs::File::create(&path)?;
    let record = [7u8; 128];
    let run = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut syncs = 0u64;
    while started.elapsed() < run {
        file.write_all(&record)?;
        file.sync_data()?;
        syncs += 1;
    }
    let rate = syncs as f64 / started.elapsed().as_secs_f64();
    std::fs::remove_file(&path)?;
    println!("{rate:.1}");
    Ok(())
}
