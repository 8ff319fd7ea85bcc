//! Pages and counts: Scans of the table and Queries of an index, request after request until
//! the page is full or the range read.
//!
//! A read that may examine more than its page (a filtered page, a count: a "scan" here) takes a
//! turn first: at most [`ScanLimits::concurrent`] run at once per store, a scan waits at most
//! [`ScanLimits::wait`] for its turn, and then fails, saying the server is busy with scans. The
//! turn is held by the scanning future itself, so it ends exactly when the scan stops: at its
//! end, at an error, or when the request is dropped (a client gone, a deadline), since dropping
//! the future drops the DynamoDB request in flight. Every read, scan or not, makes at most
//! [`ScanLimits::requests_per_read`] requests.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::Select;
use aws_sdk_dynamodb::Client;
use tokio::sync::{Semaphore, SemaphorePermit};
use trainers_core::{StoreError, StorePage, Trainer};

use crate::error::backend;
use crate::item::{from_item, Item};
use crate::plan::Plan;

/// Bounds on a store's scans (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanLimits {
    /// Scans (filtered pages, counts) running at once, at most.
    pub concurrent: usize,
    /// How long a scan waits for its turn before it fails.
    pub wait: Duration,
    /// DynamoDB requests (each examines up to 1 MB) of one read, at most.
    pub requests_per_read: u32,
}

impl ScanLimits {
    /// 4 scans at once, 5 s to wait for a turn, 1,000 requests a read (about 1 GB examined:
    /// some 6,000,000 trainers).
    pub const DEFAULT: ScanLimits = ScanLimits {
        concurrent: 4,
        wait: Duration::from_secs(5),
        requests_per_read: 1_000,
    };
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits::DEFAULT
    }
}

/// What a store's scans are doing, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Scans running now (holding a turn).
    pub running: usize,
    /// The most that ever ran at once.
    pub peak: usize,
    /// Scans refused: no turn within [`ScanLimits::wait`].
    pub busy: u64,
    /// Reads stopped at [`ScanLimits::requests_per_read`].
    pub over_budget: u64,
}

/// The turns of one store's scans, and what they did.
#[derive(Debug)]
pub(crate) struct Scans {
    limits: ScanLimits,
    turns: Semaphore,
    running: AtomicUsize,
    peak: AtomicUsize,
    busy: AtomicU64,
    over_budget: AtomicU64,
}

impl Scans {
    pub(crate) fn new(limits: ScanLimits) -> Self {
        Scans {
            limits,
            turns: Semaphore::new(limits.concurrent),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            busy: AtomicU64::new(0),
            over_budget: AtomicU64::new(0),
        }
    }

    pub(crate) fn limits(&self) -> ScanLimits {
        self.limits
    }

    pub(crate) fn stats(&self) -> ScanStats {
        ScanStats {
            running: self.running.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
            over_budget: self.over_budget.load(Ordering::Relaxed),
        }
    }

    /// A turn to scan, held until dropped; none within the wait is an error.
    async fn turn(&self) -> Result<Turn<'_>, StoreError> {
        let permit = match tokio::time::timeout(self.limits.wait, self.turns.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(StoreError::backend("the store is closing", closed)),
            Err(_) => {
                self.busy.fetch_add(1, Ordering::Relaxed);
                return Err(StoreError::backend_msg(format!(
                    "the server is busy with scans: {} filtered lists or counts are running on \
                     DynamoDB and none ended within {:?}; try again later",
                    self.limits.concurrent, self.limits.wait
                )));
            }
        };
        let running = self.running.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(running, Ordering::Relaxed);
        Ok(Turn {
            _permit: permit,
            scans: self,
        })
    }

    /// The requests one read may make.
    fn budget(&self) -> Budget<'_> {
        Budget {
            left: self.limits.requests_per_read,
            scans: self,
        }
    }
}

/// A scan's turn: while it lives, one of [`ScanLimits::concurrent`].
struct Turn<'a> {
    _permit: SemaphorePermit<'a>,
    scans: &'a Scans,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.scans.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The requests a read has left.
struct Budget<'a> {
    left: u32,
    scans: &'a Scans,
}

impl Budget<'_> {
    /// One more request, or the error that the read has made all it may.
    fn spend(&mut self) -> Result<(), StoreError> {
        match self.left.checked_sub(1) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => {
                self.scans.over_budget.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::backend_msg(format!(
                    "the read was stopped after {} DynamoDB requests (each examines up to 1 MB), \
                     its budget: narrow the filter, or list by specialty",
                    self.scans.limits.requests_per_read
                )))
            }
        }
    }
}

