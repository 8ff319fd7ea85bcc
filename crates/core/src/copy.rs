//! Moving trainers between stores (embedded to DynamoDB and back) as they are: ids, versions
//! and timestamps kept.

use crate::model::Trainer;
use crate::store::{ListQuery, StoreError, TrainerStore};

/// Trainers read, and written, per request.
pub const COPY_PAGE: usize = 100;

/// What a copy or an import did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyCount {
    /// Trainers written.
    pub copied: u64,
    /// Trainers left out because their id was in the target already (never overwritten).
    pub skipped: u64,
}

impl CopyCount {
    pub fn total(&self) -> u64 {
        self.copied + self.skipped
    }

    /// Writes `batch` into `to` (ids it has already are skipped) and counts it.
    pub async fn insert(
        &mut self,
        to: &dyn TrainerStore,
        batch: &[Trainer],
    ) -> Result<(), StoreError> {
        let stored = to.insert_many(batch).await?;
        self.copied += stored;
        self.skipped += (batch.len() as u64).saturating_sub(stored);
        Ok(())
    }
}

/// Calls `each` with every page of `store`'s trainers, in the store's order.
pub async fn for_each_page<F>(store: &dyn TrainerStore, mut each: F) -> Result<(), StoreError>
where
    F: FnMut(Vec<Trainer>) -> Result<(), StoreError>,
{
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = store
            .list(&ListQuery::default(), after.as_deref(), COPY_PAGE)
            .await?;
        each(page.items)?;
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

/// Copies every trainer of `from` into `to`, skipping ids that `to` has already, so that an
/// interrupted copy can be run again. `progress` gets the number of trainers done so far.
pub async fn copy_all(
    from: &dyn TrainerStore,
    to: &dyn TrainerStore,
    mut progress: impl FnMut(u64),
) -> Result<CopyCount, StoreError> {
    let mut count = CopyCount::default();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = from
            .list(&ListQuery::default(), after.as_deref(), COPY_PAGE)
            .await?;
        count.insert(to, &page.items).await?;
        progress(count.total());
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(count),
        }
    }
}
