//! The database layout and the SQL that reads it.

use std::path::Path;
use std::time::Duration;

use rand::RngCore;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension, Row};
use trainers_core::{
    ListQuery, Owner, SortDirection, Specialty, SpecialtyQuery, Timestamp, TokenKey, Trainer,
    TrainerId,
};

use crate::sql_filter::Sql;

const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE trainers (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order, never reused
    id          TEXT    NOT NULL UNIQUE,
    first_name  TEXT    NOT NULL,
    last_name   TEXT    NOT NULL,
    age         INTEGER NOT NULL,
    specialty   TEXT,
    created_at  INTEGER NOT NULL,                   -- Unix milliseconds
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL
);
CREATE INDEX trainers_by_specialty ON trainers (specialty, seq);
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
";

/// Version 2: `trainersBySpecialty` reads one specialty in `lastName` order, then `id`.
const SCHEMA_2: &str = "
CREATE INDEX trainers_by_specialty_last_name ON trainers (specialty, last_name, id);
";

/// Version 3: a trainer's `owner` ("<sub>::<username>", accounts), none for older rows.
const SCHEMA_3: &str = "
ALTER TABLE trainers ADD COLUMN owner TEXT;
";

/// The columns every read selects, in the order `trainer` reads them. A macro, so that each
/// query is one literal (no formatting on the read path).
macro_rules! select_columns {
    () => {
        "SELECT seq, id, first_name, last_name, age, specialty, created_at, updated_at, version, owner FROM trainers "
    };
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // Statements that differ by their page's limit only (see `list`) stay prepared.
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

pub fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the store needs WAL mode, the file system gave {mode}"
        )));
    }
    configure(&conn)?;
    Ok(conn)
}

pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(conn)
}

/// Creates or upgrades the schema, and returns the key that signs page tokens (made once, kept).
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<TokenKey> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version == 0 {
        tx.execute_batch(SCHEMA)?;
    }
    if version < 2 {
        tx.execute_batch(SCHEMA_2)?;
    }
    if version < 3 {
        tx.execute_batch(SCHEMA_3)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    } else if version != SCHEMA_VERSION {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the store has schema version {version}, this program knows {SCHEMA_VERSION}"
        )));
    }
    let stored: Option<Vec<u8>> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'page_token_key'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let key = match stored.and_then(|v| <[u8; 32]>::try_from(v).ok()) {
        Some(key) => key,
        None => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('page_token_key', ?1)",
                [&key[..]],
            )?;
            key
        }
    };
    tx.commit()?;
    Ok(TokenKey::new(key))
}

fn trainer(row: &Row<'_>) -> rusqlite::Result<Trainer> {
    let specialty: Option<String> = row.get(5)?;
    let specialty = specialty
        .map(|s| s.parse::<Specialty>())
        .transpose()
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, e.into())
        })?;
    Ok(Trainer {
        id: TrainerId::from_stored(row.get(1)?),
        first_name: row.get(2)?,
        last_name: row.get(3)?,
        age: row.get(4)?,
        specialty,
        created_at: Timestamp::from_millis(row.get(6)?),
        updated_at: Timestamp::from_millis(row.get(7)?),
        version: row.get(8)?,
        owner: row.get::<_, Option<String>>(9)?.map(Owner::from_stored),
    })
}

pub fn get(conn: &Connection, id: &TrainerId) -> rusqlite::Result<Option<Trainer>> {
    conn.prepare_cached(concat!(select_columns!(), "WHERE id = ?1"))?
        .query_row([id.as_str()], trainer)
        .optional()
}

/// Up to `limit` trainers of `query` after sequence number `after`, with their sequence
/// numbers.
///
/// The limit is written into the statement, not bound: SQLite (3.47 and later) plans with the
/// value of a bound `LIMIT`, and so prepares such a statement again each time it is bound,
/// which cost a fifth of a page's CPU (perf under load). A statement per limit is cached
/// instead ([`configure`]: clients use few).
pub fn list(
    conn: &Connection,
    query: &ListQuery<'_>,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, Trainer)>> {
    let with_seq = |row: &Row<'_>| Ok((row.get::<_, i64>(0)?, trainer(row)?));
    match (query.specialty, query.filter) {
        (None, None) => conn
            .prepare_cached(&format!(
                concat!(select_columns!(), "WHERE seq > ?1 ORDER BY seq LIMIT {}"),
                limit
            ))?
            .query_map(params![after], with_seq)?
            .collect(),
        (Some(s), None) => conn
            .prepare_cached(&format!(
                concat!(
                    select_columns!(),
                    "WHERE specialty = ?2 AND seq > ?1 ORDER BY seq LIMIT {}"
                ),
                limit
            ))?
            .query_map(params![after, s.as_str()], with_seq)?
            .collect(),
        (specialty, Some(filter)) => {
            let mut sql = Sql::default();
            sql.push(select_columns!());
            sql.push("WHERE seq > ");
            sql.bind(after);
            if let Some(s) = specialty {
                sql.push(" AND specialty = ");
                sql.bind(s.as_str().to_string());
            }
            sql.and_filter(filter);
            sql.push(&format!(" ORDER BY seq LIMIT {limit}"));
            conn.prepare_cached(&sql.text)?
                .query_map(params_from_iter(sql.params), with_seq)?
                .collect()
        }
    }
}

