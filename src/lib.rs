//! The RegNet design-space playground: the design-space core shared by the web app
//! (`app`, wasm32 only), the training worker (`worker`) and the `regnet` command-line tool.

pub mod chart;
pub mod data;
pub mod design;
pub mod exercise;
pub mod explore;
pub mod fit_view;
pub mod lessons;
pub mod published_view;
pub mod report;
pub mod run;
pub mod site;
pub mod space;
pub mod stats;
pub mod sweep;
#[cfg(feature = "training")]
pub mod train;
pub mod url_params;
pub mod worker;

// The page only: the workers (built with `training`) leave it out, since its split
// points (app::lazy) export functions and import their loaders, which only the page's
// packaging resolves.
#[cfg(all(target_arch = "wasm32", not(feature = "training")))]
pub mod app;
