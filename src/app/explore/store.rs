//! The browser's copy of the runs the page trained, in IndexedDB (through the `idb`
//! crate): each run's record is written the moment it lands, so a reload, a closed tab
//! or a crash loses at most the runs in flight. Three object stores: `runs` (key: the
//! run id; value: `StoredRun` as JSON), `plans` (key: the plan's key; value: the
//! `SweepPlan` as JSON), so the page can offer to resume a sweep it did not finish, and
//! `imports` (key: the sweep's name; value: `Imported` as JSON: the file's text, read
//! again with the same parser on every visit).
//!
//! Values are JSON text, the records' own format, so what is stored reads back with the
//! same code that reads `regnet sweep`'s files.

use idb::{
    Database, DatabaseEvent, Error, Factory, ObjectStore, ObjectStoreParams, Query, Transaction,
    TransactionMode,
};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::run::RunRecord;
use crate::sweep::plan::SweepPlan;

const DB_NAME: &str = "regnet-playground";
/// 2 added `imports`; opening runs the upgrade, which creates any store missing.
const DB_VERSION: u32 = 2;
const RUNS: &str = "runs";
const PLANS: &str = "plans";
const IMPORTS: &str = "imports";

/// One stored run: the sweep it belongs to and its record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredRun {
    /// The sweep's name as shown.
    pub sweep: String,
    /// The name it was trained under (its plan's `SPACE-KEY`) once the sweep is renamed,
    /// so the plan still finds its runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub record: RunRecord,
}

impl StoredRun {
    /// The plan's name of the sweep this run was trained for.
    pub fn plan_sweep(&self) -> &str {
        self.origin.as_deref().unwrap_or(&self.sweep)
    }
}

/// An imported sweep: the name it is shown by and the file's text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Imported {
    pub name: String,
    pub text: String,
}

/// What the store holds, read at start-up; `skipped` counts values it could not read
/// (written by a newer build, or damaged), which are left in place.
#[derive(Debug, Default)]
pub struct Stored {
    pub runs: Vec<StoredRun>,
    pub plans: Vec<SweepPlan>,
    pub imports: Vec<Imported>,
    pub skipped: usize,
}

/// An open store.
#[derive(Clone)]
pub struct Store {
    db: std::rc::Rc<Database>,
}

const FULL: &str = "the browser's storage is full: the runs stay on this page until it is closed; export them to keep them";

/// Words for an IndexedDB failure: a full disk says so.
fn explain(e: Error) -> String {
    let text = e.to_string();
    if text.contains("QuotaExceeded") {
        FULL.into()
    } else {
        format!("the browser's storage refused the write ({text}); export the runs to keep them")
    }
}

/// The stored runs of `sweep` in `runs` (the runs store of a transaction), with their
/// keys.
async fn runs_of(runs: &ObjectStore, sweep: &str) -> Result<Vec<(JsValue, StoredRun)>, String> {
    let keys = runs
        .get_all_keys(None, None)
        .map_err(explain)?
        .await
        .map_err(explain)?;
    let values = runs
        .get_all(None, None)
        .map_err(explain)?
        .await
        .map_err(explain)?;
    Ok(keys
        .into_iter()
        .zip(values)
        .filter_map(|(key, value)| {
            let run = serde_json::from_str::<StoredRun>(&value.as_string()?).ok()?;
            (run.sweep == sweep).then_some((key, run))
        })
        .collect())
}

/// Commits `tx` and waits for the end: an aborted transaction (a write over the quota
/// aborts at commit) is an error, a full disk said in words.
async fn finish(tx: Transaction) -> Result<(), String> {
    // A second handle on the transaction reads its error once the first is awaited.
    let raw = web_sys::IdbTransaction::from(tx);
    let done = Transaction::from(raw.clone())
        .commit()
        .map_err(explain)?
        .await
        .map_err(explain)?;
    if !done.is_aborted() {
        return Ok(());
    }
    let reason = raw.error().map(|e| e.name()).unwrap_or_default();
    Err(if reason == "QuotaExceededError" {
        FULL.into()
    } else {
        format!("the browser's storage dropped the change ({reason}); export the runs to keep them")
    })
}

impl Store {
    /// Opens (creating on first use) the page's database.
    pub async fn open() -> Result<Store, String> {
        let factory = Factory::new().map_err(|e| {
            format!(
                "this browser keeps no local storage here ({e}); runs last until the page closes"
            )
        })?;
        let mut request = factory
            .open(DB_NAME, Some(DB_VERSION))
            .map_err(|e| format!("could not open the browser's storage: {e}"))?;
        request.on_upgrade_needed(|event| {
            let Ok(db) = event.database() else { return };
            for name in [RUNS, PLANS, IMPORTS] {
                if !db.store_names().iter().any(|n| n == name) {
                    let _ = db.create_object_store(name, ObjectStoreParams::new());
                }
            }
        });
        let db = request
            .await
            .map_err(|e| format!("could not open the browser's storage: {e}"))?;
        Ok(Store {
            db: std::rc::Rc::new(db),
        })
    }

