//! Exercise links: keys a teacher adds to a shape-explorer link to focus it, as
//! TensorFlow Playground's hide keys do. `hide` lists controls the page leaves out,
//! `lock` parameters it shows but keeps at the link's values, `ask` the question it
//! shows above the controls:
//!
//! `/?d=16&w0=48&wa=27&wm=2.5&lock=d,w0,wa&hide=g,b,q,train&ask=Only+move+wm...`
//!
//! Pure: the page (`app::controls`, `app::playground`) reads and writes it. Absent keys
//! mean a plain link, so every link made before keeps opening the same view.

use crate::url_params::MODEL;

/// Controls that are not model parameters but can be hidden: the preset menu and the
/// Train panel.
pub const EXTRA_CONTROLS: [&str; 2] = ["preset", "train"];

/// The longest question kept (a link is not an essay).
pub const MAX_ASK: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exercise {
    /// Controls left out: model parameter keys and `EXTRA_CONTROLS`.
    pub hide: Vec<&'static str>,
    /// Model parameters shown but fixed at the link's values.
    pub lock: Vec<&'static str>,
    /// The question shown above the controls.
    pub ask: Option<String>,
}

/// Every key `hide` accepts, in the order the builder lists them.
pub fn hideable() -> impl Iterator<Item = &'static str> {
    lockable().chain(EXTRA_CONTROLS)
}

/// Every key `lock` accepts: the model's parameters.
pub fn lockable() -> impl Iterator<Item = &'static str> {
    MODEL.iter().map(|d| d.key)
}

impl Exercise {
    pub fn is_empty(&self) -> bool {
        self.hide.is_empty() && self.lock.is_empty() && self.ask.is_none()
    }

    pub fn hides(&self, key: &str) -> bool {
        self.hide.contains(&key)
    }

    pub fn locks(&self, key: &str) -> bool {
        self.lock.contains(&key)
    }

    /// Reads the keys; a name that is not a control is left out with a notice, as a
    /// bad parameter value is.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> (Exercise, Vec<String>) {
        let mut notices = vec![];
        let mut list = |key: &str, allowed: Vec<&'static str>| -> Vec<&'static str> {
            let Some(raw) = get(key) else { return vec![] };
            let mut out = vec![];
            for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                match allowed.iter().find(|a| a.eq_ignore_ascii_case(name)) {
                    Some(a) if !out.contains(a) => out.push(*a),
                    Some(_) => {}
                    None => notices.push(format!(
                        "{key}: '{}' is not a control ({}), so it is left out.",
                        name.chars().take(24).collect::<String>(),
                        allowed.join(", ")
                    )),
                }
            }
            out
        };
        let hide = list("hide", hideable().collect());
        let lock = list("lock", lockable().collect());
        let ask = get("ask")
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty());
        let ask = ask.map(|a| {
            if a.chars().count() > MAX_ASK {
                notices.push(format!(
                    "ask: the question is longer than {MAX_ASK} characters, so it is cut."
                ));
                a.chars().take(MAX_ASK).collect()
            } else {
                a
            }
        });
        (Exercise { hide, lock, ask }, notices)
    }

    /// The query pairs (none for a plain link).
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![];
        if !self.hide.is_empty() {
            pairs.push(("hide", self.hide.join(",")));
        }
        if !self.lock.is_empty() {
            pairs.push(("lock", self.lock.join(",")));
        }
        if let Some(ask) = &self.ask {
            pairs.push(("ask", ask.clone()));
        }
        pairs
    }

    /// `changes` without those to locked parameters: a locked control cannot move, and
    /// neither can a preset or a toggle move a locked value.
    pub fn allowed(&self, changes: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
        changes
            .into_iter()
            .filter(|(k, _)| !self.locks(k))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> (Exercise, Vec<String>) {
        Exercise::from_query(|k| {
            pairs
                .iter()
                .find(|(q, _)| *q == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn a_plain_link_is_no_exercise() {
        let (e, notices) = parse(&[("d", "4")]);
        assert!(e.is_empty() && notices.is_empty());
        assert!(e.to_query().is_empty());
    }

    #[test]
    fn keys_round_trip_and_unknown_names_are_named() {
        let (e, notices) = parse(&[
            ("hide", "g, B,train,,nope,g"),
            ("lock", "d,w0,preset"),
            ("ask", " Only move wm: what happens to the stages? "),
        ]);
        assert_eq!(e.hide, ["g", "b", "train"]);
        assert_eq!(e.lock, ["d", "w0"]);
        assert_eq!(
            e.ask.as_deref(),
            Some("Only move wm: what happens to the stages?")
        );
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(
            notices[0].starts_with("hide: 'nope' is not a control"),
            "{notices:?}"
        );
        assert!(
            notices[1].starts_with("lock: 'preset' is not a control"),
            "{notices:?}"
        );
        let query = e.to_query();
        let back =
            Exercise::from_query(|k| query.iter().find(|(q, _)| *q == k).map(|(_, v)| v.clone()));
        assert_eq!(back, (e, vec![]));
    }

    #[test]
    fn locked_parameters_do_not_move_and_long_questions_are_cut() {
        let (e, _) = parse(&[("lock", "d")]);
        let kept = e.allowed(vec![("d", "5".into()), ("wm", "2.5".into())]);
        assert_eq!(kept, [("wm", "2.5".to_string())]);
        let long = "x".repeat(MAX_ASK + 10);
        let (e, notices) = parse(&[("ask", long.as_str())]);
        assert_eq!(e.ask.map(|a| a.len()), Some(MAX_ASK));
        assert_eq!(notices.len(), 1);
    }
}
