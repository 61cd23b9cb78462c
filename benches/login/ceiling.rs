//! The directory ceiling: the bridge's own work for one login, driven
//! directly with ldap3 in its fastest honest form. The search runs as the
//! service account on a few shared connections, which ldap3 multiplexes,
//! and the bind on a connection of the worker's own that is opened once and
//! used for nothing but user binds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapConnAsync, Scope, SearchOptions};

use crate::directory::{PEOPLE, SERVICE_DN, SERVICE_PASSWORD};
use crate::measure::Worker;
use crate::workload::Workload;

/// How many connections the searches share.
const SEARCH_CONNECTIONS: usize = 4;

/// The password policy request control, which the bridge sends with every
/// user bind, so that the ceiling's binds are the same size.
const PASSWORD_POLICY_REQUEST: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

pub struct Ceiling {
    url: String,
    searchers: Vec<Ldap>,
    next: AtomicUsize,
}

pub struct CeilingWorker {
    ceiling: Arc<Ceiling>,
    binder: Ldap,
    workload: Arc<Workload>,
}

impl Ceiling {
    pub async fn connect(url: &str) -> Arc<Ceiling> {
        let mut searchers = Vec::new();
        for _ in 0..SEARCH_CONNECTIONS {
            let mut ldap = open(url).await;
            ldap.simple_bind(SERVICE_DN, SERVICE_PASSWORD).await.unwrap().success().expect("service bind");
            searchers.push(ldap);
        }
        Arc::new(Ceiling { url: url.to_owned(), searchers, next: AtomicUsize::new(0) })
    }

    pub async fn worker(self: &Arc<Self>, workload: &Arc<Workload>) -> CeilingWorker {
        CeilingWorker { ceiling: self.clone(), binder: open(&self.url).await, workload: workload.clone() }
    }

    fn searcher(&self) -> Ldap {
        self.searchers[self.next.fetch_add(1, Ordering::Relaxed) % self.searchers.len()].clone()
    }
}

impl Worker for CeilingWorker {
    async fn request(&mut self) -> Result<(), String> {
        let login = self.workload.next_login();
        let filter = format!("(&(objectClass=inetOrgPerson)(uid={}))", login.uid);
        let ldap3::SearchResult(entries, result) = self
            .ceiling
            .searcher()
            .with_search_options(SearchOptions::new().sizelimit(2))
            .search(PEOPLE, Scope::Subtree, &filter, vec!["1.1"])
            .await
            .map_err(|e| format!("search: {e}"))?;
        let [entry] = <[_; 1]>::try_from(entries).map_err(|found| {
            format!("search for {}: {} entries, rc {}", login.uid, found.len(), result.rc)
        })?;
        let dn = ldap3::SearchEntry::construct(entry).dn;
        let control = RawControl { ctype: PASSWORD_POLICY_REQUEST.into(), crit: false, val: None };
        let bound = self
            .binder
            .with_controls(control)
            .simple_bind(&dn, &login.password)
            .await
            .map_err(|e| format!("bind: {e}"))?;
        match (bound.rc, login.valid) {
            (0, true) | (49, false) => Ok(()),
            (rc, valid) => Err(format!("bind as {dn}: rc {rc}, expected {}", if valid { 0 } else { 49 })),
        }
    }
}

async fn open(url: &str) -> Ldap {
    let (connection, ldap) = LdapConnAsync::new(url).await.expect("connect to the directory");
    ldap3::drive!(connection);
    ldap
}
