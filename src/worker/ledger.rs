//! Which of this worker's in-progress payloads it actually holds, so that
//! one it does not hold is found and put back instead of waiting there until
//! the worker stops.
//!
//! A take (`BLMOVE`, or the `LMOVE` inside a finish) whose reply is lost to a
//! connection error may still have moved a payload into the in-progress
//! list. The worker never learns of it, and the reaper leaves a live
//! worker's list alone. So every take is counted from before it is sent
//! until its reply, and every payload a take returned is held until it
//! leaves the list (finished, retried, given back) or the worker stops.
//!
//! A payload is stranded if it was in the list and not held when the list
//! was read (a *suspect*), and every take that could have moved it there has
//! since closed without returning it. Those takes all began before the
//! read, so once none of them is open, a suspect still not held never will
//! be: nothing else moves it out of the pending list into this one. The one
//! catch is a payload given back to the pending list meanwhile, which a
//! later take may be moving in again as a new entry: a give-back clears it
//! of suspicion, in the same step that lets go of it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(super) struct Ledger {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Number of the next take.
    next: u64,
    /// Takes sent and not yet closed.
    open: BTreeSet<u64>,
    /// Payloads taken and not yet out of the in-progress list (the same
    /// allocation as each [`Held`]'s: a large payload is kept once).
    held: HashMap<Arc<[u8]>, usize>,
    /// Suspects not yet judged, and not given back since they were read.
    suspected: HashSet<Vec<u8>>,
}

/// One take, from before it is sent until its reply; dropping it (the take
/// abandoned, or failed) closes it with nothing returned.
pub(super) struct Take {
    ledger: Arc<Ledger>,
    number: u64,
}

/// A payload this worker holds; dropping it lets go.
pub(super) struct Held {
    ledger: Arc<Ledger>,
    raw: Arc<[u8]>,
}

/// One read of an in-progress list, to judge on a later look.
#[derive(Debug, Default)]
pub(super) struct Suspects {
    /// Takes numbered below this were sent before the list was read.
    before: u64,
    raws: Vec<Vec<u8>>,
}

impl Ledger {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Call before sending a take.
    pub(super) fn take(self: &Arc<Self>) -> Take {
        let mut state = self.state();
        let number = state.next;
        state.next += 1;
        state.open.insert(number);
        Take { ledger: self.clone(), number }
    }

    /// The payloads of a freshly read in-progress list that are not held.
    /// Call once the read has replied.
    pub(super) fn suspects(&self, listed: Vec<Vec<u8>>) -> Suspects {
        let mut state = self.state();
        let raws: Vec<Vec<u8>> =
            listed.into_iter().filter(|raw| !state.held.contains_key(raw.as_slice())).collect();
        state.suspected.extend(raws.iter().cloned());
        Suspects { before: state.next, raws }
    }

    /// The suspects that are stranded, or `None` if a take that could have
    /// moved one of them is still open (judge again later). A verdict is
    /// final: read the list again for the next one.
    pub(super) fn stranded(&self, suspects: &Suspects) -> Option<Vec<Vec<u8>>> {
        let mut state = self.state();
        if state.open.first().is_some_and(|&oldest| oldest < suspects.before) {
            return None;
        }
        let mut stranded = Vec::new();
        for raw in &suspects.raws {
            if state.suspected.remove(raw) && !state.held.contains_key(raw.as_slice()) {
                stranded.push(raw.clone());
            }
        }
        Some(stranded)
    }
}

impl State {
    fn hold(&mut self, raw: &Arc<[u8]>) {
        *self.held.entry(raw.clone()).or_default() += 1;
    }

    fn release(&mut self, raw: &[u8]) {
        if let Some(n) = self.held.get_mut(raw) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(raw);
            }
        }
    }
}

