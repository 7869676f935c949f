//! Which of the site's three training worker programs a run goes to. The WebGPU worker
//! carries Burn's wgpu backend and no CPU backend; the threaded worker runs Burn's CPU
//! backend on every core, which needs a cross-origin isolated page (shared wasm
//! memory); the one-thread worker runs it on one thread anywhere. The page decides
//! before it starts a worker, so a CPU run never downloads the GPU stack and a GPU run
//! never downloads the CPU backend or waits for threads.

use super::spec::BackendChoice;

/// A training worker program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerKind {
    /// WebGPU only (`train_worker_loader.js`): where it finds no usable GPU it says so
    /// (`RunEvent::NoGpu`), and the page moves the run to a CPU worker.
    WebGpu,
    /// The CPU on every core (`train_cpu_loader.js`).
    Threaded,
    /// The CPU on one thread (`train_cpu1_loader.js`), for a page that is not isolated
    /// or whose threaded worker did not start.
    OneThread,
}

/// What the page knows about this browser when it picks a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Browser {
    /// WebGPU gave an adapter.
    pub webgpu: bool,
    /// `crossOriginIsolated`: the page may share wasm memory between workers.
    pub isolated: bool,
    /// WebGPU failed in this tab (no usable GPU, a lost device): the CPU from now on.
    pub gpu_failed: bool,
    /// The threaded worker failed to start in this tab: one thread from now on.
    pub threads_failed: bool,
}

impl Browser {
    /// The worker for a run that asked for `choice`: the WebGPU one unless the run will
    /// be on the CPU, else the threaded one where threads can start, else one thread.
    pub fn worker_for(self, choice: BackendChoice) -> WorkerKind {
        let on_cpu = choice == BackendChoice::Cpu || !self.webgpu || self.gpu_failed;
        if !on_cpu {
            WorkerKind::WebGpu
        } else {
            self.cpu_worker()
        }
    }

    /// The worker for a run on the CPU.
    pub fn cpu_worker(self) -> WorkerKind {
        if self.isolated && !self.threads_failed {
            WorkerKind::Threaded
        } else {
            WorkerKind::OneThread
        }
    }

    /// Why a CPU run has one thread, for the page to say (`threads_error`: why the
    /// threaded worker did not start, if it was tried).
    pub fn one_thread_reason(self, threads_error: Option<&str>) -> String {
        match threads_error {
            Some(e) if self.threads_failed => {
                format!("The CPU runs on one thread: the threaded worker did not start ({e}).")
            }
            _ => "The CPU runs on one thread: this page is not cross-origin isolated (its \
                  server sends no COOP/COEP headers), so its workers cannot share memory."
                .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BackendChoice::{Auto, Cpu, Wgpu};
    use WorkerKind::{OneThread, Threaded, WebGpu};

    fn browser(webgpu: bool, isolated: bool) -> Browser {
        Browser {
            webgpu,
            isolated,
            ..Browser::default()
        }
    }

    #[test]
    fn cpu_runs_go_to_the_threaded_worker_when_the_page_is_isolated() {
        assert_eq!(browser(true, true).worker_for(Cpu), Threaded);
        assert_eq!(browser(false, true).worker_for(Auto), Threaded);
        assert_eq!(browser(false, true).worker_for(Wgpu), Threaded);
        assert_eq!(browser(true, true).worker_for(Auto), WebGpu);
        assert_eq!(browser(true, true).worker_for(Wgpu), WebGpu);
    }

    #[test]
    fn without_isolation_or_after_a_failed_start_cpu_runs_get_one_thread() {
        for choice in [Auto, Cpu, Wgpu] {
            assert_eq!(browser(false, false).worker_for(choice), OneThread);
            let failed = Browser {
                threads_failed: true,
                ..browser(false, true)
            };
            assert_eq!(failed.worker_for(choice), OneThread);
        }
        assert_eq!(browser(true, false).worker_for(Cpu), OneThread);
        assert_eq!(
            browser(true, false).worker_for(Auto),
            WebGpu,
            "GPU runs need no isolation"
        );
    }

    #[test]
    fn a_failed_gpu_moves_auto_runs_to_the_threads() {
        let lost = Browser {
            gpu_failed: true,
            ..browser(true, true)
        };
        assert_eq!(lost.worker_for(Auto), Threaded);
        let lost_unisolated = Browser {
            isolated: false,
            ..lost
        };
        assert_eq!(lost_unisolated.worker_for(Wgpu), OneThread);
    }

    #[test]
    fn the_one_thread_reason_names_the_cause() {
        assert!(browser(false, false)
            .one_thread_reason(None)
            .contains("not cross-origin isolated"));
        let failed = Browser {
            threads_failed: true,
            ..browser(false, true)
        };
        assert!(failed
            .one_thread_reason(Some("no SharedArrayBuffer"))
            .contains("did not start (no SharedArrayBuffer)"));
    }
}
