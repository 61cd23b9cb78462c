//! A key that takes one value or a list of them, `x = "a"` or
//! `x = ["a", "b"]`, read with the reason a value is wrong and printed back
//! the same way.
//!
//! serde's untagged enums answer every mistake with "data did not match any
//! variant"; reading the text here keeps each value's own reason.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A value written as text, one of a list.
pub(super) trait Listed: Sized {
    /// What one value looks like, with an example: "an LDAP URL such as
    /// ldaps://dc1.corp.example:636".
    const EXPECTED: &'static str;

    /// The values `text` stands for (a host name may stand for several
    /// addresses), or why it stands for none.
    fn parse(text: &str) -> Result<Vec<Self>, String>;
}

/// Reads one value or a non-empty list of them.
pub(super) fn deserialize<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Listed,
{
    deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
}

struct OneOrManyVisitor<T>(PhantomData<T>);

impl<'de, T: Listed> Visitor<'de> for OneOrManyVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, or a list of them", T::EXPECTED)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<T>, E> {
        T::parse(text).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut values = Vec::new();
        while let Some(One(one)) = seq.next_element::<One<T>>()? {
            values.extend(one);
        }
        if values.is_empty() {
            return Err(de::Error::custom(format!("is an empty list; expected {}", T::EXPECTED)));
        }
        Ok(values)
    }
}

/// One value of a list: text only, as a list inside a list means nothing.
struct One<T>(Vec<T>);

impl<'de, T: Listed> Deserialize<'de> for One<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OneVisitor(PhantomData)).map(One)
    }
}

struct OneVisitor<T>(PhantomData<T>);

impl<T: Listed> Visitor<'_> for OneVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<T>, E> {
        T::parse(text).map_err(E::custom)
    }
}

/// How a list is printed back: a single value alone, as it was likely written.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    fn from(values: Vec<T>) -> Self {
        match <[T; 1]>::try_from(values) {
            Ok([one]) => OneOrMany::One(one),
            Err(many) => OneOrMany::Many(many),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A word of letters; `double` stands for two.
    #[derive(Debug, PartialEq)]
    struct Word(String);

    impl Listed for Word {
        const EXPECTED: &'static str = "a word such as hello";
        fn parse(text: &str) -> Result<Vec<Self>, String> {
            match text {
                "double" => Ok(vec![Word("one".into()), Word("two".into())]),
                _ if !text.is_empty() && text.chars().all(char::is_alphabetic) => Ok(vec![Word(text.into())]),
                _ => Err(format!("`{text}` is not a word; expected a word such as hello")),
            }
        }
    }

    #[derive(Debug, Deserialize)]
    struct Wrapper {
        #[serde(deserialize_with = "deserialize")]
        x: Vec<Word>,
    }

    fn read(value: &str) -> Result<Vec<Word>, String> {
        toml::from_str::<Wrapper>(&format!("x = {value}")).map(|w| w.x).map_err(|e| e.to_string())
    }

    #[test]
    fn one_value_or_a_list_and_each_may_stand_for_several() {
        assert_eq!(read("\"a\"").unwrap(), [Word("a".into())]);
        assert_eq!(read("[\"a\", \"double\"]").unwrap().len(), 3);
    }

    #[test]
    fn each_mistake_keeps_its_own_reason() {
        for (value, reason) in [
            ("\"1\"", "`1` is not a word"),
            ("[\"a\", \"1\"]", "`1` is not a word"),
            ("[]", "is an empty list; expected a word such as hello"),
            ("5", "a word such as hello, or a list of them"),
            ("[[\"a\"]]", "expected a word such as hello"),
        ] {
            let e = read(value).unwrap_err();
            assert!(e.contains(reason), "{value}: {e}");
            assert!(!e.contains("variant") && !e.contains("untagged"), "{value}: {e}");
        }
    }

    #[test]
    fn a_single_value_is_printed_alone() {
        assert_eq!(
            toml::to_string(
                &[("x", OneOrMany::from(vec![1]))].into_iter().collect::<std::collections::BTreeMap<_, _>>()
            )
            .unwrap()
            .trim(),
            "x = 1"
        );
    }
}
