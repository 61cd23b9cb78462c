//! The parameters of a call, by name, from a query string and a form body.

use std::fmt;

/// `user`, `pass` and `server`, each at most once. Other names are ignored,
/// as Prosody may add some; a repeated one is refused, since which of two
/// values was meant cannot be known.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Params {
    pub user: Option<String>,
    pub pass: Option<String>,
    pub server: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParamsError {
    /// Not `application/x-www-form-urlencoded`, or not UTF-8 once decoded.
    Malformed,
    Repeated(&'static str),
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamsError::Malformed => f.write_str("the parameters are not valid form encoding or not UTF-8"),
            ParamsError::Repeated(name) => {
                write!(f, "the parameter {name} is given more than once")
            }
        }
    }
}

impl Params {
    /// Adds the pairs of one form-encoded source: `+` is a space and `%xx`
    /// is a byte, in either case of hex.
    pub fn add(&mut self, encoded: &[u8]) -> Result<(), ParamsError> {
        // serde_urlencoded decodes invalid UTF-8 lossily, so `%ff` and `%fe`
        // would both arrive as U+FFFD: two passwords would become one.
        let strict = encoded
            .split(|&b| b == b'&' || b == b'=')
            .all(|part| percent_encoding::percent_decode(part).decode_utf8().is_ok());
        if !strict {
            return Err(ParamsError::Malformed);
        }
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(encoded).map_err(|_| ParamsError::Malformed)?;
        for (name, value) in pairs {
            let (slot, name) = match name.as_str() {
                "user" => (&mut self.user, "user"),
                "pass" => (&mut self.pass, "pass"),
                "server" => (&mut self.server, "server"),
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(ParamsError::Repeated(name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(encoded: &str) -> Result<Params, ParamsError> {
        let mut params = Params::default();
        params.add(encoded.as_bytes()).map(|()| params)
    }

    #[test]
    fn decodes_what_prosody_sends_in_any_order() {
        let params = parse("server=example.com&pass=p%40ss+w%c3%b6rd%26%3d%2b%25&user=romeo").unwrap();
        assert_eq!(params.user.as_deref(), Some("romeo"));
        assert_eq!(params.pass.as_deref(), Some("p@ss wörd&=+%"));
        assert_eq!(params.server.as_deref(), Some("example.com"));
    }

    #[test]
    fn upper_case_hex_decodes_the_same() {
        assert_eq!(parse("pass=w%C3%B6rd").unwrap().pass.as_deref(), Some("wörd"));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(parse("user=a&user=b"), Err(ParamsError::Repeated("user")));
    }

    #[test]
    fn invalid_utf8_is_refused_not_replaced() {
        assert_eq!(parse("user=%ff%fe"), Err(ParamsError::Malformed));
        assert_eq!(parse("pass=a%c3"), Err(ParamsError::Malformed));
        let mut params = Params::default();
        assert_eq!(params.add(b"pass=\xff"), Err(ParamsError::Malformed));
        // A real U+FFFD, properly encoded, is a valid character.
        assert_eq!(parse("pass=%ef%bf%bd").unwrap().pass.as_deref(), Some("\u{fffd}"));
    }

    #[test]
    fn unknown_names_are_ignored() {
        assert_eq!(parse("user=a&extra=1").unwrap().user.as_deref(), Some("a"));
    }

    #[test]
    fn an_empty_value_is_present_but_empty() {
        assert_eq!(parse("pass=").unwrap().pass.as_deref(), Some(""));
    }
}
