//! Request parameters from any bytes: never a panic, and whatever is
//! accepted reads back the same once encoded again, so no two different
//! requests can be taken for one.

#![no_main]

use auth_http_ldap::http::params::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|encoded: &[u8]| {
    let mut params = Params::default();
    if params.add(encoded).is_err() {
        return;
    }
    let pairs: Vec<(&str, &str)> =
        [("user", &params.user), ("pass", &params.pass), ("server", &params.server)]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value.as_deref()?)))
            .collect();
    let again = serde_urlencoded::to_string(&pairs).expect("strings encode");
    let mut reread = Params::default();
    reread.add(again.as_bytes()).expect("an encoding of accepted values is accepted");
    assert_eq!(reread, params);
});
