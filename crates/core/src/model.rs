use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Owner;

/// A trainer's id: a lowercase hyphenated UUID made by the server.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrainerId(String);

impl TrainerId {
    /// A new time-ordered (version 7) id.
    pub fn generate() -> Self {
        TrainerId(Uuid::now_v7().hyphenated().to_string())
    }

    /// Reads an id given by a client. Any spelling of a UUID is accepted and normalised to the
    /// lowercase hyphenated form; anything else is no id at all.
    pub fn parse(text: &str) -> Option<Self> {
        Uuid::parse_str(text.trim())
            .ok()
            .map(|u| TrainerId(u.hyphenated().to_string()))
    }

    /// Wraps an id read back from a store, trusted as written.
    pub fn from_stored(text: String) -> Self {
        TrainerId(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Specialty {
    #[serde(rename = "BODYBUILDING")]
    Bodybuilding,
    #[serde(rename = "YOUTHFITNESS")]
    YouthFitness,
    #[serde(rename = "SENIORFITNESS")]
    SeniorFitness,
    #[serde(rename = "CORRECTIVEEXERCISE")]
    CorrectiveExercise,
}

impl Specialty {
    pub const ALL: [Specialty; 4] = [
        Specialty::Bodybuilding,
        Specialty::YouthFitness,
        Specialty::SeniorFitness,
        Specialty::CorrectiveExercise,
    ];

    /// The GraphQL enum value, which is also how stores write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Specialty::Bodybuilding => "BODYBUILDING",
            Specialty::YouthFitness => "YOUTHFITNESS",
            Specialty::SeniorFitness => "SENIORFITNESS",
            Specialty::CorrectiveExercise => "CORRECTIVEEXERCISE",
        }
    }

    /// A one-byte code, used inside page tokens.
    pub(crate) fn code(self) -> u8 {
        match self {
            Specialty::Bodybuilding => 1,
            Specialty::YouthFitness => 2,
            Specialty::SeniorFitness => 3,
            Specialty::CorrectiveExercise => 4,
        }
    }
}

impl fmt::Display for Specialty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown specialty {0:?}")]
pub struct UnknownSpecialty(pub String);

impl FromStr for Specialty {
    type Err = UnknownSpecialty;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Specialty::ALL
            .into_iter()
            .find(|sp| sp.as_str() == s)
            .ok_or_else(|| UnknownSpecialty(s.to_string()))
    }
}

/// A point in time with millisecond precision, as AppSync's `AWSDateTime` shows it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-24T21:38:53.123Z`.
    pub fn to_rfc3339(self) -> String {
        match Utc.timestamp_millis_opt(self.0).single() {
            Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => "1970-01-01T00:00:00.000Z".to_string(),
        }
    }

    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|dt| Timestamp(dt.with_timezone(&Utc).timestamp_millis()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 date-time: {text}")))
    }
}

/// A trainer as stored and as returned to clients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trainer {
    pub id: TrainerId,
    pub first_name: String,
    pub last_name: String,
    pub age: i32,
    pub specialty: Option<Specialty>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
    /// Who created it, when a signed-in user did (accounts, [`crate::access`]); never an input
    /// and never changed. Left out of the JSON when there is none, so records and events
    /// without owners read and write as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_aws_date_time() {
        let t = Timestamp::from_millis(1_795_988_333_123);
        assert_eq!(t.to_rfc3339(), "2026-11-29T21:38:53.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
    }

    #[test]
    fn ids_are_normalised_lowercase_hyphenated() {
        let id = TrainerId::parse("0191F2A4-5B6C-7D8E-9F00-112233445566").map(|i| i.to_string());
        assert_eq!(id.as_deref(), Some("0191f2a4-5b6c-7d8e-9f00-112233445566"));
        assert!(TrainerId::parse("not-an-id").is_none());
        let made = TrainerId::generate();
        assert_eq!(
            Uuid::parse_str(made.as_str())
                .map(|u| u.get_version_num())
                .ok(),
            Some(7)
        );
    }

    #[test]
    fn an_owner_is_in_the_json_of_exports_and_events_only_when_there_is_one() {
        let t = Trainer {
            id: TrainerId::from_stored("0190f2a4-5b6c-7d8e-9f00-112233445566".into()),
            first_name: "Ana".into(),
            last_name: "Lee".into(),
            age: 30,
            specialty: None,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            version: 1,
            owner: None,
        };
        let plain = serde_json::to_value(&t).expect("json");
        assert!(plain.get("owner").is_none(), "{plain}");
        let back: Trainer = serde_json::from_value(plain).expect("an export without owners");
        assert_eq!(back, t);
        let owned = Trainer {
            owner: Some(Owner::of("sub-1", "jane")),
            ..t
        };
        let json = serde_json::to_value(&owned).expect("json");
        assert_eq!(json["owner"], "sub-1::jane");
        assert_eq!(serde_json::from_value::<Trainer>(json).ok(), Some(owned));
    }

    #[test]
    fn specialty_round_trips_through_its_name() {
        for s in Specialty::ALL {
            assert_eq!(s.as_str().parse::<Specialty>().ok(), Some(s));
        }
        assert!("bodybuilding".parse::<Specialty>().is_err());
    }
}
