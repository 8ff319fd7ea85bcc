//! The Trainers domain, free of I/O: what a trainer is, what input is valid, how pages are
//! addressed, which errors a client can see, the store trait and the service that ties them,
//! API keys (their shape, hashing and expiry, and the trait of where they are kept), and who
//! may change what (callers, owners, the access policy).

pub mod access;
pub mod copy;
pub mod error;
pub mod filter;
pub mod keys;
pub mod model;
pub mod page_token;
pub mod service;
pub mod store;
pub mod validation;

pub use access::{AccessPolicy, Caller, ChangeRight, Denied, Owner, User};
pub use copy::{copy_all, CopyCount};
pub use error::{error_chain, Error, ErrorType};
pub use filter::{Field, Filter, FilterKind, KeyCondition, Op, Scalar, SortDirection};
pub use keys::{FixedKey, KeyError, KeyInfo, KeySource, NewKey};
pub use model::{Specialty, Timestamp, Trainer, TrainerId};
pub use page_token::{TokenKey, TokenSecret, TokenSecretError};
pub use service::{
    BySpecialtyRequest, CreateRequest, ListRequest, Page, TrainerService, UpdateRequest,
};
pub use store::{
    ListQuery, Precondition, Scans, SpecialtyQuery, StoreError, StorePage, TrainerPatch,
    TrainerStore,
};
pub use validation::{Age, TrainerName};
