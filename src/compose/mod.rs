//! Compose files (the compose specification's `services`, `volumes` and `secrets`) read into a
//! model with the line and column of every key and value, for the script's `compose()` and
//! `boss import` to map onto boss's services. No Rhai types and no engine calls; the only I/O
//! is reading the file and its `.env` (`load.rs`).

mod load;
mod model;
mod read;
mod units;
mod variables;
mod yaml;

#[cfg(test)]
mod tests;

pub(crate) use model::*;
pub(crate) use read::{IGNORED_SERVICE_KEYS, SERVICE_KEYS};
pub(crate) use units::{parse_bytes, parse_duration};
pub(crate) use variables::{Variables, parse_dotenv};