    async fn put(&self, store: &str, key: JsValue, value: String) -> Result<(), String> {
        let tx = self
            .db
            .transaction(&[store], TransactionMode::ReadWrite)
            .map_err(explain)?;
        let objects = tx.object_store(store).map_err(explain)?;
        objects
            .put(&JsValue::from_str(&value), Some(&key))
            .map_err(explain)?
            .await
            .map_err(explain)?;
        finish(tx).await
    }

    /// Keeps `run` (a later write of the same run id replaces it).
    pub async fn put_run(&self, run: &StoredRun) -> Result<(), String> {
        let text = serde_json::to_string(run).expect("a run serialises");
        let key = JsValue::from_f64(run.record.spec.id.0 as f64);
        self.put(RUNS, key, text).await
    }

    pub async fn put_plan(&self, plan: &SweepPlan) -> Result<(), String> {
        let text = serde_json::to_string(plan).expect("a plan serialises");
        self.put(PLANS, JsValue::from_str(&plan.key()), text).await
    }

    pub async fn put_import(&self, import: &Imported) -> Result<(), String> {
        let text = serde_json::to_string(import).expect("an import serialises");
        self.put(IMPORTS, JsValue::from_str(&import.name), text)
            .await
    }

    /// Forgets the imported sweep `name` (nothing when there is none).
    pub async fn delete_import(&self, name: &str) -> Result<(), String> {
        let tx = self
            .db
            .transaction(&[IMPORTS], TransactionMode::ReadWrite)
            .map_err(explain)?;
        tx.object_store(IMPORTS)
            .map_err(explain)?
            .delete(Query::Key(JsValue::from_str(name)))
            .map_err(explain)?
            .await
            .map_err(explain)?;
        finish(tx).await
    }

    async fn all(&self, store: &str) -> Result<Vec<String>, String> {
        let tx = self
            .db
            .transaction(&[store], TransactionMode::ReadOnly)
            .map_err(|e| e.to_string())?;
        let values = tx
            .object_store(store)
            .map_err(|e| e.to_string())?
            .get_all(None, None)
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        Ok(values.into_iter().filter_map(|v| v.as_string()).collect())
    }

    /// Everything stored, runs in id order (the order they started).
    pub async fn load(&self) -> Result<Stored, String> {
        let mut stored = Stored::default();
        for text in self.all(RUNS).await? {
            match serde_json::from_str::<StoredRun>(&text) {
                Ok(run) => stored.runs.push(run),
                Err(_) => stored.skipped += 1,
            }
        }
        stored.runs.sort_by_key(|r| r.record.spec.id);
        for text in self.all(PLANS).await? {
            match serde_json::from_str::<SweepPlan>(&text) {
                Ok(plan) => stored.plans.push(plan),
                Err(_) => stored.skipped += 1,
            }
        }
        for text in self.all(IMPORTS).await? {
            match serde_json::from_str::<Imported>(&text) {
                Ok(import) => stored.imports.push(import),
                Err(_) => stored.skipped += 1,
            }
        }
        Ok(stored)
    }

    /// Renames the sweep `old` to `new` (its runs, or its import), in one transaction:
    /// all or nothing.
    pub async fn rename_sweep(&self, old: &str, new: &str) -> Result<(), String> {
        let tx = self
            .db
            .transaction(&[RUNS, IMPORTS], TransactionMode::ReadWrite)
            .map_err(explain)?;
        let runs = tx.object_store(RUNS).map_err(explain)?;
        for (key, mut run) in runs_of(&runs, old).await? {
            run.origin.get_or_insert_with(|| old.to_string());
            run.sweep = new.to_string();
            let text = serde_json::to_string(&run).expect("a run serialises");
            runs.put(&JsValue::from_str(&text), Some(&key))
                .map_err(explain)?
                .await
                .map_err(explain)?;
        }
        let imports = tx.object_store(IMPORTS).map_err(explain)?;
        let old_key = JsValue::from_str(old);
        let import = imports
            .get(Query::Key(old_key.clone()))
            .map_err(explain)?
            .await
            .map_err(explain)?
            .and_then(|v| v.as_string())
            .and_then(|t| serde_json::from_str::<Imported>(&t).ok());
        if let Some(mut import) = import {
            import.name = new.to_string();
            let text = serde_json::to_string(&import).expect("an import serialises");
            imports
                .put(&JsValue::from_str(&text), Some(&JsValue::from_str(new)))
                .map_err(explain)?
                .await
                .map_err(explain)?;
            imports
                .delete(Query::Key(old_key))
                .map_err(explain)?
                .await
                .map_err(explain)?;
        }
        finish(tx).await
    }

    /// Deletes every stored run of `sweep` (in one transaction: all or none).
    pub async fn delete_sweep(&self, sweep: &str) -> Result<(), String> {
        let tx = self
            .db
            .transaction(&[RUNS], TransactionMode::ReadWrite)
            .map_err(explain)?;
        let runs = tx.object_store(RUNS).map_err(explain)?;
        for (key, _) in runs_of(&runs, sweep).await? {
            runs.delete(Query::Key(key))
                .map_err(explain)?
                .await
                .map_err(explain)?;
        }
        finish(tx).await
    }
}
