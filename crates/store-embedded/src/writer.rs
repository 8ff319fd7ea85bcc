//! The single writer thread and its group commit.

use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};
use trainers_core::{Precondition, StoreError, Timestamp, Trainer, TrainerId, TrainerPatch};

use crate::schema;

/// Writes waiting to be queued before writers wait for room.
const QUEUE: usize = 4096;
/// The most writes committed together.
const MAX_BATCH: usize = 512;

pub enum WriteOp {
    Insert(Trainer),
    /// A bulk import: one savepoint for all, ids that exist skipped.
    InsertMany(Vec<Trainer>),
    Update {
        id: TrainerId,
        patch: TrainerPatch,
        pre: Precondition,
        now: Timestamp,
    },
    Delete {
        id: TrainerId,
        pre: Precondition,
    },
    /// Copies the write-ahead log into the database file and empties it, so that the file alone
    /// holds everything committed.
    Checkpoint,
}

pub enum WriteOutcome {
    Inserted,
    InsertedMany(u64),
    Trainer(Trainer),
}

impl WriteOutcome {
    pub fn trainer(self) -> Result<Trainer, StoreError> {
        match self {
            WriteOutcome::Trainer(t) => Ok(t),
            _ => Err(StoreError::backend_msg("the writer answered out of turn")),
        }
    }
}

pub struct WriteJob {
    pub op: WriteOp,
    pub reply: oneshot::Sender<Result<WriteOutcome, StoreError>>,
}

pub fn spawn(conn: Connection) -> std::io::Result<mpsc::Sender<WriteJob>> {
    let (tx, rx) = mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name("trainers-writer".into())
        .spawn(move || run(conn, rx))?;
    Ok(tx)
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<WriteJob>) {
    while let Some(first) = rx.blocking_recv() {
        if matches!(first.op, WriteOp::Checkpoint) {
            let done = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                    row.get::<_, i64>(0)
                })
                .map_err(|e| StoreError::backend("cannot checkpoint the write-ahead log", e))
                .and_then(|busy| match busy {
                    0 => Ok(WriteOutcome::Inserted),
                    _ => Err(StoreError::backend_msg(
                        "the checkpoint was blocked by a reader",
                    )),
                });
            let _ = first.reply.send(done);
            continue;
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, batch);
    }
}

/// Runs every job in its own savepoint of one transaction, commits once, then answers. A job
/// hears of success only after the commit, so whatever answered success is on disk.
fn commit_batch(conn: &mut Connection, batch: Vec<WriteJob>) {
    let mut results = Vec::with_capacity(batch.len());
    let committed = (|| -> rusqlite::Result<()> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for job in &batch {
            let mut sp = tx.savepoint()?;
            let result = apply(&sp, &job.op);
            if result.is_ok() {
                sp.commit()?;
            } else {
                sp.rollback()?;
            }
            results.push(result);
        }
        tx.commit()
    })();
    match committed {
        Ok(()) => {
            for (job, result) in batch.into_iter().zip(results) {
                let _ = job.reply.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, writes = batch.len(), "commit failed; no write of the batch was kept");
            // Every write of the batch failed of this one error: each gets it as its source.
            let e = Arc::new(e);
            let context = format!("the commit of {} writes failed", batch.len());
            for job in batch {
                let _ = job
                    .reply
                    .send(Err(StoreError::backend(context.clone(), Arc::clone(&e))));
            }
        }
    }
}

fn apply(conn: &Connection, op: &WriteOp) -> Result<WriteOutcome, StoreError> {
    let db = |what: &str, id: &TrainerId| {
        let context = format!("cannot {what} trainer {id}");
        move |e: rusqlite::Error| StoreError::backend(context, e)
    };
    match op {
        WriteOp::Insert(trainer) => {
            match schema::insert(conn, trainer).map_err(db("insert", &trainer.id))? {
                0 => Err(StoreError::AlreadyExists),
                _ => Ok(WriteOutcome::Inserted),
            }
        }
        WriteOp::InsertMany(trainers) => {
            let mut stored = 0;
            for t in trainers {
                stored += schema::insert(conn, t).map_err(db("insert", &t.id))? as u64;
            }
            Ok(WriteOutcome::InsertedMany(stored))
        }
        WriteOp::Update {
            id,
            patch,
            pre,
            now,
        } => {
            let old = checked(conn, id, pre)?;
            let new = patch.apply(&old, *now);
            schema::replace(conn, &new).map_err(db("update", id))?;
            Ok(WriteOutcome::Trainer(new))
        }
        WriteOp::Delete { id, pre } => {
            let old = checked(conn, id, pre)?;
            schema::delete(conn, id).map_err(db("delete", id))?;
            Ok(WriteOutcome::Trainer(old))
        }
        // Run on its own, outside any transaction (see `run`).
        WriteOp::Checkpoint => Err(StoreError::backend_msg("a checkpoint inside a transaction")),
    }
}

/// The stored trainer, if it exists, has the expected owner, is at the expected version and
/// holds the condition: read and checked in the transaction that writes, so nothing can change
/// in between.
fn checked(conn: &Connection, id: &TrainerId, pre: &Precondition) -> Result<Trainer, StoreError> {
    let old = schema::get(conn, id)
        .map_err(|e| StoreError::backend(format!("cannot read trainer {id}"), e))?
        .ok_or(StoreError::NotFound)?;
    if pre.owner.is_some() && pre.owner != old.owner {
        return Err(StoreError::NotOwner);
    }
    match pre.version {
        Some(v) if v != old.version => Err(StoreError::VersionConflict {
            actual: old.version,
        }),
        _ if pre.condition.as_ref().is_some_and(|c| !c.matches(&old)) => {
            Err(StoreError::ConditionFailed)
        }
        _ => Ok(old),
    }
}