impl Take {
    /// The take replied with `taken`, held from now on (in the same step as
    /// the take closes).
    pub(super) fn replied(self, taken: Option<Vec<u8>>) -> Option<Held> {
        let raw: Arc<[u8]> = taken?.into();
        self.ledger.state().hold(&raw);
        Some(Held { ledger: self.ledger.clone(), raw })
    }

    /// The take returned `raw` and gave it back itself (or tried to).
    pub(super) fn gave_back(self, raw: &[u8]) {
        self.ledger.state().suspected.remove(raw);
    }
}

impl Drop for Take {
    fn drop(&mut self) {
        self.ledger.state().open.remove(&self.number);
    }
}

impl Held {
    pub(super) fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The payload is being given back to the pending list, or was (even
    /// if the reply was lost).
    pub(super) fn giving_back(&self) {
        self.ledger.state().suspected.remove(&self.raw[..]);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.ledger.state().release(&self.raw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn some(raw: &str) -> Option<Vec<u8>> {
        Some(raw.as_bytes().to_vec())
    }

    #[test]
    fn a_payload_whose_take_failed_is_stranded() {
        let ledger = Arc::new(Ledger::default());
        let take = ledger.take();
        drop(take); // the reply was lost
        let suspects = ledger.suspects(raws(&["p"]));
        assert_eq!(ledger.stranded(&suspects), Some(raws(&["p"])));
        assert_eq!(ledger.stranded(&suspects), Some(vec![]), "a verdict is given once");
    }

    #[test]
    fn a_held_payload_is_never_stranded() {
        let ledger = Arc::new(Ledger::default());
        let held = ledger.take().replied(some("p")).unwrap();
        assert_eq!(held.raw(), b"p");
        let suspects = ledger.suspects(raws(&["p"]));
        assert_eq!(ledger.stranded(&suspects), Some(vec![]));
    }

    #[test]
    fn a_take_open_when_the_list_was_read_defers_the_verdict() {
        let ledger = Arc::new(Ledger::default());
        // The take has moved "p" in Redis; its reply is on its way.
        let take = ledger.take();
        let suspects = ledger.suspects(raws(&["p"]));
        assert_eq!(ledger.stranded(&suspects), None);
        let _held = take.replied(some("p"));
        assert_eq!(ledger.stranded(&suspects), Some(vec![]));
    }

    #[test]
    fn a_take_sent_after_the_read_does_not_defer_it() {
        let ledger = Arc::new(Ledger::default());
        let suspects = ledger.suspects(raws(&["p"]));
        let _blocked = ledger.take();
        assert_eq!(ledger.stranded(&suspects), Some(raws(&["p"])));
    }

    #[test]
    fn a_payload_given_back_since_the_read_is_not_stranded() {
        // Read while its take's reply was on the way; given back (no free
        // permit); a later take is moving it in again when the verdict comes.
        let ledger = Arc::new(Ledger::default());
        let take = ledger.take();
        let suspects = ledger.suspects(raws(&["p"]));
        let held = take.replied(some("p")).unwrap();
        held.giving_back();
        drop(held);
        let again = ledger.take();
        assert_eq!(ledger.stranded(&suspects), Some(vec![]));
        drop(again);

        // The same when the take gave it back itself (too few replicas).
        let take = ledger.take();
        let suspects = ledger.suspects(raws(&["q"]));
        take.gave_back(b"q");
        let _again = ledger.take();
        assert_eq!(ledger.stranded(&suspects), Some(vec![]));
    }

    #[test]
    fn a_payload_held_twice_stays_held_until_both_let_go() {
        let ledger = Arc::new(Ledger::default());
        let a = ledger.take().replied(some("p")).unwrap();
        let b = ledger.take().replied(some("p")).unwrap();
        drop(a);
        let suspects = ledger.suspects(raws(&["p"]));
        assert_eq!(ledger.stranded(&suspects), Some(vec![]));
        drop(b);
        let suspects = ledger.suspects(raws(&["p"]));
        assert_eq!(ledger.stranded(&suspects), Some(raws(&["p"])));
    }
}
