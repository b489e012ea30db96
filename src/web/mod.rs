//! The web queue and API.

pub mod inert;
