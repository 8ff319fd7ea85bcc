//! `trainers export` and `trainers import`: every trainer as JSON lines, one `Trainer` a line
//! (the GraphQL field names), with ids, versions and timestamps kept. Export from one store and
//! import into another to move them, embedded to DynamoDB or back.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;
use trainers_core::copy::for_each_page;
use trainers_core::{
    validation, Age, CopyCount, Specialty, StoreError, Timestamp, Trainer, TrainerId, TrainerName,
    TrainerStore,
};

use crate::stores::StoreArgs;

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The JSON lines to import, as `trainers export` writes them.
    #[arg(required_unless_present = "generate", conflicts_with = "generate")]
    pub file: Option<PathBuf>,

    /// Instead of a file: make up this many valid trainers (for demos and benchmarks).
    #[arg(long, value_name = "N")]
    pub generate: Option<u64>,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// A progress bar on stderr (drawn only on a terminal).
fn progress(len: Option<u64>, what: &str) -> ProgressBar {
    let (bar, template) = match len {
        Some(len) => (
            ProgressBar::new(len),
            "{bar:40} {pos}/{len} trainers {msg} ({elapsed})",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {pos} trainers {msg} ({elapsed})",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Writes every trainer of the store to stdout, one JSON object a line.
pub async fn export(args: ExportArgs, data_dir: &Path) -> anyhow::Result<()> {
    let store = args.store.open(data_dir).await?;
    let bar = progress(None, "exported");
    let mut out = BufWriter::new(std::io::stdout().lock());
    let written = for_each_page(store.as_ref(), |page| {
        for trainer in &page {
            serde_json::to_writer(&mut out, trainer)
                .map_err(|e| StoreError::backend("cannot write the export", e))
                .and_then(|()| {
                    writeln!(out).map_err(|e| StoreError::backend("cannot write the export", e))
                })?;
        }
        bar.inc(page.len() as u64);
        Ok(())
    })
    .await
    .and_then(|()| {
        out.flush()
            .map_err(|e| StoreError::backend("cannot write the export", e))
    });
    bar.finish_and_clear();
    written.with_context(|| format!("cannot export {}", args.store.describe(data_dir)))?;
    eprintln!(
        "exported {} trainers from {}",
        bar.position(),
        args.store.describe(data_dir)
    );
    Ok(())
}

/// Imports a file of JSON lines. Every line is checked first, so that a bad file imports
/// nothing; trainers whose id the store has already are skipped, never overwritten. The file is
/// read twice (check, then import) so that memory stays bounded whatever its size.
pub async fn import(args: ImportArgs, data_dir: &Path) -> anyhow::Result<()> {
    let (total, file) = match (&args.file, args.generate) {
        (_, Some(n)) => (n, None),
        (Some(file), None) => (check_file(file)?, Some(file)),
        // clap refuses this already; kept so that it can never import nothing silently.
        (None, None) => bail!("give a file to import, or --generate N"),
    };
    let store = args.store.open(data_dir).await?;
    let bar = progress(Some(total), "imported");
    let mut count = CopyCount::default();
    let result = match file {
        Some(file) => import_all(trainer_lines(file)?, store.as_ref(), &mut count, &bar).await,
        None => import_all(generated(total).map(Ok), store.as_ref(), &mut count, &bar).await,
    };
    bar.finish_and_clear();
    result.with_context(|| format!("cannot import into {}", args.store.describe(data_dir)))?;
    eprintln!(
        "imported {} trainers into {} ({} skipped: their id was there already)",
        count.copied,
        args.store.describe(data_dir),
        count.skipped
    );
    Ok(())
}

/// Trainers written per `insert_many`: one transaction (and one disk sync) each on the
/// embedded store.
const IMPORT_BATCH: usize = 5_000;

async fn import_all(
    trainers: impl Iterator<Item = anyhow::Result<Trainer>>,
    store: &dyn TrainerStore,
    count: &mut CopyCount,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let mut batch = Vec::with_capacity(IMPORT_BATCH);
    for trainer in trainers {
        batch.push(trainer?);
        if batch.len() == IMPORT_BATCH {
            count.insert(store, &batch).await?;
            bar.set_position(count.total());
            batch.clear();
        }
    }
    count.insert(store, &batch).await?;
    bar.set_position(count.total());
    Ok(())
}

/// `n` made-up trainers, valid as `createTrainer` would make them.
fn generated(n: u64) -> impl Iterator<Item = Trainer> {
    const FIRST: [&str; 8] = ["Ana", "Ben", "Chloe", "Dev", "Eve", "Femi", "Gus", "Hana"];
    const LAST: [&str; 8] = [
        "Lee", "Okafor", "Silva", "Novak", "Khan", "Berg", "Ito", "Diaz",
    ];
    let mut rng = rand::rng();
    (0..n).map(move |i| {
        let now = Timestamp::now();
        Trainer {
            id: TrainerId::generate(),
            first_name: format!("{}{}", FIRST[rng.random_range(0..FIRST.len())], i),
            last_name: LAST[rng.random_range(0..LAST.len())].to_string(),
            age: rng.random_range(validation::AGE_MIN..=validation::AGE_MAX),
            specialty: Specialty::ALL.get(rng.random_range(0..5)).copied(),
            created_at: now,
            updated_at: now,
            version: 1,
            owner: None,
        }
    })
}

/// Reads and checks every line; returns how many trainers the file holds.
fn check_file(file: &Path) -> anyhow::Result<u64> {
    let mut n = 0;
    for line in trainer_lines(file)? {
        line?;
        n += 1;
    }
    Ok(n)
}

/// The trainers of a file, each checked; blank lines are skipped.
fn trainer_lines(
    file: &Path,
) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Trainer>> + '_> {
    let reader = File::open(file)
        .map(BufReader::new)
        .with_context(|| format!("cannot read {}", file.display()))?;
    Ok(reader
        .lines()
        .enumerate()
        .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(move |(i, line)| {
            let at = format!("{}:{}", file.display(), i + 1);
            let line = line.with_context(|| format!("cannot read {at}"))?;
            let trainer: Trainer =
                serde_json::from_str(&line).with_context(|| format!("{at}: not a trainer"))?;
            check_trainer(&trainer).context(at)?;
            Ok(trainer)
        }))
}

/// What the API would have stored: a server-made id, valid names and age, a version from 1.
fn check_trainer(t: &Trainer) -> anyhow::Result<()> {
    if TrainerId::parse(t.id.as_str()).as_ref() != Some(&t.id) {
        bail!("id {:?} is not a lowercase hyphenated UUID", t.id.as_str());
    }
    for (field, value) in [("firstName", &t.first_name), ("lastName", &t.last_name)] {
        let name = TrainerName::parse(field, value)?;
        if name.as_str() != value {
            bail!("{field} has surrounding white space");
        }
    }
    Age::parse(t.age)?;
    if t.version < 1 {
        bail!("version {} is below 1", t.version);
    }
    Ok(())
}