/// How many trainers `query` holds.
pub fn count(conn: &Connection, query: &ListQuery<'_>) -> rusqlite::Result<u64> {
    let mut sql = Sql::default();
    sql.push("SELECT COUNT(*) FROM trainers WHERE 1");
    if let Some(s) = query.specialty {
        sql.push(" AND specialty = ");
        sql.bind(s.as_str().to_string());
    }
    if let Some(filter) = query.filter {
        sql.and_filter(filter);
    }
    conn.prepare_cached(&sql.text)?
        .query_row(params_from_iter(sql.params), |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// Up to `limit` trainers of `query` after the trainer at (`last_name`, `id`), on the index
/// `(specialty, last_name, id)`.
pub fn list_by_specialty(
    conn: &Connection,
    query: &SpecialtyQuery<'_>,
    after: Option<(&str, &str)>,
    limit: usize,
) -> rusqlite::Result<Vec<Trainer>> {
    let descending = query.direction == SortDirection::Desc;
    let mut sql = Sql::default();
    sql.push(select_columns!());
    sql.push("WHERE specialty = ");
    sql.bind(query.specialty.as_str().to_string());
    if let Some(key) = query.last_name {
        sql.and_key_condition(key);
    }
    if let Some((last_name, id)) = after {
        sql.push(if descending {
            " AND (last_name, id) < ("
        } else {
            " AND (last_name, id) > ("
        });
        sql.bind(last_name.to_string());
        sql.push(", ");
        sql.bind(id.to_string());
        sql.push(")");
    }
    if let Some(filter) = query.filter {
        sql.and_filter(filter);
    }
    sql.push(if descending {
        " ORDER BY last_name DESC, id DESC"
    } else {
        " ORDER BY last_name, id"
    });
    sql.push(&format!(" LIMIT {limit}"));
    conn.prepare_cached(&sql.text)?
        .query_map(params_from_iter(sql.params), trainer)?
        .collect()
}

pub fn insert(conn: &Connection, t: &Trainer) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "INSERT INTO trainers (id, first_name, last_name, age, specialty, created_at, updated_at, version, owner)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![
        t.id.as_str(),
        t.first_name,
        t.last_name,
        t.age,
        t.specialty.map(Specialty::as_str),
        t.created_at.millis(),
        t.updated_at.millis(),
        t.version,
        t.owner.as_ref().map(Owner::as_str),
    ])
}

/// Writes an update's fields (never `owner`, which no update changes).
pub fn replace(conn: &Connection, t: &Trainer) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE trainers SET first_name = ?2, last_name = ?3, age = ?4, specialty = ?5,
         updated_at = ?6, version = ?7 WHERE id = ?1",
    )?
    .execute(params![
        t.id.as_str(),
        t.first_name,
        t.last_name,
        t.age,
        t.specialty.map(Specialty::as_str),
        t.updated_at.millis(),
        t.version,
    ])
}

pub fn delete(conn: &Connection, id: &TrainerId) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM trainers WHERE id = ?1")?
        .execute([id.as_str()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trainer(owner: Option<&str>) -> Trainer {
        Trainer {
            id: TrainerId::generate(),
            first_name: "Ana".into(),
            last_name: "Lee".into(),
            age: 30,
            specialty: Some(Specialty::Bodybuilding),
            created_at: Timestamp::from_millis(1),
            updated_at: Timestamp::from_millis(1),
            version: 1,
            owner: owner.map(|o| Owner::from_stored(o.into())),
        }
    }

    #[test]
    fn a_version_2_store_gains_owners_and_keeps_its_rows_and_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("v2.sqlite3");
        let mut conn = open_writer(&path).expect("open");
        // A data directory as version 2 left it, with one trainer.
        conn.execute_batch(SCHEMA).expect("v1");
        conn.execute_batch(SCHEMA_2).expect("v2");
        conn.pragma_update(None, "user_version", 2)
            .expect("version");
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('page_token_key', ?1)",
            [&[9u8; 32][..]],
        )
        .expect("key");
        conn.execute(
            "INSERT INTO trainers (id, first_name, last_name, age, specialty, created_at, updated_at, version)
             VALUES ('0190f2a4-5b6c-7d8e-9f00-112233445566', 'Old', 'Row', 40, NULL, 5, 6, 3)",
            [],
        )
        .expect("row");

        migrate(&mut conn).expect("migrate");
        let key: Vec<u8> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'page_token_key'",
                [],
                |r| r.get(0),
            )
            .expect("key");
        assert_eq!(key, [9u8; 32], "the page-token key is kept");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let old = TrainerId::from_stored("0190f2a4-5b6c-7d8e-9f00-112233445566".into());
        let row = get(&conn, &old).expect("read").expect("the old row");
        assert_eq!((row.first_name.as_str(), row.version), ("Old", 3));
        assert_eq!(row.owner, None);

        let owned = trainer(Some("sub-1::jane"));
        insert(&conn, &owned).expect("insert");
        assert_eq!(get(&conn, &owned.id).expect("read"), Some(owned.clone()));
        // An update's write leaves the owner as it is.
        let changed = Trainer {
            first_name: "Bo".into(),
            version: 2,
            owner: None,
            ..owned.clone()
        };
        replace(&conn, &changed).expect("replace");
        let read = get(&conn, &owned.id).expect("read").expect("row");
        assert_eq!((read.first_name.as_str(), read.owner), ("Bo", owned.owner));
        // Opening again is a no-op.
        migrate(&mut conn).expect("again");
    }

    #[test]
    fn a_new_store_is_made_at_the_latest_version() {
        let dir = tempfile::tempdir().expect("dir");
        let mut conn = open_writer(&dir.path().join("new.sqlite3")).expect("open");
        migrate(&mut conn).expect("migrate");
        let t = trainer(None);
        insert(&conn, &t).expect("insert");
        assert_eq!(get(&conn, &t.id).expect("read"), Some(t));
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, 3);
    }
}
