//! Keeping a map of recent activity within its bound.

use std::collections::HashMap;
use std::hash::Hash;

/// Makes room in `map` for one more entry when it holds `max_entries`:
/// first by dropping what `expired` says is of no more use, then, if that
/// is not enough, an arbitrary tenth of the rest. Dropping in bulk keeps a
/// flood of new keys from costing a scan of the map for each one.
pub fn make_room<K: Hash + Eq, V>(map: &mut HashMap<K, V>, max_entries: usize, expired: impl Fn(&V) -> bool) {
    if map.len() < max_entries {
        return;
    }
    map.retain(|_, value| !expired(value));
    if map.len() < max_entries {
        return;
    }
    let mut excess = map.len() + 1 - max_entries + max_entries / 10;
    map.retain(|_, _| {
        let drop = excess > 0;
        excess = excess.saturating_sub(1);
        !drop
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_expired_first_then_a_tenth() {
        let mut map: HashMap<u32, bool> = (0..10).map(|key| (key, key % 2 == 0)).collect();
        make_room(&mut map, 10, |expired| *expired);
        assert_eq!(map.len(), 5);
        assert!(map.values().all(|expired| !expired));

        let mut full: HashMap<u32, bool> = (0..100).map(|key| (key, false)).collect();
        make_room(&mut full, 100, |expired| *expired);
        assert_eq!(full.len(), 89);
    }
}