/// What one Scan or Query returned.
struct Fetched {
    items: Vec<Item>,
    count: i32,
    last_key: Option<Item>,
}

/// One Scan or Query of `plan` on `table` from `start`: up to `limit` items examined (none: up
/// to DynamoDB's 1 MB), or only their number (`count`). Returns the items, their number and
/// DynamoDB's key to go on from.
async fn fetch(
    client: &Client,
    table: &str,
    plan: &Plan<'_>,
    start: Option<Item>,
    limit: Option<usize>,
    count: bool,
) -> Result<Fetched, StoreError> {
    let limit = limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX));
    let select = count.then_some(Select::Count);
    match plan.index {
        None => {
            let out = client
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_limit(limit)
                .set_select(select)
                .set_filter_expression(plan.filter.clone())
                .set_expression_attribute_names(plan.names.clone())
                .set_expression_attribute_values(plan.values.clone())
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| backend("Scan", e))?;
            Ok(Fetched {
                count: out.count,
                items: out.items.unwrap_or_default(),
                last_key: out.last_evaluated_key,
            })
        }
        Some(index) => {
            let out = client
                .query()
                .table_name(table)
                .index_name(index)
                .set_key_condition_expression(plan.key_condition.clone())
                .scan_index_forward(plan.forward)
                .set_limit(limit)
                .set_select(select)
                .set_filter_expression(plan.filter.clone())
                .set_expression_attribute_names(plan.names.clone())
                .set_expression_attribute_values(plan.values.clone())
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| backend("Query", e))?;
            Ok(Fetched {
                count: out.count,
                items: out.items.unwrap_or_default(),
                last_key: out.last_evaluated_key,
            })
        }
    }
}

/// Up to `limit` trainers of `plan` on `table` after `start`, and the position after the last
/// when more follow (`position` makes it).
pub(crate) async fn page(
    client: &Client,
    table: &str,
    scans: &Scans,
    plan: &Plan<'_>,
    mut start: Option<Item>,
    limit: usize,
    position: fn(&Trainer) -> Vec<u8>,
) -> Result<StorePage, StoreError> {
    if plan.nothing {
        return Ok(StorePage::default());
    }
    // Unfiltered, a page reads only its items: no turn to wait for.
    let _turn = if plan.filtered() {
        Some(scans.turn().await?)
    } else {
        None
    };
    let mut budget = scans.budget();
    // One more than a page: whether it comes tells whether a next page exists.
    let want = limit + 1;
    let mut items = Vec::with_capacity(want);
    loop {
        // Unfiltered, DynamoDB stops at the items wanted. Filtered, each request examines
        // up to 1 MB and what matches beyond the page is dropped: a `Limit` of the few
        // still wanted would make a selective filter cost a request per few items.
        let limit = (!plan.filtered()).then(|| want - items.len());
        budget.spend()?;
        let found = fetch(client, table, plan, start, limit, false).await?;
        for item in &found.items {
            let t = from_item(item)?;
            if plan.local.iter().all(|f| f.matches(&t)) {
                items.push(t);
                if items.len() == want {
                    break;
                }
            }
        }
        match found.last_key {
            Some(last_key) if items.len() < want => start = Some(last_key),
            _ => break,
        }
    }
    Ok(StorePage::from_rows(items, limit, position, |t| t))
}

/// How many trainers `plan` holds on `table`: DynamoDB counts, page by page, unless some
/// conditions are evaluated here.
pub(crate) async fn count(
    client: &Client,
    table: &str,
    scans: &Scans,
    plan: &Plan<'_>,
) -> Result<u64, StoreError> {
    if plan.nothing {
        return Ok(0);
    }
    let _turn = scans.turn().await?;
    let mut budget = scans.budget();
    let local = !plan.local.is_empty();
    let mut start = None;
    let mut total = 0u64;
    loop {
        budget.spend()?;
        let found = fetch(client, table, plan, start, None, !local).await?;
        if local {
            for item in &found.items {
                let t = from_item(item)?;
                if plan.local.iter().all(|f| f.matches(&t)) {
                    total += 1;
                }
            }
        } else {
            total += u64::try_from(found.count).unwrap_or_default();
        }
        match found.last_key {
            Some(last_key) => start = Some(last_key),
            None => return Ok(total),
        }
    }
}
