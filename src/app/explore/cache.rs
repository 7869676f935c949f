//! Results per sweep kept between redraws. A landing run changes one sweep, and the
//! page redraws every shown one: the bootstraps and search curves of the others are
//! taken from here instead of drawn again.

use std::cell::RefCell;

use crate::sweep::Sweep;

/// What was computed for a sweep (and a key, such as the parameter), valid while the
/// sweep is equal to the one it was computed from.
pub struct PerSweep<V> {
    entries: RefCell<Vec<(Sweep, String, V)>>,
}

impl<V: Clone> PerSweep<V> {
    pub fn new() -> Self {
        PerSweep {
            entries: RefCell::new(vec![]),
        }
    }

    /// `compute(sweep)`, or its kept value when `sweep` (by content) and `key` are the
    /// same as then. One value is kept per sweep name and key.
    pub fn get(&self, sweep: &Sweep, key: &str, compute: impl FnOnce(&Sweep) -> V) -> V {
        let mut entries = self.entries.borrow_mut();
        let slot = entries
            .iter()
            .position(|(s, k, _)| s.name == sweep.name && k == key);
        if let Some(i) = slot {
            if entries[i].0 == *sweep {
                return entries[i].2.clone();
            }
            entries.swap_remove(i);
        }
        let value = compute(sweep);
        entries.push((sweep.clone(), key.to_string(), value.clone()));
        value
    }
}
