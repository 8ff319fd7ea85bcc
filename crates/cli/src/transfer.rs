//! `trainers export` and `trainers import`: every trainer as JSON lines, one `Trainer` a line
//! (the GraphQL field names), with ids, versions and timestamps kept. Export from one store and
//! import into another to move them, embedded to DynamoDB or back.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use trainers_core::copy::{for_each_page, COPY_PAGE};
use trainers_core::{validation, CopyCount, StoreError, Trainer, TrainerId, TrainerStore};

use crate::stores::StoreArgs;

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The JSON lines to import, as `trainers export` writes them.
    pub file: PathBuf,

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
pub async fn export(args: ExportArgs, data_dir: &Path) -> Result<(), String> {
    let store = args.store.open(data_dir).await?;
    let bar = progress(None, "exported");
    let mut out = BufWriter::new(std::io::stdout().lock());
    let written = for_each_page(store.as_ref(), |page| {
        for trainer in &page {
            serde_json::to_writer(&mut out, trainer)
                .map_err(StoreError::backend)
                .and_then(|()| writeln!(out).map_err(StoreError::backend))
                .map_err(|e| StoreError::Backend(format!("cannot write the export: {e}")))?;
        }
        bar.inc(page.len() as u64);
        Ok(())
    })
    .await
    .and_then(|()| out.flush().map_err(StoreError::backend));
    bar.finish_and_clear();
    written.map_err(|e| e.to_string())?;
    eprintln!(
        "exported {} trainers from {}",
        bar.position(),
        args.store.describe(data_dir)
    );
    Ok(())
}

/// Imports a file of JSON lines. Every line is checked first, so that a bad file imports
/// nothing; trainers whose id the store has already are skipped, never overwritten.
pub async fn import(args: ImportArgs, data_dir: &Path) -> Result<(), String> {
    let total = check_file(&args.file)?;
    let store = args.store.open(data_dir).await?;
    let bar = progress(Some(total), "imported");
    let mut count = CopyCount::default();
    let result = import_lines(&args.file, store.as_ref(), &mut count, &bar).await;
    bar.finish_and_clear();
    result?;
    eprintln!(
        "imported {} trainers into {} ({} skipped: their id was there already)",
        count.copied,
        args.store.describe(data_dir),
        count.skipped
    );
    Ok(())
}

async fn import_lines(
    file: &Path,
    store: &dyn TrainerStore,
    count: &mut CopyCount,
    bar: &ProgressBar,
) -> Result<(), String> {
    let mut batch = Vec::with_capacity(COPY_PAGE);
    for line in trainer_lines(file)? {
        batch.push(line?);
        if batch.len() == COPY_PAGE {
            count
                .insert(store, &batch)
                .await
                .map_err(|e| e.to_string())?;
            bar.set_position(count.total());
            batch.clear();
        }
    }
    count
        .insert(store, &batch)
        .await
        .map_err(|e| e.to_string())?;
    bar.set_position(count.total());
    Ok(())
}

/// Reads and checks every line; returns how many trainers the file holds.
fn check_file(file: &Path) -> Result<u64, String> {
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
) -> Result<impl Iterator<Item = Result<Trainer, String>> + '_, String> {
    let reader = File::open(file)
        .map(BufReader::new)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Ok(reader
        .lines()
        .enumerate()
        .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(move |(i, line)| {
            let at = format!("{}:{}", file.display(), i + 1);
            let line = line.map_err(|e| format!("cannot read {at}: {e}"))?;
            let trainer: Trainer =
                serde_json::from_str(&line).map_err(|e| format!("{at}: not a trainer: {e}"))?;
            check_trainer(&trainer).map_err(|e| format!("{at}: {e}"))?;
            Ok(trainer)
        }))
}

/// What the API would have stored: a server-made id, valid names and age, a version from 1.
fn check_trainer(t: &Trainer) -> Result<(), String> {
    if TrainerId::parse(t.id.as_str()).as_ref() != Some(&t.id) {
        return Err(format!(
            "id {:?} is not a lowercase hyphenated UUID",
            t.id.as_str()
        ));
    }
    for (field, value) in [("firstName", &t.first_name), ("lastName", &t.last_name)] {
        match validation::name(field, value) {
            Ok(valid) if &valid == value => {}
            Ok(_) => return Err(format!("{field} has surrounding white space")),
            Err(e) => return Err(e.to_string()),
        }
    }
    validation::age(t.age).map_err(|e| e.to_string())?;
    if t.version < 1 {
        return Err(format!("version {} is below 1", t.version));
    }
    Ok(())
}
