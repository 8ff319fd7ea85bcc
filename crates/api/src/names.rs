//! The names of the metrics at `/metrics`, in one place.

pub const REQUESTS: &str = "trainers_requests_total";
pub const REQUEST_SECONDS: &str = "trainers_request_duration_seconds";
pub const STORE_SECONDS: &str = "trainers_store_duration_seconds";
pub const WEBSOCKETS_OPEN: &str = "trainers_websockets_open";
pub const SUBSCRIPTIONS_ACTIVE: &str = "trainers_subscriptions_active";
pub const EVENTS_DELIVERED: &str = "trainers_events_delivered_total";
pub const EVENTS_DROPPED: &str = "trainers_events_dropped_total";
/// Events that could not be shared with the other servers of a fleet.
pub const EVENTS_LOST: &str = "trainers_events_lost_total";
