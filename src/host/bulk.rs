//! What gathering in bulk ([`crate::gather`]) asks of a host: which facts it knows
//! already, where the answers go, and which ways of gathering still work on the target.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use super::{Host, slot};
use crate::backend::{Backend, FileMeta};
use crate::cmd::{Cmd, Output};
use crate::gather::net::{NetAnswer, NetQuery};
use crate::gather::{self, Fact, Mode};
use crate::host::ProbeError;

impl Host {
    /// Fetches in bulk those of `facts` not known yet (see [`crate::gather`]).
    pub fn prefetch(&self, facts: impl IntoIterator<Item = Fact>) {
        gather::batch(self, &self.unknown(facts), false);
    }

    /// Like [`Host::prefetch`], for a few facts that may be asked for again and again
    /// (a `within` retry): without copying the probe in.
    pub fn prefetch_light(&self, facts: impl IntoIterator<Item = Fact>) {
        gather::batch(self, &self.unknown(facts), true);
    }

    fn unknown(&self, facts: impl IntoIterator<Item = Fact>) -> Vec<Fact> {
        let mut wanted: Vec<Fact> = Vec::new();
        for fact in facts {
            if !self.knows(&fact) && !wanted.contains(&fact) {
                wanted.push(fact);
            }
        }
        wanted
    }

    /// Returns true unless the gathering script failed on this target.
    pub(crate) fn script_works(&self) -> bool {
        self.shared.script_works.load(Ordering::Relaxed)
    }

    /// Notes that the gathering script does not work on this target.
    pub(crate) fn script_failed(&self) {
        self.shared.script_works.store(false, Ordering::Relaxed);
    }

    /// Returns true unless the target turned out to have no `gzip`.
    pub(crate) fn gzip_works(&self) -> bool {
        self.shared.gzip_works.load(Ordering::Relaxed)
    }

    /// Notes that the target has no `gzip`: the probe goes as it is from now on.
    pub(crate) fn no_gzip(&self) {
        self.shared.gzip_works.store(false, Ordering::Relaxed);
    }

    /// Returns true if `fact` is in the memo already.
    pub(crate) fn knows(&self, fact: &Fact) -> bool {
        match fact {
            Fact::Read(path) => self
                .memo
                .reads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(path)
                .is_some_and(|s| s.get().is_some()),
            Fact::Lstat(path) => self
                .memo
                .lstats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key(path),
            Fact::Run(cmd) => self
                .memo
                .runs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(cmd)
                .is_some_and(|s| s.get().is_some()),
            Fact::Processes => self.memo.processes.get().is_some(),
            Fact::Net(n) => {
                self.memo
                    .nets
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .contains_key(&n.query)
                    || n.fallback
                        .as_ref()
                        .is_some_and(|cmd| self.knows(&Fact::Run(cmd.clone())))
            }
        }
    }

    pub(crate) fn remember_read(&self, path: &str, answer: Result<Option<Vec<u8>>, ProbeError>) {
        let _ = slot(&self.memo.reads, path.to_string()).set(answer.map(|b| b.map(Arc::new)));
    }

    pub(crate) fn remember_lstat(&self, path: &str, answer: Result<Option<FileMeta>, ProbeError>) {
        self.memo
            .lstats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_string(), answer);
    }

    pub(crate) fn remember_run(&self, cmd: &Cmd, answer: Result<Output, ProbeError>) {
        let _ = slot(&self.memo.runs, cmd.clone()).set(answer.map(Arc::new));
    }

    pub(crate) fn remember_net(&self, query: &NetQuery, answer: Result<NetAnswer, ProbeError>) {
        self.memo
            .nets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(query.clone(), answer);
    }

    pub(crate) fn remember_processes(&self, answer: Result<Vec<u8>, ProbeError>) {
        let _ = self.memo.processes.set(answer);
    }

    /// The backend, for gathering.
    pub(crate) fn backend(&self) -> &dyn Backend {
        &*self.shared.backend
    }

    /// How many programs may run at once on the target.
    pub fn jobs(&self) -> usize {
        self.shared.jobs
    }

    /// How facts are gathered now.
    pub fn mode(&self) -> Mode {
        self.shared
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Drops gathering the `from` way for `to`, for the rest of the run.
    pub(crate) fn downgrade(&self, from: Mode, to: Mode, why: String) {
        let mut mode = self
            .shared
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if mode.0 == from {
            let why = match mode.1.take() {
                Some(before) => format!("{before}; then {why}"),
                None => why,
            };
            *mode = (to, Some(why));
        }
    }
}
