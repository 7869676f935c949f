//! The RegNet design-space playground: the design-space core shared by the web app
//! (`app`, wasm32 only) and the `regnet` command-line tool.

pub mod chart;
pub mod data;
pub mod design;
pub mod report;
pub mod url_params;

#[cfg(not(target_arch = "wasm32"))]
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod app;
