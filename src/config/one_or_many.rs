//! A key that takes one value or a list of them, `x = "a"` or
//! `x = ["a", "b"]`, and is printed back the same way.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values, refusing an empty list: `what` names what is missing.
    pub(super) fn into_non_empty(self, what: &str) -> Result<Vec<T>, String> {
        match self {
            OneOrMany::One(value) => Ok(vec![value]),
            OneOrMany::Many(values) if values.is_empty() => Err(format!("must name at least one {what}")),
            OneOrMany::Many(values) => Ok(values),
        }
    }
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    fn from(values: Vec<T>) -> Self {
        match <[T; 1]>::try_from(values) {
            Ok([one]) => OneOrMany::One(one),
            Err(many) => OneOrMany::Many(many),
        }
    }
}
